//! Profile fields: canonical paths, transform names and kinds, warnings.

use super::*;

#[test]
fn unknown_canonical_field() {
    let src = with("\n[[profiles]]\nid = \"q\"\n[profiles.fields]\n\"basic.name\" = \"keep\"\n\"basic.nickname\" = \"keep\"\n");
    assert_one(
        &src,
        ErrorKind::UnknownField,
        "\"basic.nickname\"",
        "profiles[1].fields.\"basic.nickname\"",
    );
}

#[test]
fn unknown_transform() {
    let src = with("\n[[profiles]]\nid = \"q\"\nfields = { \"basic.name\" = \"blur\" }\n");
    assert_one(
        &src,
        ErrorKind::UnknownTransform,
        "\"blur\"",
        "profiles[1].fields.\"basic.name\"",
    );
}

#[test]
fn transforms_must_fit_the_field_kind() {
    let bad = [
        ("basic.name", "mask_id"),
        ("basic.uscc", "mask_name"),
        ("basic.registered_address", "mask_phone"),
        ("basic.contact_phone", "mask_card"),
        ("basic.legal_representative.name", "mask_address"),
        ("penalties[].amount_cny", "mask_id"),
    ];
    for (path, transform) in bad {
        let src = with(&format!(
            "\n[[profiles]]\nid = \"q\"\n[profiles.fields]\n\"{path}\" = \"{transform}\"\n"
        ));
        let needle = format!("\"{path}\" = ");
        assert_one(
            &src,
            ErrorKind::TransformKindMismatch,
            &needle,
            &format!("profiles[1].fields.\"{path}\""),
        );
    }
    let good = concat!(
        "\"basic.uscc\" = \"mask_id\"\n\"basic.legal_representative.id_number\" = \"mask_id\"\n",
        "\"basic.legal_representative.name\" = \"mask_name\"\n\"basic.contact_phone\" = \"mask_phone\"\n",
        "\"basic.bank_account\" = \"mask_card\"\n\"basic.registered_address\" = \"mask_address\"\n",
        "\"penalties[].amount_cny\" = \"hash\"\n\"score.value\" = \"drop\"\n\"basic.status\" = \"keep\"\n",
    );
    let src = with(&format!(
        "\n[[profiles]]\nid = \"q\"\n[profiles.fields]\n{good}"
    ));
    assert_eq!(errors(&src), []);
}

#[test]
fn keeping_personal_fields_is_a_warning() {
    let src = with("\n[[profiles]]\nid = \"q\"\nfields = { \"basic.legal_representative.id_number\" = \"keep\" }\n");
    let p = Policy::parse(&src, "policy.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.warnings().len(), 1);
    assert_eq!(p.warnings()[0].kind, ErrorKind::PersonalFieldKept);
    assert_eq!(
        p.warnings()[0].line,
        line_of(&src, "\"basic.legal_representative.id_number\" = ")
    );
}

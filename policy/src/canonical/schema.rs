//! Canonical field paths and their kinds.
//!
//! A path names a leaf of a response document: object keys joined by `.`,
//! array elements written `[]` (`penalties[].decision_no`). Report paths start
//! with the section name; score paths with `score.`; sanctions source paths
//! with `sanctions.sources[]`. Field profiles may only name paths listed here,
//! and each transform only applies to fields of a fitting [`FieldKind`].

/// What kind of value a canonical field holds; decides which masking
/// transforms make sense for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// Free text or a code that is not personal data.
    Text,
    /// A person's name (personal data).
    PersonName,
    /// A 居民身份证号码 (personal data).
    IdNumber,
    /// A 统一社会信用代码.
    Uscc,
    /// A phone number (personal data).
    Phone,
    /// A postal address.
    Address,
    /// A bank card or account number.
    CardNumber,
    /// A date or instant.
    Date,
    /// A number (amount, score value).
    Number,
}

impl FieldKind {
    /// Whether the field holds personal data that a profile must not `keep`
    /// unreviewed (used by validation warnings and the leak tests).
    pub fn is_personal(self) -> bool {
        matches!(
            self,
            FieldKind::PersonName | FieldKind::IdNumber | FieldKind::Phone | FieldKind::CardNumber
        )
    }
}

use FieldKind::*;

/// Every canonical leaf path with its kind.
pub const FIELDS: &[(&str, FieldKind)] = &[
    // basic
    ("basic.name", Text),
    ("basic.uscc", Uscc),
    ("basic.enterprise_type", Text),
    ("basic.status", Text),
    ("basic.legal_representative.name", PersonName),
    ("basic.legal_representative.id_number", IdNumber),
    ("basic.legal_representative.phone", Phone),
    ("basic.registered_capital_cny", Number),
    ("basic.established_on", Date),
    ("basic.registered_address", Address),
    ("basic.business_scope", Text),
    ("basic.registration_authority", Text),
    ("basic.contact_phone", Phone),
    ("basic.bank_account", CardNumber),
    // licenses
    ("licenses[].license_no", Text),
    ("licenses[].name", Text),
    ("licenses[].category", Text),
    ("licenses[].content", Text),
    ("licenses[].authority", Text),
    ("licenses[].decided_on", Date),
    ("licenses[].valid_from", Date),
    ("licenses[].valid_to", Date),
    // penalties
    ("penalties[].decision_no", Text),
    ("penalties[].penalty_type", Text),
    ("penalties[].basis", Text),
    ("penalties[].content", Text),
    ("penalties[].amount_cny", Number),
    ("penalties[].authority", Text),
    ("penalties[].decided_on", Date),
    ("penalties[].publish_until", Date),
    ("penalties[].legal_representative.name", PersonName),
    ("penalties[].legal_representative.id_number", IdNumber),
    ("penalties[].legal_representative.phone", Phone),
    // redlist
    ("redlist[].list_name", Text),
    ("redlist[].basis", Text),
    ("redlist[].authority", Text),
    ("redlist[].listed_on", Date),
    ("redlist[].expires_on", Date),
    ("redlist[].measures", Text),
    // blacklist
    ("blacklist[].list_name", Text),
    ("blacklist[].basis", Text),
    ("blacklist[].authority", Text),
    ("blacklist[].listed_on", Date),
    ("blacklist[].expires_on", Date),
    ("blacklist[].measures", Text),
    // dishonest
    ("dishonest[].case_no", Text),
    ("dishonest[].court", Text),
    ("dishonest[].obligation", Text),
    ("dishonest[].performance", Text),
    ("dishonest[].circumstances", Text),
    ("dishonest[].published_on", Date),
    ("dishonest[].legal_representative.name", PersonName),
    ("dishonest[].legal_representative.id_number", IdNumber),
    ("dishonest[].legal_representative.phone", Phone),
    // abnormal
    ("abnormal[].reason", Text),
    ("abnormal[].authority", Text),
    ("abnormal[].listed_on", Date),
    ("abnormal[].removed_on", Date),
    ("abnormal[].removal_reason", Text),
    // commitments
    ("commitments[].kind", Text),
    ("commitments[].content", Text),
    ("commitments[].made_on", Date),
    ("commitments[].status", Text),
    // repairs
    ("repairs[].repaired_record", Text),
    ("repairs[].kind", Text),
    ("repairs[].repaired_on", Date),
    ("repairs[].authority", Text),
    ("repairs[].result", Text),
    // evaluation
    ("evaluation.level", Text),
    ("evaluation.evaluated_on", Date),
    ("evaluation.evaluator", Text),
    ("evaluation.valid_until", Date),
    // person score (score endpoint)
    ("score.scheme", Text),
    ("score.value", Number),
    ("score.native_tier", Text),
    ("score.issued_at", Date),
    ("score.issuer", Text),
    ("score.common_tier", Text),
    ("score.home_tier", Text),
    // sanctions sources (sanctions endpoint)
    ("sanctions.sources[].platform", Text),
    ("sanctions.sources[].kind", Text),
    ("sanctions.sources[].list_name", Text),
    ("sanctions.sources[].basis", Text),
    ("sanctions.sources[].authority", Text),
    ("sanctions.sources[].listed_on", Date),
    ("sanctions.sources[].as_of", Date),
];

/// The kind of a canonical path, or `None` if the path is not canonical.
pub fn kind_of(path: &str) -> Option<FieldKind> {
    FIELDS.iter().find(|(p, _)| *p == path).map(|(_, k)| *k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn paths_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for (p, _) in FIELDS {
            assert!(seen.insert(*p), "duplicate path {p}");
            assert!(
                !p.is_empty() && !p.starts_with('.') && !p.ends_with('.'),
                "{p}"
            );
            assert!(!p.contains(".."), "{p}");
        }
    }

    #[test]
    fn every_report_section_has_fields() {
        for s in crate::canonical::Section::ALL {
            assert!(
                FIELDS.iter().any(|(p, _)| p.starts_with(s.as_str())),
                "section {s} has no canonical fields"
            );
        }
    }

    #[test]
    fn kind_lookup() {
        assert_eq!(
            kind_of("basic.legal_representative.id_number"),
            Some(IdNumber)
        );
        assert_eq!(kind_of("basic.nope"), None);
    }
}

//! String transforms for identifiers, phones, cards and pseudonyms. They
//! work on characters, never on byte offsets, and fall back to masking
//! everything when the input has an unexpected shape.

use ring::hmac;

/// Hex digits of the HMAC kept in a pseudonym.
const HASH_HEX_LEN: usize = 32;

/// Masks an ID number or USCC: 18 characters keep the first 6 and last 4
/// (`330203********1234`); 15-character legacy ID numbers keep the first 6
/// and last 3 (`330203******123`, hiding the whole birth date); any other
/// length becomes one `*` per character.
pub fn mask_id(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    match chars.len() {
        18 => keep_ends(&chars, 6, 4),
        15 => keep_ends(&chars, 6, 3),
        n => stars(n),
    }
}

/// Masks a phone number:
/// - mobile (11 digits starting with `1`, optionally after `+86`/`0086`/`86`
///   and with spaces or dashes): first 3 and last 4 (`138****5678`), the
///   prefix kept and separators dropped;
/// - landline with area code (`0574-87654321`, `021 12345678`,
///   `057487654321`, `(0574)87654321`, local digits grouped as in
///   `0574 8765 4321`): area code and last 4 (`0574-****4321`), any
///   extension dropped; the area code must have a valid shape (`010`,
///   `02x`, or four digits `03xx`–`09xx`);
/// - landline after a `+86`, `0086` or `86` country prefix
///   (`+86-574-87654321`, `+86 574 8765 4321`, `0086 21 12345678`): the
///   prefix is dropped and the trunk `0` supplied (`0574-****4321`); an
///   area code is then required;
/// - a bare local number of 7–8 digits: last 4 (`****4321`);
/// - anything else: one `*` per character.
pub fn mask_phone(s: &str) -> String {
    mobile(s)
        .or_else(|| landline(s))
        .unwrap_or_else(|| stars(s.chars().count()))
}

/// Masks a card or account number: spaces and dashes are dropped, then
/// numbers of 14 or more characters keep the first 6 and last 4; shorter
/// ones become all `*` (too little would stay hidden).
pub fn mask_card(s: &str) -> String {
    let chars: Vec<char> = s.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if chars.len() >= 14 {
        keep_ends(&chars, 6, 4)
    } else {
        stars(chars.len())
    }
}

/// A keyed pseudonym for `client`: `h:` followed by the first 32 hex
/// digits of HMAC-SHA256([`field_hash_key`]`(pseudonym_key, client)`,
/// `value`).
pub fn hash(pseudonym_key: &[u8], client: &str, value: &str) -> String {
    hash_with(&field_hash_key(pseudonym_key, client), value)
}

/// The key of one client's `hash` pseudonyms: HMAC-SHA256(`pseudonym_key`,
/// `"credgate field-hash v1" 0x00 client`). The audit log names subjects by
/// HMAC-SHA256(`pseudonym_key`, identifier); a field hash keyed by the bare
/// `pseudonym_key` would be a prefix of that, so a client could match the
/// pseudonyms in its answers against audit records and access logs, and
/// two clients could join their answers on them. A key per client (and
/// apart from the audit log's) keeps each client's pseudonyms stable for
/// that client and useless to anyone else.
pub fn field_hash_key(pseudonym_key: &[u8], client: &str) -> hmac::Key {
    let master = hmac::Key::new(hmac::HMAC_SHA256, pseudonym_key);
    let mut ctx = hmac::Context::with_key(&master);
    ctx.update(b"credgate field-hash v1\0");
    ctx.update(client.as_bytes());
    hmac::Key::new(hmac::HMAC_SHA256, ctx.sign().as_ref())
}

/// [`hash`] with a prepared key.
pub(crate) fn hash_with(key: &hmac::Key, value: &str) -> String {
    let tag = hmac::sign(key, value.as_bytes());
    let mut hexed = hex::encode(tag.as_ref());
    hexed.truncate(HASH_HEX_LEN);
    format!("h:{hexed}")
}

/// `n` asterisks.
pub(crate) fn stars(n: usize) -> String {
    "*".repeat(n)
}

fn keep_ends(chars: &[char], head: usize, tail: usize) -> String {
    let n = chars.len();
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&stars(n - head - tail));
    out.extend(&chars[n - tail..]);
    out
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn mobile(s: &str) -> Option<String> {
    let (prefix, rest) = ["+86", "0086", "86"]
        .iter()
        .find_map(|p| s.strip_prefix(p).map(|r| (*p, r)))
        .filter(|(_, r)| r.chars().filter(char::is_ascii_digit).count() == 11)
        .unwrap_or(("", s));
    let digits: String = rest.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if digits.len() != 11 || !all_digits(&digits) || !digits.starts_with('1') {
        return None;
    }
    Some(format!("{prefix}{}****{}", &digits[..3], &digits[7..]))
}

/// Country prefixes of China, longest first where one is a suffix of
/// another.
const COUNTRY_PREFIXES: [&str; 3] = ["+86", "0086", "86"];

/// A landline, written domestically or after a country prefix. The
/// domestic reading goes first: a bare `86…` of 7–8 digits is a local
/// number, not a prefixed one.
fn landline(s: &str) -> Option<String> {
    domestic(s, false).or_else(|| international(s))
}

/// A landline after a country prefix: the prefix is dropped and the trunk
/// `0` supplied (`+86-574-…` → `0574-…`; `+86 (0)574 …` and `+86 0574 …`
/// already hold it), then read as a domestic number with an area code.
fn international(s: &str) -> Option<String> {
    let rest = COUNTRY_PREFIXES.iter().find_map(|p| s.strip_prefix(p))?;
    let rest = rest.trim_start_matches([' ', '-']);
    let national = if let Some(r) = rest.strip_prefix("(0)") {
        format!("0{}", r.trim_start_matches([' ', '-']))
    } else if let Some(r) = rest.strip_prefix('(') {
        let r = r.strip_prefix('0').unwrap_or(r);
        format!("(0{r}")
    } else if rest.starts_with('0') {
        rest.to_owned()
    } else if rest.starts_with(|c: char| c.is_ascii_digit()) {
        format!("0{rest}")
    } else {
        return None;
    };
    domestic(&national, true)
}

/// A domestic landline: `(area)local`, `area local [extension]`, `area
/// grouped local digits`, all digits with the area code, or (unless
/// `need_area`) a bare local number.
fn domestic(s: &str, need_area: bool) -> Option<String> {
    let (area, sep, local) = if let Some(r) = s.strip_prefix('(') {
        let (area, rest) = r.split_once(')')?;
        if !valid_area(area) {
            return None;
        }
        (area, "-", local_number(&groups(rest))?)
    } else {
        let parts = groups(s);
        match parts.as_slice() {
            [all] if all.starts_with('0') && all_digits(all) && (10..=12).contains(&all.len()) => {
                let area_len = if matches!(all.as_bytes().get(1), Some(b'1' | b'2')) {
                    3
                } else {
                    4
                };
                let (area, local) = all.split_at(area_len);
                (area, "", local.to_owned())
            }
            [local] if !need_area => ("", "", (*local).to_owned()),
            [area, rest @ ..] if area.starts_with('0') && !rest.is_empty() => {
                let sep = if s.contains('-') { "-" } else { " " };
                (*area, sep, local_number(rest)?)
            }
            _ => return None,
        }
    };
    let area_ok = if area.is_empty() {
        !need_area
    } else {
        valid_area(area)
    };
    if !area_ok || !(7..=8).contains(&local.len()) || !all_digits(&local) {
        return None;
    }
    Some(format!(
        "{area}{sep}{}{}",
        stars(local.len() - 4),
        &local[local.len() - 4..]
    ))
}

/// The local number from the groups after an area code: one group of 7–8
/// digits, optionally followed by an extension (`87654321-808`), or
/// groups of digits that join to 7–8 digits (`8765 4321`, `123 4567`).
/// Anything else (grouped digits with an extension, too many digits) is
/// not read.
fn local_number(groups: &[&str]) -> Option<String> {
    match groups {
        [local] | [local, _] if (7..=8).contains(&local.len()) => Some((*local).to_owned()),
        _ => {
            let joined: String = groups.concat();
            (groups.iter().all(|g| all_digits(g)) && (7..=8).contains(&joined.len()))
                .then_some(joined)
        }
    }
}

/// The groups of `s` between spaces and dashes.
fn groups(s: &str) -> Vec<&str> {
    s.split(['-', ' ']).filter(|p| !p.is_empty()).collect()
}

/// Whether `area` is shaped like a Chinese area code: `010`, `02x`, or
/// `0` and three digits starting with 3–9.
fn valid_area(area: &str) -> bool {
    if !all_digits(area) || !area.starts_with('0') {
        return false;
    }
    match area.as_bytes().get(1) {
        Some(b'1') => area == "010",
        Some(b'2') => area.len() == 3,
        Some(b'3'..=b'9') => area.len() == 4,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(mask_id("330203199001011234"), "330203********1234");
        assert_eq!(mask_id("33020319900101123X"), "330203********123X");
        assert_eq!(mask_id("330203900101123"), "330203******123");
        assert_eq!(mask_id("12345"), "*****");
        assert_eq!(mask_id(""), "");
    }

    #[test]
    fn phones() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("138-1234-5678"), "138****5678");
        assert_eq!(mask_phone("+8613812345678"), "+86138****5678");
        assert_eq!(mask_phone("+86 138 1234 5678"), "+86138****5678");
        assert_eq!(mask_phone("0574-87654321"), "0574-****4321");
        assert_eq!(mask_phone("021 1234567"), "021 ***4567");
        assert_eq!(mask_phone("0574-87654321-808"), "0574-****4321");
        assert_eq!(mask_phone("057487654321"), "0574****4321");
        assert_eq!(mask_phone("02112345678"), "021****5678");
        assert_eq!(mask_phone("87654321"), "****4321");
        assert_eq!(mask_phone("23812345678"), "***********");
        assert_eq!(mask_phone("call me"), "*******");
        assert_eq!(mask_phone("电话13812345678"), "*************");
    }

    #[test]
    fn landlines_after_a_country_prefix_keep_area_code_and_last_4() {
        assert_eq!(mask_phone("+86-574-87654321"), "0574-****4321");
        assert_eq!(mask_phone("+86 574 8765 4321"), "0574 ****4321");
        assert_eq!(mask_phone("0086-574-87654321"), "0574-****4321");
        assert_eq!(mask_phone("86-574-87654321"), "0574-****4321");
        assert_eq!(mask_phone("+8657487654321"), "0574****4321");
        assert_eq!(mask_phone("+86 21 1234 5678"), "021 ****5678");
        assert_eq!(mask_phone("+86-10-12345678-808"), "010-****5678");
        assert_eq!(mask_phone("+86 (0)574 87654321"), "0574 ****4321");
        assert_eq!(mask_phone("+86 0574 87654321"), "0574 ****4321");
        assert_eq!(mask_phone("+86(574)87654321"), "0574-****4321");
        // Mobiles after a prefix are unchanged.
        assert_eq!(mask_phone("+86 138 1234 5678"), "+86138****5678");
        assert_eq!(mask_phone("0086-138-1234-5678"), "0086138****5678");
    }

    #[test]
    fn parenthesised_and_grouped_landlines_keep_area_code_and_last_4() {
        assert_eq!(mask_phone("(0574)87654321"), "0574-****4321");
        assert_eq!(mask_phone("(0574) 8765-4321"), "0574-****4321");
        assert_eq!(mask_phone("(021)1234567"), "021-***4567");
        assert_eq!(mask_phone("0574 8765 4321"), "0574 ****4321");
        assert_eq!(mask_phone("021 123 4567"), "021 ***4567");
        assert_eq!(mask_phone("0574-8765-4321"), "0574-****4321");
        // A bare 86… of 7–8 digits is a local number, not a prefix.
        assert_eq!(mask_phone("86123456"), "****3456");
    }

    #[test]
    fn landlines_that_do_not_parse_stay_fully_starred() {
        for s in [
            // A country prefix needs an area code.
            "+86 87654321",
            "+86-8765-4321",
            // Invalid area codes (01x other than 010; 5 digits; 3 digits 03–09).
            "+86-12-12345678",
            "+86-5748-7654321",
            "(1234)87654321",
            "(057)87654321",
            "0123-87654321",
            "0574-87654",
            // Grouped digits joining to too many, or with an extension.
            "0574 8765 4321 808",
            "+86 574 8765 43210",
            // Unclosed or empty parentheses, other prefixes.
            "(0574 87654321",
            "()87654321",
            "+87-574-87654321",
            "+86-574-8765432a",
        ] {
            assert_eq!(mask_phone(s), stars(s.chars().count()), "{s}");
        }
    }

    #[test]
    fn cards() {
        assert_eq!(mask_card("6222021234567890123"), "622202*********0123");
        assert_eq!(mask_card("6222 0212 3456 7890"), "622202******7890");
        assert_eq!(mask_card("1234567890123"), "*************");
    }

    #[test]
    fn hashes_are_keyed_and_short() {
        let a = hash(b"k1", "c", "330203199001011234");
        assert!(a.starts_with("h:"));
        assert_eq!(a.len(), 2 + 32);
        assert!(a[2..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a, hash(b"k1", "c", "330203199001011234"));
        assert_ne!(a, hash(b"k2", "c", "330203199001011234"));
        assert_ne!(a, hash(b"k1", "c", "330203199001011235"));
    }
}

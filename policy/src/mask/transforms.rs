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
///   `057487654321`): area code and last 4 (`0574-****4321`), any
///   extension dropped;
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

fn landline(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split(['-', ' ']).filter(|p| !p.is_empty()).collect();
    let (area, sep, local) = match parts.as_slice() {
        [area, local] | [area, local, _] if area.starts_with('0') => {
            let sep = if s.contains('-') { "-" } else { " " };
            (*area, sep, *local)
        }
        [all] if all.starts_with('0') && all_digits(all) && (10..=12).contains(&all.len()) => {
            let area_len = if matches!(all.as_bytes().get(1), Some(b'1' | b'2')) {
                3
            } else {
                4
            };
            let (area, local) = all.split_at(area_len);
            (area, "", local)
        }
        [local] => ("", "", *local),
        _ => return None,
    };
    let area_ok = area.is_empty() || ((3..=4).contains(&area.len()) && all_digits(area));
    if !area_ok || !(7..=8).contains(&local.len()) || !all_digits(local) {
        return None;
    }
    Some(format!(
        "{area}{sep}{}{}",
        stars(local.len() - 4),
        &local[local.len() - 4..]
    ))
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

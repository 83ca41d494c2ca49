//! Shared text handling for fixed-length identifiers: counting characters
//! (never bytes) and normalising ASCII lower case to upper case.

use crate::IdError;

/// Turns `s` into exactly `N` upper-case ASCII bytes.
///
/// Length is counted in characters so multi-byte input yields
/// [`IdError::WrongLength`] or [`IdError::BadCharacter`], never a panic or a
/// split character. Surrounding whitespace is not trimmed: it is a bad
/// character (or a wrong length).
pub(crate) fn normalise<const N: usize>(s: &str) -> Result<[u8; N], IdError> {
    let found = s.chars().count();
    if found != N {
        return Err(IdError::WrongLength { expected: N, found });
    }
    let mut out = [0u8; N];
    for (i, (slot, ch)) in out.iter_mut().zip(s.chars()).enumerate() {
        if !ch.is_ascii() {
            return Err(IdError::BadCharacter { position: i + 1 });
        }
        // `ch` is ASCII, so its code point fits in one byte.
        *slot = ch.to_ascii_uppercase() as u8;
    }
    Ok(out)
}

/// Returns the string form of bytes that are ASCII by construction (every
/// caller passes bytes produced by [`normalise`] and checked against an
/// ASCII alphabet), without a fallible UTF-8 conversion.
pub(crate) fn ascii_string(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_characters_not_bytes() {
        // Six two-byte characters: 12 bytes, 6 characters.
        assert_eq!(
            normalise::<12>("éééééé"),
            Err(IdError::WrongLength {
                expected: 12,
                found: 6
            })
        );
        assert_eq!(
            normalise::<6>("ab宁cde"),
            Err(IdError::BadCharacter { position: 3 })
        );
    }

    #[test]
    fn upper_cases_ascii() {
        assert_eq!(normalise::<3>("aB9"), Ok(*b"AB9"));
        assert_eq!(ascii_string(b"AB9"), "AB9");
    }
}

//! The subject identifier carried by a token, kept out of logs.

/// A subject identifier (USCC or ID number) as granted by a token.
///
/// `Debug` and `Display` print `[redacted]`: the raw identifier is personal data and
/// must never reach a log, an error or an audit record. Use [`SubjectId::expose`] when
/// the value itself is needed (comparison, pseudonymisation).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SubjectId(String);

// === impl SubjectId ===

impl SubjectId {
    /// Wraps an identifier, normalising it (see [`normalize_subject`]).
    pub fn new(raw: &str) -> Self {
        Self(normalize_subject(raw))
    }

    /// The normalised identifier. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether this identifier equals `other` after normalisation of both.
    pub fn matches(&self, other: &str) -> bool {
        self.0.len() == other.len()
            && self
                .0
                .bytes()
                .zip(other.bytes())
                .all(|(a, b)| a == b.to_ascii_uppercase())
    }
}

impl std::fmt::Debug for SubjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubjectId([redacted])")
    }
}

impl std::fmt::Display for SubjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Normalises a subject identifier for comparison: ASCII letters to upper case.
///
/// That turns a lower-case USCC into its canonical form (SPEC §3) and an ID number's
/// trailing check `x` into `X`; nothing else changes (no trimming: a token whose `sub`
/// carries spaces does not match).
pub fn normalize_subject(raw: &str) -> String {
    raw.to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_redacts() {
        let s = SubjectId::new("91330200mA2AAAAA1x");
        assert_eq!(s.expose(), "91330200MA2AAAAA1X");
        assert!(s.matches("91330200ma2aaaaa1X"));
        assert!(!s.matches("91330200MA2AAAAA1"));
        assert!(!s.matches(" 91330200MA2AAAAA1X"));
        assert_eq!(format!("{s} {s:?}"), "[redacted] SubjectId([redacted])");
        let id = SubjectId::new("33020319900101123x");
        assert!(id.matches("33020319900101123X"));
    }
}

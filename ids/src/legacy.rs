//! [`LegacyCodes`]: the configured allow-list of pre-standard pilot USCCs.

use std::collections::BTreeSet;

use crate::uscc::{classify, Checked};
use crate::IdError;

/// The set of legacy pilot codes (normalised to upper case) that
/// [`Uscc::parse`](crate::Uscc::parse) accepts although they fail the
/// position-18 check.
///
/// Every entry must have exactly the legacy shape: structurally valid,
/// failing the mod-31 check, passing the embedded 组织机构代码 check. A
/// standard valid code or garbage in the list is a configuration error,
/// so a typo cannot silently open the gate to malformed codes.
///
/// `Debug` shows only the number of entries.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct LegacyCodes {
    codes: BTreeSet<String>,
}

// === impl LegacyCodes ===

impl LegacyCodes {
    /// Validates and collects the entries (lower case accepted).
    ///
    /// Errors are [`IdError::InvalidLegacyEntry`] naming the 0-based index of
    /// the first bad entry; a standard valid code is reported with reason
    /// [`IdError::NotLegacyCode`]. Duplicates are accepted and collapse.
    pub fn new<I, S>(entries: I) -> Result<LegacyCodes, IdError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut codes = BTreeSet::new();
        for (index, entry) in entries.into_iter().enumerate() {
            let invalid = |reason| IdError::InvalidLegacyEntry {
                index,
                reason: Box::new(reason),
            };
            match classify(entry.as_ref()).map_err(invalid)? {
                Checked::Legacy(code) => {
                    codes.insert(code.into_string());
                }
                Checked::Standard(_) => return Err(invalid(IdError::NotLegacyCode)),
            }
        }
        Ok(LegacyCodes { codes })
    }

    /// An empty allow-list: no legacy code is accepted.
    pub fn empty() -> LegacyCodes {
        LegacyCodes::default()
    }

    /// Whether `code` (already normalised to upper case) is listed.
    pub fn contains(&self, code: &str) -> bool {
        self.codes.contains(code)
    }

    /// Number of listed codes.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether no code is listed.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// The listed codes, normalised, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.codes.iter().map(String::as_str)
    }
}

impl std::fmt::Debug for LegacyCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegacyCodes")
            .field("len", &self.codes.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEGACY: &str = "91350100M0001TGQXM";

    #[test]
    fn accepts_legacy_shape_and_normalises() {
        let list = LegacyCodes::new(["91350100m0001tgqxm", LEGACY]).unwrap();
        assert_eq!(list.len(), 1);
        assert!(list.contains(LEGACY));
        assert_eq!(list.iter().collect::<Vec<_>>(), vec![LEGACY]);
        assert!(!list.is_empty());
        assert!(LegacyCodes::empty().is_empty());
    }

    #[test]
    fn rejects_standard_code() {
        let err = LegacyCodes::new([LEGACY, "91310110666007217T"]).unwrap_err();
        assert_eq!(
            err,
            IdError::InvalidLegacyEntry {
                index: 1,
                reason: Box::new(IdError::NotLegacyCode)
            }
        );
    }

    #[test]
    fn rejects_garbage_without_echoing_it() {
        let err = LegacyCodes::new(["not a code"]).unwrap_err();
        assert!(matches!(
            &err,
            IdError::InvalidLegacyEntry { index: 0, reason } if matches!(**reason, IdError::WrongLength { .. })
        ));
        // Fails both checks: a plain bad code, not a legacy one.
        let err = LegacyCodes::new(["91350100M0001TGQ1M"]).unwrap_err();
        assert_eq!(
            err,
            IdError::InvalidLegacyEntry {
                index: 0,
                reason: Box::new(IdError::BadCheckCharacter { position: 18 })
            }
        );
        assert!(!err.to_string().contains("91350100"));
    }

    #[test]
    fn debug_hides_codes() {
        let list = LegacyCodes::new([LEGACY]).unwrap();
        let debug = format!("{list:?}");
        assert!(!debug.contains("9135"), "{debug}");
    }
}

//! Check-character algorithms for the identifiers the generator mints
//! (SPEC §3), delegated to `credgate-ids` so that the sim and the gateway
//! can never disagree about what is valid.

use credgate_ids::{IdNumber, Uscc};

/// Characters allowed in a 统一社会信用代码, in value order.
pub(crate) const USCC_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// GB 32100 check character over the first 17 characters.
pub(crate) fn uscc_check(first17: &str) -> Option<char> {
    Uscc::compute_check(first17)
}

/// GB 11643 (ISO 7064 MOD 11-2) check character over 17 digits.
pub(crate) fn id_check(first17: &str) -> Option<char> {
    IdNumber::compute_check(first17)
}

/// GB 11714 组织机构代码 check character over the 8-character body.
pub(crate) fn org_check(body8: &str) -> Option<char> {
    Uscc::compute_org_check(body8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes() {
        // The SPEC's legacy example: mod-31 fails, org-code check passes.
        let legacy = "91350100M0001TGQXM";
        assert_ne!(uscc_check(&legacy[..17]), Some('M'));
        assert_eq!(org_check(&legacy[8..16]), Some('X'));
        // GB 11643's published example.
        assert_eq!(id_check("11010519491231002"), Some('X'));
        assert_eq!(uscc_check("91350100M000100Y4"), Some('3'));
        assert_eq!(uscc_check("short"), None);
        assert_eq!(id_check("1101051949123100A"), None);
    }
}

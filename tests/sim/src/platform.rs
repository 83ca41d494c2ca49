//! The four simulated platforms, the regions they own and their formats.

/// Which simulated platform (and so which wire format).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PlatformId {
    /// 信用宁波, city platform for `3302`, adapter `ningbo-v1`.
    Ningbo,
    /// 信用浙江, province platform for all `33`, adapter `zhejiang-v2`.
    Zhejiang,
    /// 杭州, peer city for `3301`, adapter `hangzhou-v1`.
    Hangzhou,
    /// 厦门, peer city for `3502`, adapter `xiamen-v1`.
    Xiamen,
}

/// A platform's static description.
#[derive(Clone, Debug, PartialEq)]
pub struct PlatformSpec {
    /// Which platform.
    pub id: PlatformId,
    /// Configuration name (`xinyong-ningbo`, …).
    pub name: &'static str,
    /// Display name (信用宁波, …).
    pub display_name: &'static str,
    /// `city`, `province` or `peer`.
    pub kind: &'static str,
    /// Division-code prefixes the platform serves.
    pub regions: &'static [&'static str],
    /// The credgate adapter for its wire format.
    pub adapter: &'static str,
    /// Native score scheme id, if the platform issues one.
    pub scheme: Option<&'static str>,
    /// Inclusive range of the native score, if any.
    pub score_range: Option<(u32, u32)>,
}

impl PlatformId {
    /// All platforms, in a fixed order.
    pub const ALL: [PlatformId; 4] = [
        PlatformId::Ningbo,
        PlatformId::Zhejiang,
        PlatformId::Hangzhou,
        PlatformId::Xiamen,
    ];

    /// The platform's static description.
    pub fn spec(self) -> PlatformSpec {
        match self {
            PlatformId::Ningbo => PlatformSpec {
                id: self,
                name: "xinyong-ningbo",
                display_name: "信用宁波",
                kind: "city",
                regions: &["3302"],
                adapter: "ningbo-v1",
                scheme: Some("tianyi"),
                score_range: Some((0, 200)),
            },
            PlatformId::Zhejiang => PlatformSpec {
                id: self,
                name: "xinyong-zhejiang",
                display_name: "信用浙江",
                kind: "province",
                regions: &["33"],
                adapter: "zhejiang-v2",
                scheme: None,
                score_range: None,
            },
            PlatformId::Hangzhou => PlatformSpec {
                id: self,
                name: "hangzhou",
                display_name: "杭州",
                kind: "peer",
                regions: &["3301"],
                adapter: "hangzhou-v1",
                scheme: Some("qianjiang"),
                score_range: Some((0, 1000)),
            },
            PlatformId::Xiamen => PlatformSpec {
                id: self,
                name: "xiamen",
                display_name: "厦门",
                kind: "peer",
                regions: &["3502"],
                adapter: "xiamen-v1",
                scheme: Some("bailu"),
                score_range: Some((300, 900)),
            },
        }
    }

    /// The configuration name.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Looks a platform up by configuration name.
    pub fn from_name(name: &str) -> Option<PlatformId> {
        PlatformId::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The platform that owns a division code: the longest matching region
    /// prefix (`None` when no platform serves it).
    pub fn owner_of(division: &str) -> Option<PlatformId> {
        PlatformId::ALL
            .into_iter()
            .flat_map(|p| p.spec().regions.iter().map(move |r| (p, *r)))
            .filter(|(_, r)| division.starts_with(r))
            .max_by_key(|(_, r)| r.len())
            .map(|(p, _)| p)
    }

    /// Whether this platform holds the records of a subject from `division`:
    /// its owner does, and the province holds every `33` subject too.
    pub fn holds_region(self, division: &str) -> bool {
        self.spec().regions.iter().any(|r| division.starts_with(r))
    }
}

/// The four platforms' descriptions.
pub fn platforms() -> Vec<PlatformSpec> {
    PlatformId::ALL.into_iter().map(PlatformId::spec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_owner() {
        assert_eq!(PlatformId::owner_of("330203"), Some(PlatformId::Ningbo));
        assert_eq!(PlatformId::owner_of("330103"), Some(PlatformId::Hangzhou));
        assert_eq!(PlatformId::owner_of("330903"), Some(PlatformId::Zhejiang));
        assert_eq!(PlatformId::owner_of("350206"), Some(PlatformId::Xiamen));
        assert_eq!(PlatformId::owner_of("310107"), None);
        assert!(PlatformId::Zhejiang.holds_region("330203"));
        assert!(!PlatformId::Ningbo.holds_region("330102"));
        assert_eq!(
            PlatformId::from_name("hangzhou"),
            Some(PlatformId::Hangzhou)
        );
    }
}

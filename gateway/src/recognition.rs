//! Score recognition (信用分互认, SPEC §7): a native score is placed in its
//! scheme's native tier by explicit, configured boundaries; the native tier
//! maps onto a common five-level scale; the common level maps to the
//! caller's home scheme's tier name. Scores are never converted
//! arithmetically between schemes.

use serde::Deserialize;

/// The common scale, best first (level 1 … level 5).
pub const COMMON_TIERS: [&str; 5] = ["excellent", "good", "medium", "fair", "poor"];

/// One native scheme (天一分, 钱江分, 白鹭分 …).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemeConfig {
    /// Scheme id as platforms report it (`tianyi`, `qianjiang`, `bailu`).
    pub id: String,
    /// Display name (e.g. 钱江分).
    pub name: String,
    /// Lowest valid value (inclusive).
    pub min: f64,
    /// Highest valid value (inclusive).
    pub max: f64,
    /// Native tiers, each with explicit bounds and its common level.
    pub tiers: Vec<TierConfig>,
}

/// One native tier: `[from, to]` with explicit inclusivity on both sides.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierConfig {
    /// The scheme's own name for the tier.
    pub name: String,
    /// Lower bound.
    pub from: f64,
    /// Whether `from` itself belongs to this tier.
    pub from_inclusive: bool,
    /// Upper bound.
    pub to: f64,
    /// Whether `to` itself belongs to this tier.
    pub to_inclusive: bool,
    /// Level on the common scale, 1 (best) to 5.
    pub common: u8,
}

impl TierConfig {
    fn contains(&self, v: f64) -> bool {
        let lo = if self.from_inclusive {
            v >= self.from
        } else {
            v > self.from
        };
        let hi = if self.to_inclusive {
            v <= self.to
        } else {
            v < self.to
        };
        lo && hi
    }
}

/// A score placed on the native and common scales.
#[derive(Clone, Debug, PartialEq)]
pub struct Recognized {
    /// The native tier's name.
    pub native_tier: String,
    /// Common level, 1–5.
    pub common_level: u8,
    /// The common level's name.
    pub common_tier: &'static str,
    /// The caller's home scheme's tier name for that common level, when the
    /// caller has a home scheme that maps a tier to that level.
    pub home_tier: Option<String>,
}

/// Why a value could not be recognised.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RecognitionError {
    /// The platform reported a scheme credgate is not configured for.
    #[error("unknown score scheme")]
    UnknownScheme,
    /// The value is outside the scheme's range: an upstream error, not a tier.
    #[error("score outside the scheme's range")]
    OutOfRange,
}

/// Every configured scheme.
#[derive(Clone, Debug, Default)]
pub struct Schemes {
    schemes: Vec<SchemeConfig>,
}

impl Schemes {
    /// Validates the schemes as a whole: every error, with its location.
    pub fn new(schemes: Vec<SchemeConfig>) -> Result<Schemes, Vec<String>> {
        let mut errs = Vec::new();
        let mut ids = std::collections::HashSet::new();
        for (i, s) in schemes.iter().enumerate() {
            let at = format!("score_schemes[{i}] ({})", s.id);
            if !ids.insert(s.id.as_str()) {
                errs.push(format!("{at}: duplicate scheme id"));
            }
            if s.min.partial_cmp(&s.max) != Some(std::cmp::Ordering::Less) {
                errs.push(format!("{at}: min must be below max"));
            }
            if s.tiers.is_empty() {
                errs.push(format!("{at}: no tiers"));
            }
            for (j, t) in s.tiers.iter().enumerate() {
                if !(1..=5).contains(&t.common) {
                    errs.push(format!("{at}.tiers[{j}]: common level must be 1–5"));
                }
                if t.from > t.to {
                    errs.push(format!("{at}.tiers[{j}]: from is above to"));
                }
            }
            // Coverage: every boundary and a point inside every gap between
            // consecutive boundaries must fall in exactly one tier.
            let mut points: Vec<f64> = vec![s.min, s.max];
            for t in &s.tiers {
                points.push(t.from);
                points.push(t.to);
            }
            points.retain(|p| *p >= s.min && *p <= s.max);
            points.sort_by(f64::total_cmp);
            points.dedup();
            let mut probes = points.clone();
            for w in points.windows(2) {
                probes.push((w[0] + w[1]) / 2.0);
            }
            for p in probes {
                let n = s.tiers.iter().filter(|t| t.contains(p)).count();
                if n != 1 {
                    errs.push(format!(
                        "{at}: value {p} falls in {n} tiers (tiers must cover min..=max exactly once)"
                    ));
                }
            }
        }
        if errs.is_empty() {
            Ok(Schemes { schemes })
        } else {
            Err(errs)
        }
    }

    /// A scheme by id.
    pub fn get(&self, id: &str) -> Option<&SchemeConfig> {
        self.schemes.iter().find(|s| s.id == id)
    }

    /// Places `value` of scheme `scheme` and names the caller's home tier.
    pub fn recognize(
        &self,
        scheme: &str,
        value: f64,
        home_scheme: Option<&str>,
    ) -> Result<Recognized, RecognitionError> {
        let s = self.get(scheme).ok_or(RecognitionError::UnknownScheme)?;
        if !value.is_finite() || value < s.min || value > s.max {
            return Err(RecognitionError::OutOfRange);
        }
        let tier = s
            .tiers
            .iter()
            .find(|t| t.contains(value))
            .ok_or(RecognitionError::OutOfRange)?;
        let level = tier.common;
        let home_tier = home_scheme
            .and_then(|h| self.get(h))
            .and_then(|h| h.tiers.iter().find(|t| t.common == level))
            .map(|t| t.name.clone());
        Ok(Recognized {
            native_tier: tier.name.clone(),
            common_level: level,
            common_tier: COMMON_TIERS[usize::from(level.clamp(1, 5) - 1)],
            home_tier,
        })
    }
}

/// The demo's schemes: 钱江分 as published (0–1000; tiers below 550,
/// 550–600, 600–700, 700–750, above 750) and illustrative scales for 天一分
/// and 白鹭分. Written into the demo's `gateway.toml`.
pub const DEMO_SCHEMES_TOML: &str = r#"
[[score_schemes]]
id = "qianjiang"
name = "钱江分"
min = 0
max = 1000
tiers = [
  { name = "较差", from = 0,   from_inclusive = true,  to = 550,  to_inclusive = false, common = 5 },
  { name = "中等", from = 550, from_inclusive = true,  to = 600,  to_inclusive = false, common = 4 },
  { name = "良好", from = 600, from_inclusive = true,  to = 700,  to_inclusive = false, common = 3 },
  { name = "优秀", from = 700, from_inclusive = true,  to = 750,  to_inclusive = true,  common = 2 },
  { name = "极好", from = 750, from_inclusive = false, to = 1000, to_inclusive = true,  common = 1 },
]

[[score_schemes]]
id = "tianyi"
name = "天一分"
min = 0
max = 200
tiers = [
  { name = "待提升", from = 0,   from_inclusive = true, to = 60,  to_inclusive = false, common = 5 },
  { name = "一般",   from = 60,  from_inclusive = true, to = 90,  to_inclusive = false, common = 4 },
  { name = "良好",   from = 90,  from_inclusive = true, to = 120, to_inclusive = false, common = 3 },
  { name = "优秀",   from = 120, from_inclusive = true, to = 150, to_inclusive = false, common = 2 },
  { name = "卓越",   from = 150, from_inclusive = true, to = 200, to_inclusive = true,  common = 1 },
]

[[score_schemes]]
id = "bailu"
name = "白鹭分"
min = 300
max = 900
tiers = [
  { name = "较差", from = 300, from_inclusive = true, to = 500, to_inclusive = false, common = 5 },
  { name = "一般", from = 500, from_inclusive = true, to = 600, to_inclusive = false, common = 4 },
  { name = "良好", from = 600, from_inclusive = true, to = 700, to_inclusive = false, common = 3 },
  { name = "优秀", from = 700, from_inclusive = true, to = 800, to_inclusive = false, common = 2 },
  { name = "极好", from = 800, from_inclusive = true, to = 900, to_inclusive = true,  common = 1 },
]
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Doc {
        score_schemes: Vec<SchemeConfig>,
    }

    fn demo() -> Schemes {
        let d: Doc = toml::from_str(DEMO_SCHEMES_TOML).unwrap();
        Schemes::new(d.score_schemes).unwrap()
    }

    #[test]
    fn qianjiang_boundaries_on_both_sides() {
        let s = demo();
        let tier = |v: f64| s.recognize("qianjiang", v, None).unwrap();
        let cases = [
            (0.0, "较差", 5),
            (549.0, "较差", 5),
            (549.999, "较差", 5),
            (550.0, "中等", 4),
            (599.0, "中等", 4),
            (600.0, "良好", 3),
            (699.0, "良好", 3),
            (700.0, "优秀", 2),
            (750.0, "优秀", 2),
            (750.001, "极好", 1),
            (751.0, "极好", 1),
            (1000.0, "极好", 1),
        ];
        for (v, name, level) in cases {
            let r = tier(v);
            assert_eq!(
                (r.native_tier.as_str(), r.common_level),
                (name, level),
                "value {v}"
            );
        }
    }

    #[test]
    fn out_of_range_is_an_error_not_a_tier() {
        let s = demo();
        for v in [-1.0, 1000.5, f64::NAN, f64::INFINITY] {
            assert_eq!(
                s.recognize("qianjiang", v, None),
                Err(RecognitionError::OutOfRange)
            );
        }
        assert_eq!(
            s.recognize("bailu", 299.0, None),
            Err(RecognitionError::OutOfRange)
        );
        assert_eq!(
            s.recognize("nope", 1.0, None),
            Err(RecognitionError::UnknownScheme)
        );
    }

    #[test]
    fn home_tier_is_by_level_never_by_arithmetic() {
        let s = demo();
        // 天一分 130 is 优秀 (level 2); in 钱江分 terms level 2 is 优秀 too,
        // though 130 on a 0–1000 scale would be 较差.
        let r = s.recognize("tianyi", 130.0, Some("qianjiang")).unwrap();
        assert_eq!(r.common_level, 2);
        assert_eq!(r.home_tier.as_deref(), Some("优秀"));
        // 钱江分 560 (中等, level 4) seen from Ningbo is 天一分 一般.
        let r = s.recognize("qianjiang", 560.0, Some("tianyi")).unwrap();
        assert_eq!(r.home_tier.as_deref(), Some("一般"));
        assert_eq!(r.common_tier, "fair");
        // No home scheme: no home tier.
        assert_eq!(s.recognize("bailu", 850.0, None).unwrap().home_tier, None);
    }

    #[test]
    fn every_demo_boundary_of_every_scheme_is_checked_on_both_sides() {
        let s = demo();
        for scheme in &s.schemes {
            for t in &scheme.tiers {
                for (edge, inclusive) in [(t.from, t.from_inclusive), (t.to, t.to_inclusive)] {
                    let r = s.recognize(&scheme.id, edge, None).unwrap();
                    assert_eq!(r.native_tier == t.name, inclusive, "{} {edge}", scheme.id);
                    for v in [edge - 0.5, edge + 0.5] {
                        if v >= scheme.min && v <= scheme.max {
                            let r = s.recognize(&scheme.id, v, None).unwrap();
                            let expect = t.contains(v);
                            assert_eq!(r.native_tier == t.name, expect, "{} {v}", scheme.id);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn gaps_and_overlaps_are_rejected() {
        let mut d: Doc = toml::from_str(DEMO_SCHEMES_TOML).unwrap();
        d.score_schemes[0].tiers[1].from_inclusive = false; // 550 in no tier
        d.score_schemes[1].tiers[0].to_inclusive = true; // 60 in two tiers
        let errs = Schemes::new(d.score_schemes).unwrap_err();
        assert!(
            errs.iter()
                .any(|e| e.contains("qianjiang") && e.contains("550")),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.contains("tianyi") && e.contains("60")),
            "{errs:?}"
        );
    }
}

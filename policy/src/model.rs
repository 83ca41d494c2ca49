//! The policy file as written: serde structs mirroring the TOML, with the
//! source span of every value that validation may complain about.
//!
//! Enumerated values (endpoints, kinds, transforms, sections) are kept as
//! strings here so that a typo is reported together with every other
//! problem instead of aborting the parse; [`crate::Policy::parse`]
//! validates this tree into a [`crate::Policy`].
//!
//! ```toml
//! version = 1
//! [settings]
//! legacy_codes = ["91350100M0001TGQXM"]
//!
//! [[purposes]]
//! code = "loan_underwriting"
//!
//! [[scopes]]
//! id = "enterprise.report"
//! endpoint = "enterprise_report"
//! sections = ["basic", "penalties"]
//!
//! [[issuers]]
//! id = "demo-issuer"
//! public_key_file = "certs/authz/issuer.pub"
//!
//! [[profiles]]
//! id = "bank"
//! fields = { "basic.name" = "keep", "basic.legal_representative.name" = "mask_name" }
//!
//! [[clients]]
//! id = "bank-nb"
//! display_name = "宁波示例银行"
//! kind = "bank"
//! profile = "bank"
//! match = { uri_san = "spiffe://credgate.dev/client/bank-nb" }
//! rate_limit = { per_second = 10, burst = 20 }
//!   [[clients.grants]]
//!   scope = "enterprise.report"
//!   purposes = ["loan_underwriting"]
//!   authorization = "required"
//! ```

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

/// A list of strings, each with its span, the list itself spanned too.
pub type SpannedList = Spanned<Vec<Spanned<String>>>;

/// The whole policy file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// Format version; must be `1`.
    pub version: Spanned<i64>,
    /// Global settings (optional table).
    #[serde(default)]
    pub settings: Option<SettingsDef>,
    /// Declared purposes (`[[purposes]]`).
    #[serde(default)]
    pub purposes: Vec<Spanned<PurposeDef>>,
    /// Declared scopes (`[[scopes]]`).
    #[serde(default)]
    pub scopes: Vec<Spanned<ScopeDef>>,
    /// Trusted subject-authorization issuers (`[[issuers]]`).
    #[serde(default)]
    pub issuers: Vec<Spanned<IssuerDef>>,
    /// Field profiles (`[[profiles]]`).
    #[serde(default)]
    pub profiles: Vec<Spanned<ProfileDef>>,
    /// Clients (`[[clients]]`).
    #[serde(default)]
    pub clients: Vec<Spanned<ClientDef>>,
}

/// `[settings]`: policy-wide settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsDef {
    /// Pre-standard USCCs that are accepted although their check character
    /// fails (SPEC §3). Lower case is normalised to upper case.
    #[serde(default)]
    pub legacy_codes: Vec<Spanned<String>>,
}

/// `[[purposes]]`: a purpose a client may declare in `X-Credit-Purpose`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurposeDef {
    /// The purpose code sent by clients (e.g. `loan_underwriting`).
    pub code: Spanned<String>,
    /// What the purpose means, for reviewers.
    #[serde(default)]
    pub description: Option<String>,
}

/// `[[scopes]]`: a named permission over one endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeDef {
    /// Scope id, as used in grants and authorization tokens
    /// (e.g. `enterprise.report`).
    pub id: Spanned<String>,
    /// The endpoint: `enterprise_report`, `person_score`,
    /// `sanctions_check`, `subject_access_log` or `audit_read`.
    pub endpoint: Spanned<String>,
    /// Report sections this scope can grant; required for
    /// `enterprise_report` scopes and forbidden for others.
    #[serde(default)]
    pub sections: Option<SpannedList>,
    /// Longest authorization-token lifetime (`exp - iat`, days) accepted for
    /// this scope; no limit when absent.
    #[serde(default)]
    pub max_authorization_lifetime_days: Option<Spanned<i64>>,
    /// What the scope is for, for reviewers.
    #[serde(default)]
    pub description: Option<String>,
}

/// `[[issuers]]`: an authorization issuer whose Ed25519 key is trusted.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerDef {
    /// Issuer id, the tokens' `iss` claim.
    pub id: Spanned<String>,
    /// Path to the PEM public key, relative to the policy file (the gateway
    /// reads it). Exactly one of this and `public_key_pem`.
    #[serde(default)]
    pub public_key_file: Option<Spanned<String>>,
    /// The PEM public key inline. Exactly one of this and `public_key_file`.
    #[serde(default)]
    pub public_key_pem: Option<Spanned<String>>,
    /// Optional key id (the JWS `kid` header) this key answers to.
    #[serde(default)]
    pub key_id: Option<Spanned<String>>,
}

/// `[[profiles]]`: a field allow-list with a transform per canonical path.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileDef {
    /// Profile id, named by clients.
    pub id: Spanned<String>,
    /// What the profile is for, for reviewers.
    #[serde(default)]
    pub description: Option<String>,
    /// Canonical field path (quoted, e.g. `"penalties[].decision_no"`) →
    /// transform name (`keep`, `drop`, `mask_id`, `mask_name`, `mask_phone`,
    /// `mask_card`, `mask_address`, `hash`). Paths not listed never leave
    /// the gateway.
    pub fields: Spanned<BTreeMap<Spanned<String>, RuleValue>>,
}

/// `[[clients]]`: a caller identified by its certificate.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientDef {
    /// Client id (audit records, metrics, token `aud`).
    pub id: Spanned<String>,
    /// Name shown to subjects in their access log.
    pub display_name: Spanned<String>,
    /// `bank`, `department`, `peer_platform` or `auditor`.
    pub kind: Spanned<String>,
    /// The client's home score scheme (required for peer platforms).
    #[serde(default)]
    pub home_scheme: Option<Spanned<String>>,
    /// The field profile applied to everything this client receives.
    pub profile: Spanned<String>,
    /// How the client's certificate is recognised.
    #[serde(rename = "match", default)]
    pub match_rule: Option<Spanned<MatchDef>>,
    /// Rate limit over all the client's requests.
    #[serde(default)]
    pub rate_limit: Option<Spanned<RateLimitDef>>,
    /// What the client may ask (`[[clients.grants]]`).
    #[serde(default)]
    pub grants: Vec<Spanned<GrantDef>>,
}

/// `match`: certificate facts that identify a client. A certificate matches
/// when any rule matches: `uri_san`, `dns_san`, `cn` (with `o` when given,
/// both must match) or `sha256`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchDef {
    /// A URI subject alternative name (exact).
    #[serde(default)]
    pub uri_san: Option<Spanned<String>>,
    /// A DNS subject alternative name (ASCII case-insensitive).
    #[serde(default)]
    pub dns_san: Option<Spanned<String>>,
    /// A subject common name (exact).
    #[serde(default)]
    pub cn: Option<Spanned<String>>,
    /// A subject organization (exact); only together with `cn`.
    #[serde(default)]
    pub o: Option<Spanned<String>>,
    /// SHA-256 fingerprint of the DER certificate: 64 hex digits, any case,
    /// colons allowed.
    #[serde(default)]
    pub sha256: Option<Spanned<String>>,
}

/// `rate_limit`: a GCRA rate with burst and an optional daily quota.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitDef {
    /// Sustained requests per second (may be fractional, > 0).
    pub per_second: Spanned<f64>,
    /// Requests allowed at once above the sustained rate (≥ 1).
    pub burst: Spanned<i64>,
    /// Requests allowed per day (≥ 1); unlimited when absent.
    #[serde(default)]
    pub daily_quota: Option<Spanned<i64>>,
}

/// `[[clients.grants]]`: a scope granted to a client for some purposes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantDef {
    /// The scope granted.
    pub scope: Spanned<String>,
    /// Purposes the client may declare for this scope (at least one).
    pub purposes: SpannedList,
    /// Subset of the scope's sections; all of the scope's when absent.
    #[serde(default)]
    pub sections: Option<SpannedList>,
    /// `required` or `not_required`: whether requests need the subject's
    /// authorization token (SPEC §6).
    pub authorization: Spanned<String>,
    /// Rate limit for this client and scope, on top of the client's.
    #[serde(default)]
    pub rate_limit: Option<Spanned<RateLimitDef>>,
}

/// A transform name in a profile's `fields` table. Deserializes from a
/// string; a nested table (from an unquoted dotted key such as
/// `basic.name = "keep"`) is refused with a hint to quote the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleValue(pub String);

impl<'de> Deserialize<'de> for RuleValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RuleValueVisitor)
    }
}

struct RuleValueVisitor;

impl<'de> Visitor<'de> for RuleValueVisitor {
    type Value = RuleValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a transform name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RuleValue, E> {
        Ok(RuleValue(v.to_owned()))
    }

    fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<RuleValue, A::Error> {
        Err(de::Error::custom(
            "field paths must be quoted keys, e.g. 'basic.legal_representative.name' = 'mask_name'",
        ))
    }
}

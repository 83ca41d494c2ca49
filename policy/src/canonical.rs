//! The canonical credit model: one shape for every platform's data.
//!
//! Each upstream adapter translates its platform's wire format into these
//! types; the policy's field profiles are allow-lists over the *canonical
//! field paths* of their JSON form (see [`schema`]); masking runs on the JSON
//! form after the adapters and before serialisation.
//!
//! Conventions: dates are `YYYY-MM-DD`, instants RFC 3339 in UTC, amounts are
//! yuan (CNY) as JSON numbers with at most two decimals, optional facts are
//! `None` (serialised as absent), never empty strings.

use serde::{Deserialize, Serialize};
use std::fmt;

pub mod schema;

/// A report section (SPEC §4). The order of [`Section::ALL`] is the order in
/// which sections appear in a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// Registration facts: name, legal representative, capital, address.
    Basic,
    /// Administrative licences (行政许可, 双公示).
    Licenses,
    /// Administrative penalties (行政处罚, 双公示).
    Penalties,
    /// Red lists (守信激励).
    Redlist,
    /// Black lists (失信惩戒, 联合奖惩).
    Blacklist,
    /// Dishonest judgment debtors (失信被执行人).
    Dishonest,
    /// Abnormal-operation listings (经营异常名录).
    Abnormal,
    /// Credit commitments (信用承诺).
    Commitments,
    /// Credit repairs (信用修复).
    Repairs,
    /// Public credit comprehensive evaluation (公共信用综合评价).
    Evaluation,
}

impl Section {
    /// Every section, in report order.
    pub const ALL: [Section; 10] = [
        Section::Basic,
        Section::Licenses,
        Section::Penalties,
        Section::Redlist,
        Section::Blacklist,
        Section::Dishonest,
        Section::Abnormal,
        Section::Commitments,
        Section::Repairs,
        Section::Evaluation,
    ];

    /// The section's wire name (`basic`, `licenses`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Basic => "basic",
            Section::Licenses => "licenses",
            Section::Penalties => "penalties",
            Section::Redlist => "redlist",
            Section::Blacklist => "blacklist",
            Section::Dishonest => "dishonest",
            Section::Abnormal => "abnormal",
            Section::Commitments => "commitments",
            Section::Repairs => "repairs",
            Section::Evaluation => "evaluation",
        }
    }

    /// Parses a wire name; `None` for anything else (names are case-sensitive).
    pub fn parse(s: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|sec| sec.as_str() == s)
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a section came from: the platform's configured name and the
/// platform's own as-of time for that data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The upstream's configured name (e.g. `xinyong-ningbo`).
    pub platform: String,
    /// RFC 3339 instant (UTC) at which the platform says the data was current.
    pub as_of: String,
}

/// A person's personal data as it appears inside enterprise records.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRef {
    /// Full name (personal data).
    pub name: String,
    /// 居民身份证号码, 18 (or legacy 15) characters (personal data).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id_number: Option<String>,
    /// Mobile or landline number (personal data).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub phone: Option<String>,
}

/// `basic`: the enterprise's registration facts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Basic {
    /// Registered name of the enterprise.
    pub name: String,
    /// 统一社会信用代码 (normalised, upper case).
    pub uscc: String,
    /// Enterprise type (e.g. 有限责任公司).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub enterprise_type: Option<String>,
    /// Operating status (存续, 在业, 吊销, 注销 …).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<String>,
    /// Legal representative (法定代表人).
    pub legal_representative: PersonRef,
    /// Registered capital in yuan.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub registered_capital_cny: Option<f64>,
    /// Date of establishment.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub established_on: Option<String>,
    /// Registered address.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub registered_address: Option<String>,
    /// Business scope (经营范围).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub business_scope: Option<String>,
    /// Registration authority (登记机关).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub registration_authority: Option<String>,
    /// Contact phone (often a person's mobile: personal data).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub contact_phone: Option<String>,
    /// Basic bank account number (card-like number).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub bank_account: Option<String>,
}

/// `licenses[]`: an administrative licence (双公示).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct License {
    /// Licence decision document number (行政许可决定文书号).
    pub license_no: String,
    /// Licence name.
    pub name: String,
    /// Licence category (普通, 特许, 认可, 核准, 登记, 其他).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub category: Option<String>,
    /// What is licensed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content: Option<String>,
    /// Issuing authority.
    pub authority: String,
    /// Decision date.
    pub decided_on: String,
    /// Valid from.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub valid_from: Option<String>,
    /// Valid to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub valid_to: Option<String>,
}

/// `penalties[]`: an administrative penalty (双公示 fields).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Penalty {
    /// Penalty decision document number (行政处罚决定书文号).
    pub decision_no: String,
    /// Penalty type (警告, 罚款, 没收违法所得, 责令停产停业 …).
    pub penalty_type: String,
    /// Legal basis (处罚依据).
    pub basis: String,
    /// Facts and content (违法事实 / 处罚内容).
    pub content: String,
    /// Fine in yuan, when there is one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub amount_cny: Option<f64>,
    /// Deciding authority.
    pub authority: String,
    /// Decision date.
    pub decided_on: String,
    /// End of the publication period (公示截止期).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub publish_until: Option<String>,
    /// Legal representative named in the decision (personal data).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub legal_representative: Option<PersonRef>,
}

/// `redlist[]` and `blacklist[]`: a listing on a red or black list.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ListEntry {
    /// The list's name (e.g. 纳税信用A级纳税人, 严重违法失信企业名单).
    pub list_name: String,
    /// Basis of the listing.
    pub basis: String,
    /// Listing authority.
    pub authority: String,
    /// Date listed.
    pub listed_on: String,
    /// Date the listing ends, if set.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expires_on: Option<String>,
    /// Joint reward or punishment measures (联合奖惩措施).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub measures: Option<String>,
}

/// `dishonest[]`: a dishonest judgment-debtor entry (失信被执行人).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DishonestEntry {
    /// Case number (案号).
    pub case_no: String,
    /// Enforcing court.
    pub court: String,
    /// Obligation set by the effective legal document.
    pub obligation: String,
    /// Performance status (全部未履行, 部分履行 …).
    pub performance: String,
    /// The concrete dishonest conduct (失信行为具体情形).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub circumstances: Option<String>,
    /// Publication date.
    pub published_on: String,
    /// Legal representative at the time (personal data).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub legal_representative: Option<PersonRef>,
}

/// `abnormal[]`: an abnormal-operation listing (经营异常名录).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AbnormalEntry {
    /// Reason for listing.
    pub reason: String,
    /// Listing authority.
    pub authority: String,
    /// Date listed.
    pub listed_on: String,
    /// Date removed, if removed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub removed_on: Option<String>,
    /// Reason for removal, if removed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub removal_reason: Option<String>,
}

/// `commitments[]`: a credit commitment (信用承诺).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Commitment {
    /// Commitment type (审批替代型, 信用修复型, 主动型 …).
    pub kind: String,
    /// What was committed.
    pub content: String,
    /// Date made.
    pub made_on: String,
    /// Fulfilment status (履约, 未履约, 履约中).
    pub status: String,
}

/// `repairs[]`: a credit repair (信用修复).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Repair {
    /// Document number of the repaired record (e.g. a penalty's decision number).
    pub repaired_record: String,
    /// What kind of record was repaired (penalty, abnormal, blacklist …).
    pub kind: String,
    /// Date of the repair decision.
    pub repaired_on: String,
    /// Deciding authority.
    pub authority: String,
    /// Outcome (e.g. 停止公示).
    pub result: String,
}

/// `evaluation`: public credit comprehensive evaluation (公共信用综合评价).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Level, `A`, `B`, `C` or `D`.
    pub level: String,
    /// Evaluation date.
    pub evaluated_on: String,
    /// Evaluating body.
    pub evaluator: String,
    /// End of validity, if set.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub valid_until: Option<String>,
}

/// One section's data, as the adapter read it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SectionData {
    /// `basic`.
    Basic(Box<Basic>),
    /// `licenses`.
    Licenses(Vec<License>),
    /// `penalties`.
    Penalties(Vec<Penalty>),
    /// `redlist` or `blacklist`.
    Listings(Vec<ListEntry>),
    /// `dishonest`.
    Dishonest(Vec<DishonestEntry>),
    /// `abnormal`.
    Abnormal(Vec<AbnormalEntry>),
    /// `commitments`.
    Commitments(Vec<Commitment>),
    /// `repairs`.
    Repairs(Vec<Repair>),
    /// `evaluation` (absent when the enterprise has not been evaluated).
    Evaluation(Option<Evaluation>),
}

/// What an adapter returns for an enterprise report query: the requested
/// sections the platform holds, each with its as-of time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnterpriseRecord {
    /// The subject (normalised USCC).
    pub uscc: String,
    /// Sections, each with the platform's as-of time (RFC 3339 UTC).
    pub sections: Vec<(Section, String, SectionData)>,
    /// Sections the platform sent but that could not be read (e.g. a code
    /// this build does not know), each with a value-free reason: reported
    /// as unavailable rather than failing the whole report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<(Section, String)>,
}

/// A person's native score as the home platform issued it (SPEC §7). The
/// tiers are decided by credgate from configuration, never by arithmetic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NativeScore {
    /// Scheme id as configured (e.g. `tianyi`, `qianjiang`, `bailu`).
    pub scheme: String,
    /// The score value on the scheme's own scale.
    pub value: f64,
    /// Date the score was issued (`YYYY-MM-DD`).
    pub issued_at: String,
    /// Issuing platform's configured name.
    pub issuer: String,
}

/// Which kind of joint-punishment list a sanction listing comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListingKind {
    /// A black list (严重失信主体名单).
    Blacklist,
    /// Dishonest judgment debtors (失信被执行人).
    Dishonest,
    /// Abnormal-operation listing (经营异常名录).
    Abnormal,
}

/// One listing a platform reports for a subject in a sanctions check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// The list kind.
    pub kind: ListingKind,
    /// The list's name.
    pub list_name: String,
    /// Basis of the listing.
    pub basis: String,
    /// Listing authority.
    pub authority: String,
    /// Date listed.
    pub listed_on: String,
}

/// A platform's answer for one subject of a sanctions batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SanctionAnswer {
    /// The subject, normalised (upper-case USCC or ID number).
    pub subject: String,
    /// Whether the platform knows the subject at all.
    pub known: bool,
    /// The subject's current listings on this platform (empty = no hit).
    pub listings: Vec<Listing>,
    /// The platform's as-of time for the check (RFC 3339 UTC), when its
    /// answer states one (provenance, SPEC §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
}

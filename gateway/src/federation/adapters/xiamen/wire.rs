//! The `xiamen-v1` XML documents as serde types (element names as sent).

use serde::Deserialize;

pub(super) type Text = Option<String>;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Response {
    pub(super) head: Option<Head>,
    pub(super) body: Option<Body>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Head {
    pub(super) code: Text,
    pub(super) as_of: Text,
}

#[derive(Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(super) struct Body {
    pub(super) jbxx: Option<Jbxx>,
    pub(super) xzxk: Option<Items<Xk>>,
    pub(super) xzcf: Option<Items<Cf>>,
    pub(super) hongmd: Option<Items<Md>>,
    pub(super) heimd: Option<Items<Md>>,
    pub(super) sxr: Option<Items<Sxr>>,
    pub(super) jyyc: Option<Items<Jyyc>>,
    pub(super) cnxx: Option<Items<Cn>>,
    pub(super) xfxx: Option<Items<Xf>>,
    pub(super) pjxx: Option<Pj>,
    pub(super) blf: Option<Blf>,
    #[serde(rename = "Result", default)]
    pub(super) results: Vec<CheckResult>,
}

#[derive(Deserialize)]
pub(super) struct Items<T> {
    #[serde(rename = "Item", default = "Vec::new")]
    pub(super) items: Vec<T>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct LegalRep {
    pub(super) name: Text,
    pub(super) id_no: Text,
    pub(super) mobile: Text,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Jbxx {
    pub(super) name: Text,
    pub(super) credit_code: Text,
    pub(super) ent_type: Text,
    pub(super) status: Text,
    pub(super) legal_rep: Option<LegalRep>,
    pub(super) reg_capital: Text,
    pub(super) establish_date: Text,
    pub(super) address: Text,
    pub(super) scope: Text,
    pub(super) reg_org: Text,
    pub(super) tel: Text,
    pub(super) bank_account: Text,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Xk {
    pub(super) doc_no: Text,
    pub(super) name: Text,
    pub(super) category: Text,
    pub(super) content: Text,
    pub(super) org: Text,
    pub(super) decision_date: Text,
    pub(super) valid_from: Text,
    pub(super) valid_to: Text,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Cf {
    pub(super) doc_no: Text,
    #[serde(rename = "Type")]
    pub(super) kind: Text,
    pub(super) basis: Text,
    pub(super) content: Text,
    pub(super) amount: Text,
    pub(super) org: Text,
    pub(super) decision_date: Text,
    pub(super) publish_until: Text,
    pub(super) legal_rep: Option<LegalRep>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Md {
    pub(super) list_name: Text,
    pub(super) reason: Text,
    pub(super) org: Text,
    pub(super) in_date: Text,
    pub(super) out_date: Text,
    pub(super) measures: Text,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Sxr {
    pub(super) case_no: Text,
    pub(super) court: Text,
    pub(super) duty: Text,
    pub(super) performance: Text,
    pub(super) situation: Text,
    pub(super) publish_date: Text,
    pub(super) legal_rep: Option<LegalRep>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Jyyc {
    pub(super) reason: Text,
    pub(super) org: Text,
    pub(super) in_date: Text,
    pub(super) out_date: Text,
    pub(super) out_reason: Text,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Cn {
    #[serde(rename = "Type")]
    pub(super) kind: Text,
    pub(super) content: Text,
    pub(super) date: Text,
    pub(super) status: Text,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Xf {
    pub(super) record_no: Text,
    pub(super) record_type: Text,
    pub(super) date: Text,
    pub(super) org: Text,
    pub(super) result: Text,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Pj {
    pub(super) level: Text,
    pub(super) date: Text,
    pub(super) org: Text,
    pub(super) valid_until: Text,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Blf {
    pub(super) sfzh: Text,
    pub(super) score: Text,
    pub(super) date: Text,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CheckResult {
    pub(super) code: Text,
    pub(super) known: Text,
    pub(super) hits: Option<Hits>,
}

#[derive(Deserialize)]
pub(super) struct Hits {
    #[serde(rename = "Hit", default)]
    pub(super) hits: Vec<Hit>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Hit {
    #[serde(rename = "Type")]
    pub(super) kind: Text,
    pub(super) list_name: Text,
    pub(super) reason: Text,
    pub(super) org: Text,
    pub(super) in_date: Text,
}

//! 厦门 `xiamen-v1`: XML. `<Response><Head><Code>00</Code><Msg/><AsOf/></Head>
//! <Body>…</Body></Response>`, codes `00` ok / `01` not found / `02` bad
//! request, dates `yyyy年MM月dd日`, money `12,000.00` yuan; optional facts
//! are left out; sanctions batch `POST /xmcredit/lhjc` of up to 20.

use std::fmt::Write as _;

use credgate_policy::canonical::{Listing, ListingKind, PersonRef, Section};
use quick_xml::escape::escape;
use serde::Deserialize;

use super::{in_order, parse_sections, query_param, Rendered, SimRequest};
use crate::dataset::{SimEnterprise, SimPerson};
use crate::text::{chinese_date as d, fen, yuan_grouped};

/// Section codes of the `sections` parameter (and the `Body` children).
pub(crate) const CODES: [(Section, &str); 10] = [
    (Section::Basic, "JBXX"),
    (Section::Licenses, "XZXK"),
    (Section::Penalties, "XZCF"),
    (Section::Redlist, "HONGMD"),
    (Section::Blacklist, "HEIMD"),
    (Section::Dishonest, "SXR"),
    (Section::Abnormal, "JYYC"),
    (Section::Commitments, "CNXX"),
    (Section::Repairs, "XFXX"),
    (Section::Evaluation, "PJXX"),
];

const AS_OF: &str = "2026年11月01日";

/// The sanctions request body: `<Request><Subjects><Code>…</Code></Subjects></Request>`.
#[derive(Deserialize)]
struct LhjcRequest {
    #[serde(rename = "Subjects")]
    subjects: LhjcSubjects,
}

#[derive(Deserialize)]
struct LhjcSubjects {
    #[serde(rename = "Code", default)]
    codes: Vec<String>,
}

fn response(status: u16, code: &str, msg: &str, body: &str) -> Rendered {
    let mut x = String::with_capacity(body.len() + 160);
    x.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = write!(
        x,
        "<Response><Head><Code>{code}</Code><Msg>{msg}</Msg><AsOf>{AS_OF}</AsOf></Head>"
    );
    if body.is_empty() {
        x.push_str("<Body/></Response>");
    } else {
        let _ = write!(x, "<Body>{body}</Body></Response>");
    }
    Rendered::xml(status, x)
}

fn not_found() -> Rendered {
    response(200, "01", "无此主体信息", "")
}

pub(super) fn bad_request(msg: &str) -> Rendered {
    response(400, "02", msg, "")
}

pub(super) fn route(
    method: &http::Method,
    path: &str,
    query: Option<&str>,
    body: &[u8],
) -> SimRequest {
    match (method.as_str(), path) {
        ("GET", "/xmcredit/report") => {
            let Some(code) = query_param(query, "code") else {
                return SimRequest::Invalid(bad_request("缺少code"));
            };
            match parse_sections(query_param(query, "sections").as_deref(), &CODES) {
                Some(sections) => SimRequest::Report {
                    uscc: code.to_ascii_uppercase(),
                    sections,
                },
                None => SimRequest::Invalid(bad_request("sections参数错误")),
            }
        }
        ("GET", "/xmcredit/bailu") => match query_param(query, "sfzh") {
            Some(id) => SimRequest::Score {
                id: id.to_ascii_uppercase(),
            },
            None => SimRequest::Invalid(bad_request("缺少sfzh")),
        },
        ("POST", "/xmcredit/lhjc") => {
            let parsed = std::str::from_utf8(body)
                .ok()
                .and_then(|s| quick_xml::de::from_str::<LhjcRequest>(s).ok());
            match parsed {
                Some(r) if r.subjects.codes.len() <= 20 => SimRequest::Sanctions {
                    subjects: r
                        .subjects
                        .codes
                        .iter()
                        .map(|c| c.trim().to_ascii_uppercase())
                        .collect(),
                },
                Some(_) => SimRequest::Invalid(bad_request("主体数量超过上限20")),
                None => SimRequest::Invalid(bad_request("请求报文格式错误")),
            }
        }
        _ => SimRequest::Invalid(response(404, "04", "接口不存在", "")),
    }
}

/// Writes `<name>value</name>`, escaped.
fn el(x: &mut String, name: &str, value: &str) {
    let _ = write!(x, "<{name}>{}</{name}>", escape(value));
}

/// Writes the element only when the value is present.
fn opt(x: &mut String, name: &str, value: &Option<String>) {
    if let Some(v) = value {
        el(x, name, v);
    }
}

fn opt_date(x: &mut String, name: &str, value: &Option<String>) {
    if let Some(v) = value {
        el(x, name, &d(v));
    }
}

fn person(x: &mut String, p: &PersonRef) {
    x.push_str("<LegalRep>");
    el(x, "Name", &p.name);
    opt(x, "IdNo", &p.id_number);
    opt(x, "Mobile", &p.phone);
    x.push_str("</LegalRep>");
}

fn money(x: &mut String, name: &str, v: Option<f64>) {
    if let Some(y) = v {
        el(x, name, &yuan_grouped(fen(y)));
    }
}

fn record_type(kind: &str) -> &'static str {
    match kind {
        "penalty" => "行政处罚",
        "abnormal" => "经营异常",
        _ => "严重失信",
    }
}

fn items<T>(x: &mut String, list: &[T], mut f: impl FnMut(&mut String, &T)) {
    for it in list {
        x.push_str("<Item>");
        f(x, it);
        x.push_str("</Item>");
    }
}

fn section(x: &mut String, e: &SimEnterprise, s: Section) {
    match s {
        Section::Basic => {
            let b = &e.basic;
            el(x, "Name", &b.name);
            el(x, "CreditCode", &b.uscc);
            opt(x, "EntType", &b.enterprise_type);
            opt(x, "Status", &b.status);
            person(x, &b.legal_representative);
            money(x, "RegCapital", b.registered_capital_cny);
            opt_date(x, "EstablishDate", &b.established_on);
            opt(x, "Address", &b.registered_address);
            opt(x, "Scope", &b.business_scope);
            opt(x, "RegOrg", &b.registration_authority);
            opt(x, "Tel", &b.contact_phone);
            opt(x, "BankAccount", &b.bank_account);
        }
        Section::Licenses => items(x, &e.licenses, |x, l| {
            el(x, "DocNo", &l.license_no);
            el(x, "Name", &l.name);
            opt(x, "Category", &l.category);
            opt(x, "Content", &l.content);
            el(x, "Org", &l.authority);
            el(x, "DecisionDate", &d(&l.decided_on));
            opt_date(x, "ValidFrom", &l.valid_from);
            opt_date(x, "ValidTo", &l.valid_to);
        }),
        Section::Penalties => items(x, &e.penalties, |x, p| {
            el(x, "DocNo", &p.decision_no);
            el(x, "Type", &p.penalty_type);
            el(x, "Basis", &p.basis);
            el(x, "Content", &p.content);
            money(x, "Amount", p.amount_cny);
            el(x, "Org", &p.authority);
            el(x, "DecisionDate", &d(&p.decided_on));
            opt_date(x, "PublishUntil", &p.publish_until);
            if let Some(r) = &p.legal_representative {
                person(x, r);
            }
        }),
        Section::Redlist | Section::Blacklist => {
            let list = if s == Section::Redlist {
                &e.redlist
            } else {
                &e.blacklist
            };
            items(x, list, |x, l| {
                el(x, "ListName", &l.list_name);
                el(x, "Reason", &l.basis);
                el(x, "Org", &l.authority);
                el(x, "InDate", &d(&l.listed_on));
                opt_date(x, "OutDate", &l.expires_on);
                opt(x, "Measures", &l.measures);
            });
        }
        Section::Dishonest => items(x, &e.dishonest, |x, i| {
            el(x, "CaseNo", &i.case_no);
            el(x, "Court", &i.court);
            el(x, "Duty", &i.obligation);
            el(x, "Performance", &i.performance);
            opt(x, "Situation", &i.circumstances);
            el(x, "PublishDate", &d(&i.published_on));
            if let Some(r) = &i.legal_representative {
                person(x, r);
            }
        }),
        Section::Abnormal => items(x, &e.abnormal, |x, a| {
            el(x, "Reason", &a.reason);
            el(x, "Org", &a.authority);
            el(x, "InDate", &d(&a.listed_on));
            opt_date(x, "OutDate", &a.removed_on);
            opt(x, "OutReason", &a.removal_reason);
        }),
        Section::Commitments => items(x, &e.commitments, |x, c| {
            el(x, "Type", &c.kind);
            el(x, "Content", &c.content);
            el(x, "Date", &d(&c.made_on));
            el(x, "Status", &c.status);
        }),
        Section::Repairs => items(x, &e.repairs, |x, r| {
            el(x, "RecordNo", &r.repaired_record);
            el(x, "RecordType", record_type(&r.kind));
            el(x, "Date", &d(&r.repaired_on));
            el(x, "Org", &r.authority);
            el(x, "Result", &r.result);
        }),
        Section::Evaluation => {
            if let Some(v) = &e.evaluation {
                el(x, "Level", &format!("{}级", v.level));
                el(x, "Date", &d(&v.evaluated_on));
                el(x, "Org", &v.evaluator);
                opt_date(x, "ValidUntil", &v.valid_until);
            }
        }
    }
}

pub(super) fn report(e: Option<&SimEnterprise>, sections: &[Section]) -> Rendered {
    let Some(e) = e else { return not_found() };
    let mut x = String::with_capacity(4096);
    for s in in_order(sections) {
        let tag = CODES.iter().find(|(c, _)| *c == s).map_or("", |(_, t)| t);
        let start = x.len();
        section(&mut x, e, s);
        if x.len() == start {
            let _ = write!(x, "<{tag}/>");
        } else {
            x.insert_str(start, &format!("<{tag}>"));
            let _ = write!(x, "</{tag}>");
        }
    }
    response(200, "00", "成功", &x)
}

pub(super) fn score(p: Option<&SimPerson>) -> Rendered {
    match p.and_then(|p| Some((p, p.score.as_ref()?))) {
        Some((p, s)) => {
            let mut x = String::from("<BLF>");
            el(&mut x, "Sfzh", &p.id);
            el(&mut x, "Score", &s.value.to_string());
            el(&mut x, "Date", &d(&s.issued_at));
            x.push_str("</BLF>");
            response(200, "00", "成功", &x)
        }
        None => not_found(),
    }
}

fn kind_name(k: ListingKind) -> &'static str {
    match k {
        ListingKind::Blacklist => "黑名单",
        ListingKind::Dishonest => "失信被执行人",
        ListingKind::Abnormal => "经营异常",
    }
}

pub(super) fn sanctions(answers: &[(&str, Option<Vec<Listing>>)]) -> Rendered {
    let mut x = String::with_capacity(256 * answers.len().max(1));
    for (s, l) in answers {
        x.push_str("<Result>");
        el(&mut x, "Code", s);
        el(&mut x, "Known", if l.is_some() { "Y" } else { "N" });
        x.push_str("<Hits>");
        for h in l.iter().flatten() {
            x.push_str("<Hit>");
            el(&mut x, "Type", kind_name(h.kind));
            el(&mut x, "ListName", &h.list_name);
            el(&mut x, "Reason", &h.basis);
            el(&mut x, "Org", &h.authority);
            el(&mut x, "InDate", &d(&h.listed_on));
            x.push_str("</Hit>");
        }
        x.push_str("</Hits></Result>");
    }
    response(200, "00", "成功", &x)
}

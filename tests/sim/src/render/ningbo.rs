//! 信用宁波 `ningbo-v1`: REST + JSON, envelope `{"code","msg","data","ts"}`,
//! pinyin camelCase keys, dates `yyyyMMdd`, money in fen (integers), not
//! found as `code` `4004` with HTTP 200.

use credgate_policy::canonical::{Listing, ListingKind, PersonRef, Section};
use serde_json::{json, Map, Value};

use super::{in_order, parse_sections, query_param, Rendered, SimRequest};
use crate::dataset::{SimEnterprise, SimPerson};
use crate::text::{compact_date as d8, fen};

/// Section codes of the `modules` parameter.
pub(crate) const CODES: [(Section, &str); 10] = [
    (Section::Basic, "jbxx"),
    (Section::Licenses, "xzxk"),
    (Section::Penalties, "xzcf"),
    (Section::Redlist, "hongmd"),
    (Section::Blacklist, "heimd"),
    (Section::Dishonest, "sxbzxr"),
    (Section::Abnormal, "jyyc"),
    (Section::Commitments, "xycn"),
    (Section::Repairs, "xyxf"),
    (Section::Evaluation, "ggxypj"),
];

/// `ts` of every answer: 2026-11-01T00:00:00Z in epoch milliseconds.
const TS: i64 = 1_793_491_200_000;

fn envelope(status: u16, code: &str, msg: &str, data: Value) -> Rendered {
    Rendered::json(
        status,
        &json!({ "code": code, "msg": msg, "data": data, "ts": TS }),
    )
}

fn not_found() -> Rendered {
    envelope(200, "4004", "未查询到该主体信息", Value::Null)
}

pub(super) fn bad_request(msg: &str) -> Rendered {
    envelope(400, "4001", msg, Value::Null)
}

pub(super) fn route(
    method: &http::Method,
    path: &str,
    query: Option<&str>,
    body: &[u8],
) -> SimRequest {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["api", "v1", "enterprise", uscc, "credit"]) => {
            match parse_sections(query_param(query, "modules").as_deref(), &CODES) {
                Some(sections) => SimRequest::Report {
                    uscc: uscc.to_ascii_uppercase(),
                    sections,
                },
                None => SimRequest::Invalid(bad_request("modules参数错误")),
            }
        }
        ("GET", ["api", "v1", "person", id, "tianyi"]) => SimRequest::Score {
            id: id.to_ascii_uppercase(),
        },
        ("POST", ["api", "v1", "lhjc", "batch"]) => {
            let list: Option<Vec<String>> =
                serde_json::from_slice::<Value>(body).ok().and_then(|v| {
                    v.get("ztList")?
                        .as_array()?
                        .iter()
                        .map(|s| s.as_str().map(str::to_ascii_uppercase))
                        .collect()
                });
            match list {
                Some(subjects) if subjects.len() <= 50 => SimRequest::Sanctions { subjects },
                Some(_) => SimRequest::Invalid(bad_request("主体数量超过上限50")),
                None => SimRequest::Invalid(bad_request("请求体格式错误")),
            }
        }
        _ => SimRequest::Invalid(envelope(404, "4040", "接口不存在", Value::Null)),
    }
}

fn person(p: &PersonRef) -> Value {
    json!({ "xm": p.name, "zjhm": p.id_number, "sjhm": p.phone })
}

fn opt_date(d: &Option<String>) -> Value {
    d.as_deref().map_or(Value::Null, |d| Value::String(d8(d)))
}

fn repair_code(kind: &str) -> &'static str {
    match kind {
        "penalty" => "xzcf",
        "abnormal" => "jyyc",
        _ => "heimd",
    }
}

fn section(e: &SimEnterprise, s: Section) -> Value {
    match s {
        Section::Basic => {
            let b = &e.basic;
            json!({
                "qymc": b.name, "tyshxydm": b.uscc, "qylx": b.enterprise_type, "djzt": b.status,
                "fddbr": person(&b.legal_representative),
                "zczbFen": b.registered_capital_cny.map(fen), "clrq": opt_date(&b.established_on),
                "zcdz": b.registered_address, "jyfw": b.business_scope, "djjg": b.registration_authority,
                "lxdh": b.contact_phone, "jbckzh": b.bank_account,
            })
        }
        Section::Licenses => e.licenses.iter().map(|l| json!({
            "xkWsh": l.license_no, "xkXmmc": l.name, "xkLb": l.category, "xkNr": l.content,
            "xkJg": l.authority, "xkJdrq": d8(&l.decided_on), "xkYxqZi": opt_date(&l.valid_from),
            "xkYxqZhi": opt_date(&l.valid_to),
        })).collect(),
        Section::Penalties => e.penalties.iter().map(|p| json!({
            "cfWsh": p.decision_no, "cfLb": p.penalty_type, "cfYj": p.basis, "cfNr": p.content,
            "cfJeFen": p.amount_cny.map(fen), "cfJg": p.authority, "cfJdrq": d8(&p.decided_on),
            "gsJzrq": opt_date(&p.publish_until), "fddbr": p.legal_representative.as_ref().map(person),
        })).collect(),
        Section::Redlist | Section::Blacklist => {
            let list = if s == Section::Redlist { &e.redlist } else { &e.blacklist };
            list.iter().map(|l| json!({
                "mdMc": l.list_name, "lrYy": l.basis, "lrJg": l.authority, "lrRq": d8(&l.listed_on),
                "yxqJzrq": opt_date(&l.expires_on), "lhjcCs": l.measures,
            })).collect()
        }
        Section::Dishonest => e.dishonest.iter().map(|x| json!({
            "ah": x.case_no, "zxfy": x.court, "yw": x.obligation, "lxqk": x.performance,
            "sxqx": x.circumstances, "fbrq": d8(&x.published_on),
            "fddbr": x.legal_representative.as_ref().map(person),
        })).collect(),
        Section::Abnormal => e.abnormal.iter().map(|a| json!({
            "lrYy": a.reason, "lrJg": a.authority, "lrRq": d8(&a.listed_on),
            "ycRq": opt_date(&a.removed_on), "ycYy": a.removal_reason,
        })).collect(),
        Section::Commitments => e.commitments.iter().map(|c| json!({
            "cnLx": c.kind, "cnNr": c.content, "cnRq": d8(&c.made_on), "lyZt": c.status,
        })).collect(),
        Section::Repairs => e.repairs.iter().map(|r| json!({
            "xfJlbh": r.repaired_record, "xfLx": repair_code(&r.kind), "xfRq": d8(&r.repaired_on),
            "xfJg": r.authority, "xfJgms": r.result,
        })).collect(),
        Section::Evaluation => e.evaluation.as_ref().map_or(Value::Null, |v| json!({
            "pjDj": v.level, "pjRq": d8(&v.evaluated_on), "pjJg": v.evaluator, "yxqz": opt_date(&v.valid_until),
        })),
    }
}

pub(super) fn report(e: Option<&SimEnterprise>, sections: &[Section]) -> Rendered {
    let Some(e) = e else { return not_found() };
    let mut data = Map::new();
    data.insert("tyshxydm".into(), Value::String(e.uscc.clone()));
    for s in in_order(sections) {
        let code = CODES.iter().find(|(x, _)| *x == s).map_or("", |(_, c)| c);
        data.insert(code.into(), section(e, s));
    }
    envelope(200, "0000", "成功", Value::Object(data))
}

pub(super) fn score(p: Option<&SimPerson>) -> Rendered {
    match p.and_then(|p| Some((p, p.score.as_ref()?))) {
        Some((p, s)) => envelope(
            200,
            "0000",
            "成功",
            json!({
                "zjhm": p.id, "fzmc": "天一分", "tyf": s.value, "pfrq": d8(&s.issued_at),
            }),
        ),
        None => not_found(),
    }
}

fn kind_code(k: ListingKind) -> &'static str {
    match k {
        ListingKind::Blacklist => "heimd",
        ListingKind::Dishonest => "sxbzxr",
        ListingKind::Abnormal => "jyyc",
    }
}

pub(super) fn sanctions(answers: &[(&str, Option<Vec<Listing>>)]) -> Rendered {
    let list: Vec<Value> = answers
        .iter()
        .map(|(s, l)| {
            let md: Vec<Value> = l.iter().flatten().map(|x| json!({
                "mdlx": kind_code(x.kind), "mdMc": x.list_name, "lrYy": x.basis, "lrJg": x.authority,
                "lrRq": d8(&x.listed_on),
            })).collect();
            json!({ "ztbs": s, "sfcz": l.is_some(), "mdList": md })
        })
        .collect();
    envelope(200, "0000", "成功", json!({ "jgList": list }))
}

//! 信用浙江 `zhejiang-v2`: one `POST /gateway/v2/query` endpoint with a
//! `service` field, envelope `{"success","errorCode","errorMsg","result"}`,
//! snake_case English keys, `yyyy-MM-dd HH:mm:ss` (Asia/Shanghai) times,
//! money as strings in 万元. No personal scores.

use credgate_policy::canonical::{Listing, ListingKind, PersonRef, Section};
use serde_json::{json, Map, Value};

use super::{in_order, Rendered, SimRequest};
use crate::dataset::{SimEnterprise, SimPerson};
use crate::text::{datetime_date as dt, fen, wan_yuan};

/// Section codes of the `items` list.
pub(crate) const CODES: [(Section, &str); 10] = [
    (Section::Basic, "base_info"),
    (Section::Licenses, "admin_license"),
    (Section::Penalties, "admin_penalty"),
    (Section::Redlist, "red_list"),
    (Section::Blacklist, "black_list"),
    (Section::Dishonest, "dishonest_debtor"),
    (Section::Abnormal, "abnormal_operation"),
    (Section::Commitments, "credit_commitment"),
    (Section::Repairs, "credit_repair"),
    (Section::Evaluation, "credit_evaluation"),
];

/// The as-of time in local (UTC+8) time: 2026-11-01T00:00:00Z.
const UPDATE_TIME: &str = "2026-11-01 08:00:00";

fn ok(result: Value) -> Rendered {
    Rendered::json(
        200,
        &json!({ "success": true, "errorCode": null, "errorMsg": null, "result": result }),
    )
}

pub(super) fn fail(status: u16, code: &str, msg: &str) -> Rendered {
    Rendered::json(
        status,
        &json!({ "success": false, "errorCode": code, "errorMsg": msg, "result": null }),
    )
}

fn not_found() -> Rendered {
    fail(200, "E1004", "未查询到主体信息")
}

pub(super) fn route(method: &http::Method, path: &str, body: &[u8]) -> SimRequest {
    if method != http::Method::POST || path != "/gateway/v2/query" {
        return SimRequest::Invalid(fail(404, "E4040", "服务不存在"));
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return SimRequest::Invalid(fail(400, "E4000", "请求报文格式错误"));
    };
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::to_ascii_uppercase)
    };
    let list = |k: &str| -> Option<Vec<String>> {
        v.get(k)?
            .as_array()?
            .iter()
            .map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    let bad = || SimRequest::Invalid(fail(400, "E4000", "请求参数错误"));
    match v.get("service").and_then(Value::as_str) {
        Some("credit.report") => {
            let Some(uscc) = text("tyshxydm") else {
                return bad();
            };
            let sections = match list("items") {
                None => Some(Section::ALL.to_vec()),
                Some(items) => items
                    .iter()
                    .map(|i| CODES.iter().find(|(_, c)| c == i).map(|(s, _)| *s))
                    .collect(),
            };
            match sections {
                Some(sections) => SimRequest::Report { uscc, sections },
                None => bad(),
            }
        }
        Some("credit.score") => match text("sfzh") {
            Some(id) => SimRequest::Score { id },
            None => bad(),
        },
        Some("lhjc.batch") => match list("subjects") {
            Some(s) if s.len() <= 100 => SimRequest::Sanctions {
                subjects: s.iter().map(|x| x.to_ascii_uppercase()).collect(),
            },
            Some(_) => SimRequest::Invalid(fail(400, "E4001", "主体数量超过上限100")),
            None => bad(),
        },
        _ => SimRequest::Invalid(fail(400, "E4002", "不支持的服务")),
    }
}

fn person(p: &PersonRef) -> Value {
    json!({ "name": p.name, "cert_no": p.id_number, "mobile": p.phone })
}

fn opt_dt(d: &Option<String>) -> Value {
    d.as_deref().map_or(Value::Null, |d| Value::String(dt(d)))
}

fn money(yuan: Option<f64>) -> Value {
    yuan.map_or(Value::Null, |y| Value::String(wan_yuan(fen(y))))
}

fn status_code(s: &str) -> &'static str {
    match s {
        "履约" => "FULFILLED",
        "未履约" => "UNFULFILLED",
        _ => "IN_PROGRESS",
    }
}

fn section(e: &SimEnterprise, s: Section) -> Value {
    match s {
        Section::Basic => {
            let b = &e.basic;
            json!({
                "ent_name": b.name, "credit_code": b.uscc, "ent_type": b.enterprise_type,
                "reg_status": b.status, "legal_person": person(&b.legal_representative),
                "reg_capital": money(b.registered_capital_cny), "establish_date": opt_dt(&b.established_on),
                "address": b.registered_address, "business_scope": b.business_scope,
                "reg_authority": b.registration_authority, "contact_tel": b.contact_phone,
                "bank_account": b.bank_account,
            })
        }
        Section::Licenses => e.licenses.iter().map(|l| json!({
            "license_no": l.license_no, "license_name": l.name, "license_type": l.category,
            "license_content": l.content, "issuing_authority": l.authority, "decision_date": dt(&l.decided_on),
            "valid_from": opt_dt(&l.valid_from), "valid_to": opt_dt(&l.valid_to),
        })).collect(),
        Section::Penalties => e.penalties.iter().map(|p| json!({
            "decision_no": p.decision_no, "penalty_type": p.penalty_type, "legal_basis": p.basis,
            "penalty_content": p.content, "fine_amount": money(p.amount_cny), "authority": p.authority,
            "decision_date": dt(&p.decided_on), "publicity_deadline": opt_dt(&p.publish_until),
            "legal_person": p.legal_representative.as_ref().map(person),
        })).collect(),
        Section::Redlist | Section::Blacklist => {
            let list = if s == Section::Redlist { &e.redlist } else { &e.blacklist };
            list.iter().map(|l| json!({
                "list_name": l.list_name, "reason": l.basis, "authority": l.authority,
                "include_date": dt(&l.listed_on), "expire_date": opt_dt(&l.expires_on), "measures": l.measures,
            })).collect()
        }
        Section::Dishonest => e.dishonest.iter().map(|x| json!({
            "case_code": x.case_no, "court_name": x.court, "duty": x.obligation, "performance": x.performance,
            "disrupt_type_name": x.circumstances, "publish_date": dt(&x.published_on),
            "legal_person": x.legal_representative.as_ref().map(person),
        })).collect(),
        Section::Abnormal => e.abnormal.iter().map(|a| json!({
            "include_reason": a.reason, "include_authority": a.authority, "include_date": dt(&a.listed_on),
            "remove_date": opt_dt(&a.removed_on), "remove_reason": a.removal_reason,
        })).collect(),
        Section::Commitments => e.commitments.iter().map(|c| json!({
            "commit_type": c.kind, "commit_content": c.content, "commit_date": dt(&c.made_on),
            "fulfil_status": status_code(&c.status),
        })).collect(),
        Section::Repairs => e.repairs.iter().map(|r| json!({
            "record_no": r.repaired_record, "record_type": r.kind.to_ascii_uppercase(),
            "repair_date": dt(&r.repaired_on), "repair_authority": r.authority, "repair_result": r.result,
        })).collect(),
        Section::Evaluation => e.evaluation.as_ref().map_or(Value::Null, |v| json!({
            "grade": v.level, "eval_date": dt(&v.evaluated_on), "evaluator": v.evaluator,
            "valid_until": opt_dt(&v.valid_until),
        })),
    }
}

pub(super) fn report(e: Option<&SimEnterprise>, sections: &[Section]) -> Rendered {
    let Some(e) = e else { return not_found() };
    let mut result = Map::new();
    result.insert("tyshxydm".into(), Value::String(e.uscc.clone()));
    result.insert("update_time".into(), Value::String(UPDATE_TIME.into()));
    for s in in_order(sections) {
        let code = CODES.iter().find(|(x, _)| *x == s).map_or("", |(_, c)| c);
        result.insert(code.into(), section(e, s));
    }
    ok(Value::Object(result))
}

pub(super) fn score(p: Option<&SimPerson>) -> Rendered {
    match p {
        Some(_) => fail(200, "E2001", "本平台不提供个人信用分服务"),
        None => not_found(),
    }
}

fn kind_code(k: ListingKind) -> &'static str {
    match k {
        ListingKind::Blacklist => "BLACKLIST",
        ListingKind::Dishonest => "DISHONEST",
        ListingKind::Abnormal => "ABNORMAL",
    }
}

pub(super) fn sanctions(answers: &[(&str, Option<Vec<Listing>>)]) -> Rendered {
    let items: Vec<Value> =
        answers
            .iter()
            .map(|(s, l)| {
                let hits: Vec<Value> = l.iter().flatten().map(|x| json!({
                "list_type": kind_code(x.kind), "list_name": x.list_name, "reason": x.basis,
                "authority": x.authority, "include_date": dt(&x.listed_on),
            })).collect();
                json!({ "subject": s, "found": l.is_some(), "hits": hits })
            })
            .collect();
    ok(json!({ "check_time": UPDATE_TIME, "items": items }))
}

//! 杭州 `hangzhou-v1`: GET with query parameters, envelope
//! `{"status","message","gxsj","total","rows":[{"lb","fields"}]}`, 双公示-style
//! upper-case field codes with string values (`""` when empty), dates
//! `yyyy/MM/dd`, money as yuan strings; sanctions one subject per call.

use credgate_policy::canonical::{Listing, ListingKind, Section};
use serde_json::{json, Value};

use super::{in_order, parse_sections, query_param, Rendered, SimRequest};
use crate::dataset::{SimEnterprise, SimPerson};
use crate::text::{fen, slash_date as d, yuan_plain};

/// Section codes of the `lb` parameter (and of each row's `lb`).
pub(crate) const CODES: [(Section, &str); 10] = [
    (Section::Basic, "JBXX"),
    (Section::Licenses, "XZXK"),
    (Section::Penalties, "XZCF"),
    (Section::Redlist, "HONGMD"),
    (Section::Blacklist, "HEIMD"),
    (Section::Dishonest, "SXBZXR"),
    (Section::Abnormal, "JYYC"),
    (Section::Commitments, "XYCN"),
    (Section::Repairs, "XYXF"),
    (Section::Evaluation, "PJ"),
];

/// The as-of date (更新时间).
const GXSJ: &str = "2026/11/01";

fn rows(status: u16, message: &str, rows: Vec<Value>) -> Rendered {
    Rendered::json(
        200,
        &json!({ "status": status, "message": message, "gxsj": GXSJ, "total": rows.len(), "rows": rows }),
    )
}

fn not_found() -> Rendered {
    rows(404, "未查询到数据", Vec::new())
}

pub(super) fn bad_request(msg: &str) -> Rendered {
    Rendered::json(
        400,
        &json!({ "status": 400, "message": msg, "total": 0, "rows": [] }),
    )
}

pub(super) fn route(method: &http::Method, path: &str, query: Option<&str>) -> SimRequest {
    if method != http::Method::GET {
        return SimRequest::Invalid(bad_request("仅支持GET"));
    }
    match path {
        "/hz/credit/v1/qy" => {
            let Some(uscc) = query_param(query, "tyshxydm") else {
                return SimRequest::Invalid(bad_request("缺少tyshxydm"));
            };
            match parse_sections(query_param(query, "lb").as_deref(), &CODES) {
                Some(sections) => SimRequest::Report {
                    uscc: uscc.to_ascii_uppercase(),
                    sections,
                },
                None => SimRequest::Invalid(bad_request("lb参数错误")),
            }
        }
        "/hz/credit/v1/qjf" | "/hz/credit/v1/lhjc" => match query_param(query, "zjhm") {
            Some(id) if path.ends_with("qjf") => SimRequest::Score {
                id: id.to_ascii_uppercase(),
            },
            Some(s) => SimRequest::Sanctions {
                subjects: vec![s.to_ascii_uppercase()],
            },
            None => SimRequest::Invalid(bad_request("缺少zjhm")),
        },
        _ => SimRequest::Invalid(Rendered::json(
            404,
            &json!({ "status": 404, "message": "接口不存在" }),
        )),
    }
}

fn s(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

fn od(v: &Option<String>) -> String {
    v.as_deref().map(d).unwrap_or_default()
}

fn money(v: Option<f64>) -> String {
    v.map(|y| yuan_plain(fen(y))).unwrap_or_default()
}

fn row(lb: &str, fields: Value) -> Value {
    json!({ "lb": lb, "fields": fields })
}

fn license_code(category: &str) -> &'static str {
    match category {
        "普通" => "1",
        "特许" => "2",
        "认可" => "3",
        "核准" => "4",
        "登记" => "5",
        _ => "9",
    }
}

fn repair_code(kind: &str) -> &'static str {
    match kind {
        "penalty" => "XZCF",
        "abnormal" => "JYYC",
        _ => "HEIMD",
    }
}

fn section_rows(e: &SimEnterprise, sec: Section, lb: &str, out: &mut Vec<Value>) {
    match sec {
        Section::Basic => {
            let b = &e.basic;
            let r = &b.legal_representative;
            out.push(row(lb, json!({
                "QYMC": b.name, "TYSHXYDM": b.uscc, "QYLX": s(&b.enterprise_type), "DJZT": s(&b.status),
                "FDDBR": r.name, "FDDBR_ZJHM": s(&r.id_number), "FDDBR_SJHM": s(&r.phone),
                "ZCZB": money(b.registered_capital_cny), "CLRQ": od(&b.established_on),
                "ZCDZ": s(&b.registered_address), "JYFW": s(&b.business_scope), "DJJG": s(&b.registration_authority),
                "LXDH": s(&b.contact_phone), "JBZH": s(&b.bank_account),
            })));
        }
        Section::Licenses => out.extend(e.licenses.iter().map(|l| row(lb, json!({
            "XK_WSH": l.license_no, "XK_XMMC": l.name, "XK_XKLB": l.category.as_deref().map_or("", license_code),
            "XK_NR": s(&l.content), "XK_XKJG": l.authority, "XK_JDRQ": d(&l.decided_on),
            "XK_YXQZ": od(&l.valid_from), "XK_YXQJZ": od(&l.valid_to),
        })))),
        Section::Penalties => out.extend(e.penalties.iter().map(|p| {
            let r = p.legal_representative.as_ref();
            row(lb, json!({
                "CF_WSH": p.decision_no, "CF_CFLB": p.penalty_type, "CF_YJ": p.basis, "CF_NR": p.content,
                "CF_JE": money(p.amount_cny), "CF_CFJG": p.authority, "CF_JDRQ": d(&p.decided_on),
                "CF_GSJZQ": od(&p.publish_until), "CF_FR": r.map_or("", |r| r.name.as_str()),
                "CF_FR_ZJHM": r.map_or("", |r| s(&r.id_number)), "CF_FR_SJHM": r.map_or("", |r| s(&r.phone)),
            }))
        })),
        Section::Redlist | Section::Blacklist => {
            let list = if sec == Section::Redlist { &e.redlist } else { &e.blacklist };
            out.extend(list.iter().map(|l| row(lb, json!({
                "MD_MC": l.list_name, "MD_LRYY": l.basis, "MD_LRJG": l.authority, "MD_LRRQ": d(&l.listed_on),
                "MD_YXQZ": od(&l.expires_on), "MD_CS": s(&l.measures),
            }))));
        }
        Section::Dishonest => out.extend(e.dishonest.iter().map(|x| {
            let r = x.legal_representative.as_ref();
            row(lb, json!({
                "SX_AH": x.case_no, "SX_ZXFY": x.court, "SX_YW": x.obligation, "SX_LXQK": x.performance,
                "SX_QX": s(&x.circumstances), "SX_FBRQ": d(&x.published_on),
                "SX_FR": r.map_or("", |r| r.name.as_str()), "SX_FR_ZJHM": r.map_or("", |r| s(&r.id_number)),
                "SX_FR_SJHM": r.map_or("", |r| s(&r.phone)),
            }))
        })),
        Section::Abnormal => out.extend(e.abnormal.iter().map(|a| row(lb, json!({
            "YC_LRYY": a.reason, "YC_LRJG": a.authority, "YC_LRRQ": d(&a.listed_on),
            "YC_YCRQ": od(&a.removed_on), "YC_YCYY": s(&a.removal_reason),
        })))),
        Section::Commitments => out.extend(e.commitments.iter().map(|c| row(lb, json!({
            "CN_LX": c.kind, "CN_NR": c.content, "CN_RQ": d(&c.made_on), "CN_ZT": c.status,
        })))),
        Section::Repairs => out.extend(e.repairs.iter().map(|r| row(lb, json!({
            "XF_JLBH": r.repaired_record, "XF_LX": repair_code(&r.kind), "XF_RQ": d(&r.repaired_on),
            "XF_JG": r.authority, "XF_JGMS": r.result,
        })))),
        Section::Evaluation => out.extend(e.evaluation.iter().map(|v| row(lb, json!({
            "PJ_DJ": v.level, "PJ_RQ": d(&v.evaluated_on), "PJ_JG": v.evaluator, "PJ_YXQZ": od(&v.valid_until),
        })))),
    }
}

pub(super) fn report(e: Option<&SimEnterprise>, sections: &[Section]) -> Rendered {
    let Some(e) = e else { return not_found() };
    let mut out = Vec::new();
    for sec in in_order(sections) {
        let lb = CODES.iter().find(|(x, _)| *x == sec).map_or("", |(_, c)| c);
        section_rows(e, sec, lb, &mut out);
    }
    rows(200, "success", out)
}

pub(super) fn score(p: Option<&SimPerson>) -> Rendered {
    match p.and_then(|p| Some((p, p.score.as_ref()?))) {
        Some((p, sc)) => rows(
            200,
            "success",
            vec![row(
                "QJF",
                json!({ "ZJHM": p.id, "QJF": sc.value.to_string(), "PFRQ": d(&sc.issued_at) }),
            )],
        ),
        None => not_found(),
    }
}

fn kind_code(k: ListingKind) -> &'static str {
    match k {
        ListingKind::Blacklist => "HEIMD",
        ListingKind::Dishonest => "SXBZXR",
        ListingKind::Abnormal => "JYYC",
    }
}

pub(super) fn sanctions(answers: &[(&str, Option<Vec<Listing>>)]) -> Rendered {
    let Some((_, Some(listings))) = answers.first() else {
        return not_found();
    };
    let out = listings
        .iter()
        .map(|x| row(kind_code(x.kind), json!({
            "MD_MC": x.list_name, "MD_LRYY": x.basis, "MD_LRJG": x.authority, "MD_LRRQ": d(&x.listed_on),
        })))
        .collect();
    rows(200, "success", out)
}

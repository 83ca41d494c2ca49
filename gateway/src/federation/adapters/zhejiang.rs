//! `zhejiang-v2` (信用浙江): one JSON gateway endpoint.
//!
//! Every call is `POST /gateway/v2/query` with `{"service": …}`:
//! `credit.report` (`tyshxydm`, `items`), `credit.score` (`sfzh`) and
//! `lhjc.batch` (`subjects`, up to 100). Answers are
//! `{"success","errorCode","errorMsg","result"}` with snake_case keys,
//! `yyyy-MM-dd HH:mm:ss` Asia/Shanghai times and money as 万元 strings. The
//! province issues no personal scores (`E2001`); `E1004` is not found.

use credgate_policy::canonical::{
    AbnormalEntry, Basic, Commitment, DishonestEntry, EnterpriseRecord, Evaluation, License,
    ListEntry, Listing, ListingKind, NativeScore, Penalty, PersonRef, Repair, SanctionAnswer,
    Section, SectionData,
};
use serde::Deserialize;

use super::convert::{
    assemble, date, from_json, malformed, match_subjects, money, opt, opt_date, person, present,
    req, same_subject, section_codes, shanghai_instant, DateFormat::DashTime, Money::WanYuan,
};
use super::{Adapter, AdapterError, UpstreamRequest};

/// The `zhejiang-v2` adapter.
#[derive(Debug)]
pub struct ZhejiangV2;

const CODES: [(Section, &str); 10] = [
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<T> {
    success: Option<bool>,
    error_code: Option<String>,
    result: Option<T>,
}

#[derive(Deserialize)]
struct Person {
    name: Option<String>,
    cert_no: Option<String>,
    mobile: Option<String>,
}

#[derive(Deserialize)]
struct Report {
    tyshxydm: Option<String>,
    update_time: Option<String>,
    base_info: Option<BaseInfo>,
    admin_license: Option<Vec<AdminLicense>>,
    admin_penalty: Option<Vec<AdminPenalty>>,
    red_list: Option<Vec<ListItem>>,
    black_list: Option<Vec<ListItem>>,
    dishonest_debtor: Option<Vec<Debtor>>,
    abnormal_operation: Option<Vec<AbnormalItem>>,
    credit_commitment: Option<Vec<CommitmentItem>>,
    credit_repair: Option<Vec<RepairItem>>,
    #[serde(default, deserialize_with = "present")]
    credit_evaluation: Option<Option<EvaluationItem>>,
}

#[derive(Deserialize)]
struct BaseInfo {
    ent_name: Option<String>,
    credit_code: Option<String>,
    ent_type: Option<String>,
    reg_status: Option<String>,
    legal_person: Option<Person>,
    reg_capital: Option<String>,
    establish_date: Option<String>,
    address: Option<String>,
    business_scope: Option<String>,
    reg_authority: Option<String>,
    contact_tel: Option<String>,
    bank_account: Option<String>,
}

#[derive(Deserialize)]
struct AdminLicense {
    license_no: Option<String>,
    license_name: Option<String>,
    license_type: Option<String>,
    license_content: Option<String>,
    issuing_authority: Option<String>,
    decision_date: Option<String>,
    valid_from: Option<String>,
    valid_to: Option<String>,
}

#[derive(Deserialize)]
struct AdminPenalty {
    decision_no: Option<String>,
    penalty_type: Option<String>,
    legal_basis: Option<String>,
    penalty_content: Option<String>,
    fine_amount: Option<String>,
    authority: Option<String>,
    decision_date: Option<String>,
    publicity_deadline: Option<String>,
    legal_person: Option<Person>,
}

#[derive(Deserialize)]
struct ListItem {
    list_name: Option<String>,
    reason: Option<String>,
    authority: Option<String>,
    include_date: Option<String>,
    expire_date: Option<String>,
    measures: Option<String>,
}

#[derive(Deserialize)]
struct Debtor {
    case_code: Option<String>,
    court_name: Option<String>,
    duty: Option<String>,
    performance: Option<String>,
    disrupt_type_name: Option<String>,
    publish_date: Option<String>,
    legal_person: Option<Person>,
}

#[derive(Deserialize)]
struct AbnormalItem {
    include_reason: Option<String>,
    include_authority: Option<String>,
    include_date: Option<String>,
    remove_date: Option<String>,
    remove_reason: Option<String>,
}

#[derive(Deserialize)]
struct CommitmentItem {
    commit_type: Option<String>,
    commit_content: Option<String>,
    commit_date: Option<String>,
    fulfil_status: Option<String>,
}

#[derive(Deserialize)]
struct RepairItem {
    record_no: Option<String>,
    record_type: Option<String>,
    repair_date: Option<String>,
    repair_authority: Option<String>,
    repair_result: Option<String>,
}

#[derive(Deserialize)]
struct EvaluationItem {
    grade: Option<String>,
    eval_date: Option<String>,
    evaluator: Option<String>,
    valid_until: Option<String>,
}

#[derive(Deserialize)]
struct Batch {
    check_time: Option<String>,
    items: Option<Vec<BatchItem>>,
}

#[derive(Deserialize)]
struct BatchItem {
    subject: Option<String>,
    found: Option<bool>,
    hits: Option<Vec<Hit>>,
}

#[derive(Deserialize)]
struct Hit {
    list_type: Option<String>,
    list_name: Option<String>,
    reason: Option<String>,
    authority: Option<String>,
    include_date: Option<String>,
}

/// Checks status and envelope; returns `result` on success.
fn open<T>(status: u16, env: Envelope<T>) -> Result<T, AdapterError> {
    if !(200..300).contains(&status) {
        return Err(AdapterError::Upstream { status });
    }
    match (env.success, env.error_code.as_deref()) {
        (Some(true), _) => env
            .result
            .ok_or_else(|| malformed("missing field", "result")),
        (Some(false), Some("E1004")) => Err(AdapterError::NotFound),
        (Some(false), Some("E2001")) => Err(AdapterError::NoScores),
        (Some(false), Some(c)) if c.starts_with("E4") => {
            Err(AdapterError::Upstream { status: 400 })
        }
        (Some(false), _) => Err(AdapterError::Upstream { status: 502 }),
        (None, _) => Err(malformed("missing field", "success")),
    }
}

fn person_of(p: Option<Person>, path: &str) -> Result<Option<PersonRef>, AdapterError> {
    p.map(|p| person(p.name, p.cert_no, p.mobile, path))
        .transpose()
}

fn list<T, U>(
    v: Option<Vec<T>>,
    f: impl Fn(T) -> Result<U, AdapterError>,
) -> Result<Option<Vec<U>>, AdapterError> {
    v.map(|items| items.into_iter().map(f).collect())
        .transpose()
}

fn fulfil_status(code: Option<String>) -> Result<String, AdapterError> {
    let path = "result.credit_commitment[].fulfil_status";
    match code.as_deref() {
        Some("FULFILLED") => Ok("履约".into()),
        Some("UNFULFILLED") => Ok("未履约".into()),
        Some("IN_PROGRESS") => Ok("履约中".into()),
        Some(_) => Err(malformed("unknown code in", path)),
        None => Err(malformed("missing field", path)),
    }
}

fn repair_kind(code: Option<String>) -> Result<String, AdapterError> {
    let path = "result.credit_repair[].record_type";
    match code.as_deref() {
        Some("PENALTY") => Ok("penalty".into()),
        Some("ABNORMAL") => Ok("abnormal".into()),
        Some("BLACKLIST") => Ok("blacklist".into()),
        Some(_) => Err(malformed("unknown code in", path)),
        None => Err(malformed("missing field", path)),
    }
}

fn basic(b: BaseInfo) -> Result<Basic, AdapterError> {
    let rep = b
        .legal_person
        .ok_or_else(|| malformed("missing field", "result.base_info.legal_person"))?;
    Ok(Basic {
        name: req(b.ent_name, "result.base_info.ent_name")?,
        uscc: req(b.credit_code, "result.base_info.credit_code")?.to_ascii_uppercase(),
        enterprise_type: opt(b.ent_type),
        status: opt(b.reg_status),
        legal_representative: person(
            rep.name,
            rep.cert_no,
            rep.mobile,
            "result.base_info.legal_person.name",
        )?,
        registered_capital_cny: money(b.reg_capital, WanYuan, "result.base_info.reg_capital")?,
        established_on: opt_date(
            b.establish_date,
            DashTime,
            "result.base_info.establish_date",
        )?,
        registered_address: opt(b.address),
        business_scope: opt(b.business_scope),
        registration_authority: opt(b.reg_authority),
        contact_phone: opt(b.contact_tel),
        bank_account: opt(b.bank_account),
    })
}

fn listing(m: ListItem, key: &str) -> Result<ListEntry, AdapterError> {
    let p = |f: &str| format!("result.{key}[].{f}");
    Ok(ListEntry {
        list_name: req(m.list_name, &p("list_name"))?,
        basis: req(m.reason, &p("reason"))?,
        authority: req(m.authority, &p("authority"))?,
        listed_on: date(m.include_date, DashTime, &p("include_date"))?,
        expires_on: opt_date(m.expire_date, DashTime, &p("expire_date"))?,
        measures: opt(m.measures),
    })
}

fn section(r: &mut Report, s: Section) -> Result<Option<SectionData>, AdapterError> {
    Ok(match s {
        Section::Basic => r
            .base_info
            .take()
            .map(basic)
            .transpose()?
            .map(|b| SectionData::Basic(Box::new(b))),
        Section::Licenses => list(r.admin_license.take(), |l| {
            let p = |f: &str| format!("result.admin_license[].{f}");
            Ok(License {
                license_no: req(l.license_no, &p("license_no"))?,
                name: req(l.license_name, &p("license_name"))?,
                category: opt(l.license_type),
                content: opt(l.license_content),
                authority: req(l.issuing_authority, &p("issuing_authority"))?,
                decided_on: date(l.decision_date, DashTime, &p("decision_date"))?,
                valid_from: opt_date(l.valid_from, DashTime, &p("valid_from"))?,
                valid_to: opt_date(l.valid_to, DashTime, &p("valid_to"))?,
            })
        })?
        .map(SectionData::Licenses),
        Section::Penalties => list(r.admin_penalty.take(), |x| {
            let p = |f: &str| format!("result.admin_penalty[].{f}");
            Ok(Penalty {
                decision_no: req(x.decision_no, &p("decision_no"))?,
                penalty_type: req(x.penalty_type, &p("penalty_type"))?,
                basis: req(x.legal_basis, &p("legal_basis"))?,
                content: req(x.penalty_content, &p("penalty_content"))?,
                amount_cny: money(x.fine_amount, WanYuan, &p("fine_amount"))?,
                authority: req(x.authority, &p("authority"))?,
                decided_on: date(x.decision_date, DashTime, &p("decision_date"))?,
                publish_until: opt_date(x.publicity_deadline, DashTime, &p("publicity_deadline"))?,
                legal_representative: person_of(x.legal_person, &p("legal_person.name"))?,
            })
        })?
        .map(SectionData::Penalties),
        Section::Redlist => {
            list(r.red_list.take(), |m| listing(m, "red_list"))?.map(SectionData::Listings)
        }
        Section::Blacklist => {
            list(r.black_list.take(), |m| listing(m, "black_list"))?.map(SectionData::Listings)
        }
        Section::Dishonest => list(r.dishonest_debtor.take(), |x| {
            let p = |f: &str| format!("result.dishonest_debtor[].{f}");
            Ok(DishonestEntry {
                case_no: req(x.case_code, &p("case_code"))?,
                court: req(x.court_name, &p("court_name"))?,
                obligation: req(x.duty, &p("duty"))?,
                performance: req(x.performance, &p("performance"))?,
                circumstances: opt(x.disrupt_type_name),
                published_on: date(x.publish_date, DashTime, &p("publish_date"))?,
                legal_representative: person_of(x.legal_person, &p("legal_person.name"))?,
            })
        })?
        .map(SectionData::Dishonest),
        Section::Abnormal => list(r.abnormal_operation.take(), |a| {
            let p = |f: &str| format!("result.abnormal_operation[].{f}");
            Ok(AbnormalEntry {
                reason: req(a.include_reason, &p("include_reason"))?,
                authority: req(a.include_authority, &p("include_authority"))?,
                listed_on: date(a.include_date, DashTime, &p("include_date"))?,
                removed_on: opt_date(a.remove_date, DashTime, &p("remove_date"))?,
                removal_reason: opt(a.remove_reason),
            })
        })?
        .map(SectionData::Abnormal),
        Section::Commitments => list(r.credit_commitment.take(), |c| {
            let p = |f: &str| format!("result.credit_commitment[].{f}");
            Ok(Commitment {
                kind: req(c.commit_type, &p("commit_type"))?,
                content: req(c.commit_content, &p("commit_content"))?,
                made_on: date(c.commit_date, DashTime, &p("commit_date"))?,
                status: fulfil_status(c.fulfil_status)?,
            })
        })?
        .map(SectionData::Commitments),
        Section::Repairs => list(r.credit_repair.take(), |x| {
            let p = |f: &str| format!("result.credit_repair[].{f}");
            Ok(Repair {
                repaired_record: req(x.record_no, &p("record_no"))?,
                kind: repair_kind(x.record_type)?,
                repaired_on: date(x.repair_date, DashTime, &p("repair_date"))?,
                authority: req(x.repair_authority, &p("repair_authority"))?,
                result: req(x.repair_result, &p("repair_result"))?,
            })
        })?
        .map(SectionData::Repairs),
        Section::Evaluation => match r.credit_evaluation.take() {
            None => None,
            Some(None) => Some(SectionData::Evaluation(None)),
            Some(Some(v)) => {
                let p = |f: &str| format!("result.credit_evaluation.{f}");
                Some(SectionData::Evaluation(Some(Evaluation {
                    level: req(v.grade, &p("grade"))?,
                    evaluated_on: date(v.eval_date, DashTime, &p("eval_date"))?,
                    evaluator: req(v.evaluator, &p("evaluator"))?,
                    valid_until: opt_date(v.valid_until, DashTime, &p("valid_until"))?,
                })))
            }
        },
    })
}

fn listing_kind(code: Option<&str>) -> Result<ListingKind, AdapterError> {
    let path = "result.items[].hits[].list_type";
    match code {
        Some("BLACKLIST") => Ok(ListingKind::Blacklist),
        Some("DISHONEST") => Ok(ListingKind::Dishonest),
        Some("ABNORMAL") => Ok(ListingKind::Abnormal),
        Some(_) => Err(malformed("unknown code in", path)),
        None => Err(malformed("missing field", path)),
    }
}

fn post(body: serde_json::Value) -> UpstreamRequest {
    UpstreamRequest {
        method: http::Method::POST,
        path_and_query: "/gateway/v2/query".into(),
        content_type: Some("application/json"),
        body: body.to_string().into_bytes(),
    }
}

impl Adapter for ZhejiangV2 {
    fn name(&self) -> &'static str {
        "zhejiang-v2"
    }

    fn report_request(&self, uscc: &str, sections: &[Section]) -> UpstreamRequest {
        let items = section_codes(sections, &CODES);
        post(serde_json::json!({ "service": "credit.report", "tyshxydm": uscc, "items": items }))
    }

    fn parse_report(
        &self,
        uscc: &str,
        sections: &[Section],
        status: u16,
        body: &[u8],
    ) -> Result<EnterpriseRecord, AdapterError> {
        let env: Envelope<Report> = from_json(body)?;
        let mut r = open(status, env)?;
        let as_of = shanghai_instant(r.update_time.take(), "result.update_time")?;
        if !same_subject(uscc, r.tyshxydm.as_deref()) {
            return Err(malformed(
                "answer is for another subject in",
                "result.tyshxydm",
            ));
        }
        assemble(uscc, sections, &as_of, |s| section(&mut r, s))
    }

    fn score_request(&self, id_number: &str) -> UpstreamRequest {
        post(serde_json::json!({ "service": "credit.score", "sfzh": id_number }))
    }

    /// The province issues no personal scores: its answers are `E2001`
    /// (no score service: `NoScores`) or `E1004` (unknown person: `NotFound`).
    fn parse_score(
        &self,
        _id_number: &str,
        status: u16,
        body: &[u8],
    ) -> Result<NativeScore, AdapterError> {
        let env: Envelope<serde::de::IgnoredAny> = from_json(body)?;
        open(status, env)?;
        Err(AdapterError::Malformed(
            "a score answer from a platform that issues no scores".into(),
        ))
    }

    fn sanctions_batch_limit(&self) -> usize {
        100
    }

    fn sanctions_request(&self, subjects: &[String]) -> UpstreamRequest {
        post(serde_json::json!({ "service": "lhjc.batch", "subjects": subjects }))
    }

    fn parse_sanctions(
        &self,
        subjects: &[String],
        status: u16,
        body: &[u8],
    ) -> Result<Vec<SanctionAnswer>, AdapterError> {
        let env: Envelope<Batch> = from_json(body)?;
        let batch = open(status, env)?;
        let as_of = match batch.check_time {
            Some(t) => Some(shanghai_instant(Some(t), "result.check_time")?),
            None => None,
        };
        let items = batch
            .items
            .ok_or_else(|| malformed("missing field", "result.items"))?;
        let mut answers = Vec::with_capacity(items.len());
        for it in items {
            let p = |f: &str| format!("result.items[].hits[].{f}");
            let listings = it
                .hits
                .unwrap_or_default()
                .into_iter()
                .map(|h| {
                    Ok(Listing {
                        kind: listing_kind(h.list_type.as_deref())?,
                        list_name: req(h.list_name, &p("list_name"))?,
                        basis: req(h.reason, &p("reason"))?,
                        authority: req(h.authority, &p("authority"))?,
                        listed_on: date(h.include_date, DashTime, &p("include_date"))?,
                    })
                })
                .collect::<Result<Vec<_>, AdapterError>>()?;
            answers.push(SanctionAnswer {
                subject: req(it.subject, "result.items[].subject")?,
                known: it
                    .found
                    .ok_or_else(|| malformed("missing field", "result.items[].found"))?,
                listings,
                as_of: as_of.clone(),
            });
        }
        match_subjects(subjects, answers)
    }
}

#[cfg(test)]
mod tests;

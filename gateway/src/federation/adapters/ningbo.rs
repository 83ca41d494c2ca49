//! `ningbo-v1` (信用宁波): REST + JSON.
//!
//! Report `GET /api/v1/enterprise/{uscc}/credit?modules=jbxx,xzcf,…` →
//! `{"code":"0000","msg","data":{…},"ts":<epoch ms>}`; pinyin camelCase keys,
//! dates `yyyyMMdd`, money in fen; not found is `code` `4004` with HTTP 200.
//! Score `GET /api/v1/person/{id}/tianyi`; sanctions `POST /api/v1/lhjc/batch`
//! with `{"ztList":[…]}` (up to 50).

use credgate_policy::canonical::{
    AbnormalEntry, Basic, Commitment, DishonestEntry, EnterpriseRecord, Evaluation, License,
    ListEntry, Listing, ListingKind, NativeScore, Penalty, PersonRef, Repair, SanctionAnswer,
    Section, SectionData,
};
use serde::Deserialize;

use super::convert::{
    assemble, date, encode, epoch_ms_instant, fen_amount, from_json, malformed, match_subjects,
    opt, opt_date, person, present, req, same_subject, section_codes, DateFormat::Compact,
};
use super::{Adapter, AdapterError, UpstreamRequest};

/// The `ningbo-v1` adapter.
#[derive(Debug)]
pub struct NingboV1;

const CODES: [(Section, &str); 10] = [
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

#[derive(Deserialize)]
struct Envelope<T> {
    code: Option<String>,
    data: Option<T>,
    ts: Option<i64>,
}

#[derive(Deserialize)]
struct Person {
    xm: Option<String>,
    zjhm: Option<String>,
    sjhm: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    tyshxydm: Option<String>,
    jbxx: Option<Jbxx>,
    xzxk: Option<Vec<Xzxk>>,
    xzcf: Option<Vec<Xzcf>>,
    hongmd: Option<Vec<Md>>,
    heimd: Option<Vec<Md>>,
    sxbzxr: Option<Vec<Sx>>,
    jyyc: Option<Vec<Jyyc>>,
    xycn: Option<Vec<Xycn>>,
    xyxf: Option<Vec<Xyxf>>,
    #[serde(default, deserialize_with = "present")]
    ggxypj: Option<Option<Pj>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Jbxx {
    qymc: Option<String>,
    tyshxydm: Option<String>,
    qylx: Option<String>,
    djzt: Option<String>,
    fddbr: Option<Person>,
    zczb_fen: Option<i64>,
    clrq: Option<String>,
    zcdz: Option<String>,
    jyfw: Option<String>,
    djjg: Option<String>,
    lxdh: Option<String>,
    jbckzh: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Xzxk {
    xk_wsh: Option<String>,
    xk_xmmc: Option<String>,
    xk_lb: Option<String>,
    xk_nr: Option<String>,
    xk_jg: Option<String>,
    xk_jdrq: Option<String>,
    xk_yxq_zi: Option<String>,
    xk_yxq_zhi: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Xzcf {
    cf_wsh: Option<String>,
    cf_lb: Option<String>,
    cf_yj: Option<String>,
    cf_nr: Option<String>,
    cf_je_fen: Option<i64>,
    cf_jg: Option<String>,
    cf_jdrq: Option<String>,
    gs_jzrq: Option<String>,
    fddbr: Option<Person>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Md {
    md_mc: Option<String>,
    lr_yy: Option<String>,
    lr_jg: Option<String>,
    lr_rq: Option<String>,
    yxq_jzrq: Option<String>,
    lhjc_cs: Option<String>,
}

#[derive(Deserialize)]
struct Sx {
    ah: Option<String>,
    zxfy: Option<String>,
    yw: Option<String>,
    lxqk: Option<String>,
    sxqx: Option<String>,
    fbrq: Option<String>,
    fddbr: Option<Person>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Jyyc {
    lr_yy: Option<String>,
    lr_jg: Option<String>,
    lr_rq: Option<String>,
    yc_rq: Option<String>,
    yc_yy: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Xycn {
    cn_lx: Option<String>,
    cn_nr: Option<String>,
    cn_rq: Option<String>,
    ly_zt: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Xyxf {
    xf_jlbh: Option<String>,
    xf_lx: Option<String>,
    xf_rq: Option<String>,
    xf_jg: Option<String>,
    xf_jgms: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pj {
    pj_dj: Option<String>,
    pj_rq: Option<String>,
    pj_jg: Option<String>,
    yxqz: Option<String>,
}

#[derive(Deserialize)]
struct Score {
    zjhm: Option<String>,
    tyf: Option<f64>,
    pfrq: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Batch {
    jg_list: Option<Vec<BatchItem>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchItem {
    ztbs: Option<String>,
    sfcz: Option<bool>,
    md_list: Option<Vec<BatchMd>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchMd {
    mdlx: Option<String>,
    md_mc: Option<String>,
    lr_yy: Option<String>,
    lr_jg: Option<String>,
    lr_rq: Option<String>,
}

/// Checks status and envelope; returns `data` and `ts` on success.
fn open<T>(status: u16, env: Envelope<T>) -> Result<(Option<T>, Option<i64>), AdapterError> {
    if !(200..300).contains(&status) {
        return Err(AdapterError::Upstream { status });
    }
    match env.code.as_deref() {
        Some("0000") => Ok((env.data, env.ts)),
        Some("4004") => Err(AdapterError::NotFound),
        Some(c) if c.starts_with('4') => Err(AdapterError::Upstream { status: 400 }),
        Some(_) => Err(AdapterError::Upstream { status: 502 }),
        None => Err(malformed("missing field", "code")),
    }
}

fn person_of(p: Option<Person>, path: &str) -> Result<Option<PersonRef>, AdapterError> {
    p.map(|p| person(p.xm, p.zjhm, p.sjhm, path)).transpose()
}

fn list<T, U>(
    v: Option<Vec<T>>,
    f: impl Fn(T) -> Result<U, AdapterError>,
) -> Result<Option<Vec<U>>, AdapterError> {
    v.map(|items| items.into_iter().map(f).collect())
        .transpose()
}

fn repair_kind(code: Option<String>) -> Result<String, AdapterError> {
    match code.as_deref() {
        Some("xzcf") => Ok("penalty".into()),
        Some("jyyc") => Ok("abnormal".into()),
        Some("heimd") => Ok("blacklist".into()),
        Some(_) => Err(malformed("unknown code in", "data.xyxf[].xfLx")),
        None => Err(malformed("missing field", "data.xyxf[].xfLx")),
    }
}

fn basic(b: Jbxx) -> Result<Basic, AdapterError> {
    let rep = b
        .fddbr
        .ok_or_else(|| malformed("missing field", "data.jbxx.fddbr"))?;
    Ok(Basic {
        name: req(b.qymc, "data.jbxx.qymc")?,
        uscc: req(b.tyshxydm, "data.jbxx.tyshxydm")?.to_ascii_uppercase(),
        enterprise_type: opt(b.qylx),
        status: opt(b.djzt),
        legal_representative: person(rep.xm, rep.zjhm, rep.sjhm, "data.jbxx.fddbr.xm")?,
        registered_capital_cny: fen_amount(b.zczb_fen, "data.jbxx.zczbFen")?,
        established_on: opt_date(b.clrq, Compact, "data.jbxx.clrq")?,
        registered_address: opt(b.zcdz),
        business_scope: opt(b.jyfw),
        registration_authority: opt(b.djjg),
        contact_phone: opt(b.lxdh),
        bank_account: opt(b.jbckzh),
    })
}

fn listing(m: Md, path: &str) -> Result<ListEntry, AdapterError> {
    let p = |f: &str| format!("data.{path}[].{f}");
    Ok(ListEntry {
        list_name: req(m.md_mc, &p("mdMc"))?,
        basis: req(m.lr_yy, &p("lrYy"))?,
        authority: req(m.lr_jg, &p("lrJg"))?,
        listed_on: date(m.lr_rq, Compact, &p("lrRq"))?,
        expires_on: opt_date(m.yxq_jzrq, Compact, &p("yxqJzrq"))?,
        measures: opt(m.lhjc_cs),
    })
}

fn section(d: &mut Data, s: Section) -> Result<Option<SectionData>, AdapterError> {
    Ok(match s {
        Section::Basic => d
            .jbxx
            .take()
            .map(basic)
            .transpose()?
            .map(|b| SectionData::Basic(Box::new(b))),
        Section::Licenses => list(d.xzxk.take(), |l| {
            Ok(License {
                license_no: req(l.xk_wsh, "data.xzxk[].xkWsh")?,
                name: req(l.xk_xmmc, "data.xzxk[].xkXmmc")?,
                category: opt(l.xk_lb),
                content: opt(l.xk_nr),
                authority: req(l.xk_jg, "data.xzxk[].xkJg")?,
                decided_on: date(l.xk_jdrq, Compact, "data.xzxk[].xkJdrq")?,
                valid_from: opt_date(l.xk_yxq_zi, Compact, "data.xzxk[].xkYxqZi")?,
                valid_to: opt_date(l.xk_yxq_zhi, Compact, "data.xzxk[].xkYxqZhi")?,
            })
        })?
        .map(SectionData::Licenses),
        Section::Penalties => list(d.xzcf.take(), |p| {
            Ok(Penalty {
                decision_no: req(p.cf_wsh, "data.xzcf[].cfWsh")?,
                penalty_type: req(p.cf_lb, "data.xzcf[].cfLb")?,
                basis: req(p.cf_yj, "data.xzcf[].cfYj")?,
                content: req(p.cf_nr, "data.xzcf[].cfNr")?,
                amount_cny: fen_amount(p.cf_je_fen, "data.xzcf[].cfJeFen")?,
                authority: req(p.cf_jg, "data.xzcf[].cfJg")?,
                decided_on: date(p.cf_jdrq, Compact, "data.xzcf[].cfJdrq")?,
                publish_until: opt_date(p.gs_jzrq, Compact, "data.xzcf[].gsJzrq")?,
                legal_representative: person_of(p.fddbr, "data.xzcf[].fddbr.xm")?,
            })
        })?
        .map(SectionData::Penalties),
        Section::Redlist => {
            list(d.hongmd.take(), |m| listing(m, "hongmd"))?.map(SectionData::Listings)
        }
        Section::Blacklist => {
            list(d.heimd.take(), |m| listing(m, "heimd"))?.map(SectionData::Listings)
        }
        Section::Dishonest => list(d.sxbzxr.take(), |x| {
            Ok(DishonestEntry {
                case_no: req(x.ah, "data.sxbzxr[].ah")?,
                court: req(x.zxfy, "data.sxbzxr[].zxfy")?,
                obligation: req(x.yw, "data.sxbzxr[].yw")?,
                performance: req(x.lxqk, "data.sxbzxr[].lxqk")?,
                circumstances: opt(x.sxqx),
                published_on: date(x.fbrq, Compact, "data.sxbzxr[].fbrq")?,
                legal_representative: person_of(x.fddbr, "data.sxbzxr[].fddbr.xm")?,
            })
        })?
        .map(SectionData::Dishonest),
        Section::Abnormal => list(d.jyyc.take(), |a| {
            Ok(AbnormalEntry {
                reason: req(a.lr_yy, "data.jyyc[].lrYy")?,
                authority: req(a.lr_jg, "data.jyyc[].lrJg")?,
                listed_on: date(a.lr_rq, Compact, "data.jyyc[].lrRq")?,
                removed_on: opt_date(a.yc_rq, Compact, "data.jyyc[].ycRq")?,
                removal_reason: opt(a.yc_yy),
            })
        })?
        .map(SectionData::Abnormal),
        Section::Commitments => list(d.xycn.take(), |c| {
            Ok(Commitment {
                kind: req(c.cn_lx, "data.xycn[].cnLx")?,
                content: req(c.cn_nr, "data.xycn[].cnNr")?,
                made_on: date(c.cn_rq, Compact, "data.xycn[].cnRq")?,
                status: req(c.ly_zt, "data.xycn[].lyZt")?,
            })
        })?
        .map(SectionData::Commitments),
        Section::Repairs => list(d.xyxf.take(), |r| {
            Ok(Repair {
                repaired_record: req(r.xf_jlbh, "data.xyxf[].xfJlbh")?,
                kind: repair_kind(r.xf_lx)?,
                repaired_on: date(r.xf_rq, Compact, "data.xyxf[].xfRq")?,
                authority: req(r.xf_jg, "data.xyxf[].xfJg")?,
                result: req(r.xf_jgms, "data.xyxf[].xfJgms")?,
            })
        })?
        .map(SectionData::Repairs),
        Section::Evaluation => match d.ggxypj.take() {
            None => None,
            Some(None) => Some(SectionData::Evaluation(None)),
            Some(Some(v)) => Some(SectionData::Evaluation(Some(Evaluation {
                level: req(v.pj_dj, "data.ggxypj.pjDj")?,
                evaluated_on: date(v.pj_rq, Compact, "data.ggxypj.pjRq")?,
                evaluator: req(v.pj_jg, "data.ggxypj.pjJg")?,
                valid_until: opt_date(v.yxqz, Compact, "data.ggxypj.yxqz")?,
            }))),
        },
    })
}

fn listing_kind(code: Option<&str>) -> Result<ListingKind, AdapterError> {
    match code {
        Some("heimd") => Ok(ListingKind::Blacklist),
        Some("sxbzxr") => Ok(ListingKind::Dishonest),
        Some("jyyc") => Ok(ListingKind::Abnormal),
        Some(_) => Err(malformed("unknown code in", "data.jgList[].mdList[].mdlx")),
        None => Err(malformed("missing field", "data.jgList[].mdList[].mdlx")),
    }
}

impl Adapter for NingboV1 {
    fn name(&self) -> &'static str {
        "ningbo-v1"
    }

    fn report_request(&self, uscc: &str, sections: &[Section]) -> UpstreamRequest {
        let modules = section_codes(sections, &CODES).join(",");
        UpstreamRequest {
            method: http::Method::GET,
            path_and_query: format!(
                "/api/v1/enterprise/{}/credit?modules={modules}",
                encode(uscc)
            ),
            content_type: None,
            body: Vec::new(),
        }
    }

    fn parse_report(
        &self,
        uscc: &str,
        sections: &[Section],
        status: u16,
        body: &[u8],
    ) -> Result<EnterpriseRecord, AdapterError> {
        let env: Envelope<Data> = from_json(body)?;
        let (data, ts) = open(status, env)?;
        let mut data = data.ok_or_else(|| malformed("missing field", "data"))?;
        let as_of = epoch_ms_instant(ts, "ts")?;
        if !same_subject(uscc, data.tyshxydm.as_deref()) {
            return Err(malformed(
                "answer is for another subject in",
                "data.tyshxydm",
            ));
        }
        assemble(uscc, sections, &as_of, |s| section(&mut data, s))
    }

    fn score_request(&self, id_number: &str) -> UpstreamRequest {
        UpstreamRequest {
            method: http::Method::GET,
            path_and_query: format!("/api/v1/person/{}/tianyi", encode(id_number)),
            content_type: None,
            body: Vec::new(),
        }
    }

    fn parse_score(
        &self,
        id_number: &str,
        status: u16,
        body: &[u8],
    ) -> Result<NativeScore, AdapterError> {
        let env: Envelope<Score> = from_json(body)?;
        let (data, _) = open(status, env)?;
        let s = data.ok_or_else(|| malformed("missing field", "data"))?;
        if !same_subject(id_number, s.zjhm.as_deref()) {
            return Err(malformed("answer is for another subject in", "data.zjhm"));
        }
        let value = s
            .tyf
            .filter(|v| v.is_finite())
            .ok_or_else(|| malformed("missing field", "data.tyf"))?;
        Ok(NativeScore {
            scheme: "tianyi".into(),
            value,
            issued_at: date(s.pfrq, Compact, "data.pfrq")?,
            issuer: "xinyong-ningbo".into(),
        })
    }

    fn sanctions_batch_limit(&self) -> usize {
        50
    }

    fn sanctions_request(&self, subjects: &[String]) -> UpstreamRequest {
        UpstreamRequest {
            method: http::Method::POST,
            path_and_query: "/api/v1/lhjc/batch".into(),
            content_type: Some("application/json"),
            body: serde_json::json!({ "ztList": subjects })
                .to_string()
                .into_bytes(),
        }
    }

    fn parse_sanctions(
        &self,
        subjects: &[String],
        status: u16,
        body: &[u8],
    ) -> Result<Vec<SanctionAnswer>, AdapterError> {
        let env: Envelope<Batch> = from_json(body)?;
        let (data, ts) = open(status, env)?;
        let as_of = ts.map(|t| epoch_ms_instant(Some(t), "ts")).transpose()?;
        let items = data
            .and_then(|d| d.jg_list)
            .ok_or_else(|| malformed("missing field", "data.jgList"))?;
        let mut answers = Vec::with_capacity(items.len());
        for it in items {
            let subject = req(it.ztbs, "data.jgList[].ztbs")?.to_ascii_uppercase();
            let listings = it
                .md_list
                .unwrap_or_default()
                .into_iter()
                .map(|m| {
                    Ok(Listing {
                        kind: listing_kind(m.mdlx.as_deref())?,
                        list_name: req(m.md_mc, "data.jgList[].mdList[].mdMc")?,
                        basis: req(m.lr_yy, "data.jgList[].mdList[].lrYy")?,
                        authority: req(m.lr_jg, "data.jgList[].mdList[].lrJg")?,
                        listed_on: date(m.lr_rq, Compact, "data.jgList[].mdList[].lrRq")?,
                    })
                })
                .collect::<Result<Vec<_>, AdapterError>>()?;
            let known = it
                .sfcz
                .ok_or_else(|| malformed("missing field", "data.jgList[].sfcz"))?;
            answers.push(SanctionAnswer {
                subject,
                known,
                listings,
                as_of: as_of.clone(),
            });
        }
        match_subjects(subjects, answers)
    }
}

#[cfg(test)]
mod tests;

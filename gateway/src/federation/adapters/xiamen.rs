//! `xiamen-v1` (厦门): XML.
//!
//! Report `GET /xmcredit/report?code=…&sections=JBXX,XZCF,…` →
//! `<Response><Head><Code>00</Code><Msg/><AsOf>yyyy年MM月dd日</AsOf></Head>
//! <Body><JBXX>…</JBXX><XZCF><Item>…</Item></XZCF></Body></Response>`; `Code`
//! `00` ok, `01` not found, `02` bad request; money `12,000.00` yuan; optional
//! facts are left out or empty. Score `GET /xmcredit/bailu?sfzh=…`; sanctions
//! `POST /xmcredit/lhjc` with `<Request><Subjects><Code>…</Code></Subjects>
//! </Request>` (up to 20).

use credgate_policy::canonical::{
    AbnormalEntry, Basic, Commitment, DishonestEntry, EnterpriseRecord, Evaluation, License,
    ListEntry, Listing, ListingKind, NativeScore, Penalty, PersonRef, Repair, SanctionAnswer,
    Section, SectionData,
};
use quick_xml::events::Event;

use super::convert::{
    assemble, date, date_as_instant, encode, malformed, match_subjects, missing_field, money, opt,
    opt_date, person, req, same_subject, score_value, section_codes, DateFormat::Chinese,
    Money::YuanGrouped,
};
use super::{Adapter, AdapterError, UpstreamRequest};
use wire::{Body, Head, Items, Jbxx, LegalRep, Md, Response, Text};

mod wire;

/// The `xiamen-v1` adapter.
#[derive(Debug)]
pub struct XiamenV1;

const CODES: [(Section, &str); 10] = [
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

/// Whether the document's root element is `<Response>`.
fn root_is_response(xml: &str) -> bool {
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => return e.name().as_ref() == b"Response",
            Ok(Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_)) => {}
            Ok(Event::Text(t)) if t.iter().all(u8::is_ascii_whitespace) => {}
            _ => return false,
        }
    }
}

fn xml_error(e: &quick_xml::DeError) -> AdapterError {
    use quick_xml::DeError;
    let reason = match e {
        DeError::Custom(m) => match missing_field(m) {
            Some(f) => format!("missing field `{f}`"),
            None => "XML does not match the format".to_owned(),
        },
        DeError::InvalidXml(_) => "invalid XML".to_owned(),
        DeError::UnexpectedEof => "truncated XML".to_owned(),
        _ => "XML does not match the format".to_owned(),
    };
    AdapterError::Malformed(reason)
}

/// Checks status, root and `Head.Code`; returns head and body on success.
/// The envelope is read first, whatever the HTTP status: a non-2xx
/// answer in it is the platform's own refusal, while one whose body is not
/// (a proxy's or WAF's HTML page) is `Malformed`, which the caller counts
/// against the platform's breaker.
fn open(status: u16, body: &[u8]) -> Result<(Head, Body), AdapterError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| AdapterError::Malformed("body is not UTF-8".into()))?;
    if !root_is_response(text) {
        return Err(AdapterError::Malformed(
            "root element is not `Response`".into(),
        ));
    }
    let resp: Response = quick_xml::de::from_str(text).map_err(|e| xml_error(&e))?;
    if !(200..300).contains(&status) {
        return Err(AdapterError::Upstream { status });
    }
    let head = resp
        .head
        .ok_or_else(|| malformed("missing field", "Response.Head"))?;
    match head.code.as_deref() {
        Some("00") => {}
        Some("01") => return Err(AdapterError::NotFound),
        Some("02") => return Err(AdapterError::Upstream { status: 400 }),
        Some(_) => return Err(AdapterError::Upstream { status: 502 }),
        None => return Err(malformed("missing field", "Head.Code")),
    }
    let body = resp
        .body
        .ok_or_else(|| malformed("missing field", "Response.Body"))?;
    Ok((head, body))
}

fn rep(p: Option<LegalRep>, path: &str) -> Result<Option<PersonRef>, AdapterError> {
    p.map(|p| person(p.name, p.id_no, p.mobile, path))
        .transpose()
}

fn items<T, U>(
    v: Option<Items<T>>,
    f: impl Fn(T) -> Result<U, AdapterError>,
) -> Result<Option<Vec<U>>, AdapterError> {
    v.map(|i| i.items.into_iter().map(f).collect()).transpose()
}

fn basic(b: Jbxx) -> Result<Basic, AdapterError> {
    let r = b
        .legal_rep
        .ok_or_else(|| malformed("missing field", "JBXX.LegalRep"))?;
    Ok(Basic {
        name: req(b.name, "JBXX.Name")?,
        uscc: req(b.credit_code, "JBXX.CreditCode")?.to_ascii_uppercase(),
        enterprise_type: opt(b.ent_type),
        status: opt(b.status),
        legal_representative: person(r.name, r.id_no, r.mobile, "JBXX.LegalRep.Name")?,
        registered_capital_cny: money(b.reg_capital, YuanGrouped, "JBXX.RegCapital")?,
        established_on: opt_date(b.establish_date, Chinese, "JBXX.EstablishDate")?,
        registered_address: opt(b.address),
        business_scope: opt(b.scope),
        registration_authority: opt(b.reg_org),
        contact_phone: opt(b.tel),
        bank_account: opt(b.bank_account),
    })
}

fn listing(m: Md, tag: &str) -> Result<ListEntry, AdapterError> {
    let p = |f: &str| format!("{tag}.Item.{f}");
    Ok(ListEntry {
        list_name: req(m.list_name, &p("ListName"))?,
        basis: req(m.reason, &p("Reason"))?,
        authority: req(m.org, &p("Org"))?,
        listed_on: date(m.in_date, Chinese, &p("InDate"))?,
        expires_on: opt_date(m.out_date, Chinese, &p("OutDate"))?,
        measures: opt(m.measures),
    })
}

fn record_type(t: Text) -> Result<String, AdapterError> {
    match t.as_deref() {
        Some("行政处罚") => Ok("penalty".into()),
        Some("经营异常") => Ok("abnormal".into()),
        Some("严重失信") => Ok("blacklist".into()),
        Some(_) => Err(malformed("unknown code in", "XFXX.Item.RecordType")),
        None => Err(malformed("missing field", "XFXX.Item.RecordType")),
    }
}

fn level(t: Text) -> Result<String, AdapterError> {
    let s = req(t, "PJXX.Level")?;
    let l = s.strip_suffix('级').unwrap_or(&s);
    match l {
        "A" | "B" | "C" | "D" => Ok(l.to_owned()),
        _ => Err(malformed("unknown code in", "PJXX.Level")),
    }
}

fn section(b: &mut Body, s: Section) -> Result<Option<SectionData>, AdapterError> {
    Ok(match s {
        Section::Basic => b
            .jbxx
            .take()
            .map(basic)
            .transpose()?
            .map(|x| SectionData::Basic(Box::new(x))),
        Section::Licenses => items(b.xzxk.take(), |l| {
            Ok(License {
                license_no: req(l.doc_no, "XZXK.Item.DocNo")?,
                name: req(l.name, "XZXK.Item.Name")?,
                category: opt(l.category),
                content: opt(l.content),
                authority: req(l.org, "XZXK.Item.Org")?,
                decided_on: date(l.decision_date, Chinese, "XZXK.Item.DecisionDate")?,
                valid_from: opt_date(l.valid_from, Chinese, "XZXK.Item.ValidFrom")?,
                valid_to: opt_date(l.valid_to, Chinese, "XZXK.Item.ValidTo")?,
            })
        })?
        .map(SectionData::Licenses),
        Section::Penalties => items(b.xzcf.take(), |p| {
            Ok(Penalty {
                decision_no: req(p.doc_no, "XZCF.Item.DocNo")?,
                penalty_type: req(p.kind, "XZCF.Item.Type")?,
                basis: req(p.basis, "XZCF.Item.Basis")?,
                content: req(p.content, "XZCF.Item.Content")?,
                amount_cny: money(p.amount, YuanGrouped, "XZCF.Item.Amount")?,
                authority: req(p.org, "XZCF.Item.Org")?,
                decided_on: date(p.decision_date, Chinese, "XZCF.Item.DecisionDate")?,
                publish_until: opt_date(p.publish_until, Chinese, "XZCF.Item.PublishUntil")?,
                legal_representative: rep(p.legal_rep, "XZCF.Item.LegalRep.Name")?,
            })
        })?
        .map(SectionData::Penalties),
        Section::Redlist => {
            items(b.hongmd.take(), |m| listing(m, "HONGMD"))?.map(SectionData::Listings)
        }
        Section::Blacklist => {
            items(b.heimd.take(), |m| listing(m, "HEIMD"))?.map(SectionData::Listings)
        }
        Section::Dishonest => items(b.sxr.take(), |x| {
            Ok(DishonestEntry {
                case_no: req(x.case_no, "SXR.Item.CaseNo")?,
                court: req(x.court, "SXR.Item.Court")?,
                obligation: req(x.duty, "SXR.Item.Duty")?,
                performance: req(x.performance, "SXR.Item.Performance")?,
                circumstances: opt(x.situation),
                published_on: date(x.publish_date, Chinese, "SXR.Item.PublishDate")?,
                legal_representative: rep(x.legal_rep, "SXR.Item.LegalRep.Name")?,
            })
        })?
        .map(SectionData::Dishonest),
        Section::Abnormal => items(b.jyyc.take(), |a| {
            Ok(AbnormalEntry {
                reason: req(a.reason, "JYYC.Item.Reason")?,
                authority: req(a.org, "JYYC.Item.Org")?,
                listed_on: date(a.in_date, Chinese, "JYYC.Item.InDate")?,
                removed_on: opt_date(a.out_date, Chinese, "JYYC.Item.OutDate")?,
                removal_reason: opt(a.out_reason),
            })
        })?
        .map(SectionData::Abnormal),
        Section::Commitments => items(b.cnxx.take(), |c| {
            Ok(Commitment {
                kind: req(c.kind, "CNXX.Item.Type")?,
                content: req(c.content, "CNXX.Item.Content")?,
                made_on: date(c.date, Chinese, "CNXX.Item.Date")?,
                status: req(c.status, "CNXX.Item.Status")?,
            })
        })?
        .map(SectionData::Commitments),
        Section::Repairs => items(b.xfxx.take(), |r| {
            Ok(Repair {
                repaired_record: req(r.record_no, "XFXX.Item.RecordNo")?,
                kind: record_type(r.record_type)?,
                repaired_on: date(r.date, Chinese, "XFXX.Item.Date")?,
                authority: req(r.org, "XFXX.Item.Org")?,
                result: req(r.result, "XFXX.Item.Result")?,
            })
        })?
        .map(SectionData::Repairs),
        Section::Evaluation => match b.pjxx.take() {
            None => None,
            Some(v) if opt(v.level.clone()).is_none() => Some(SectionData::Evaluation(None)),
            Some(v) => Some(SectionData::Evaluation(Some(Evaluation {
                level: level(v.level)?,
                evaluated_on: date(v.date, Chinese, "PJXX.Date")?,
                evaluator: req(v.org, "PJXX.Org")?,
                valid_until: opt_date(v.valid_until, Chinese, "PJXX.ValidUntil")?,
            }))),
        },
    })
}

fn listing_kind(t: Option<&str>) -> Result<ListingKind, AdapterError> {
    match t {
        Some("黑名单") => Ok(ListingKind::Blacklist),
        Some("失信被执行人") => Ok(ListingKind::Dishonest),
        Some("经营异常") => Ok(ListingKind::Abnormal),
        Some(_) => Err(malformed("unknown code in", "Result.Hits.Hit.Type")),
        None => Err(malformed("missing field", "Result.Hits.Hit.Type")),
    }
}

fn get(path_and_query: String) -> UpstreamRequest {
    UpstreamRequest {
        method: http::Method::GET,
        path_and_query,
        content_type: None,
        body: Vec::new(),
    }
}

impl Adapter for XiamenV1 {
    fn name(&self) -> &'static str {
        "xiamen-v1"
    }

    fn report_request(&self, uscc: &str, sections: &[Section]) -> UpstreamRequest {
        let codes = section_codes(sections, &CODES).join(",");
        get(format!(
            "/xmcredit/report?code={}&sections={codes}",
            encode(uscc)
        ))
    }

    fn parse_report(
        &self,
        uscc: &str,
        sections: &[Section],
        status: u16,
        body: &[u8],
    ) -> Result<EnterpriseRecord, AdapterError> {
        let (head, mut b) = open(status, body)?;
        let as_of = date_as_instant(head.as_of, Chinese, "Head.AsOf")?;
        let named = b.jbxx.as_ref().and_then(|j| j.credit_code.as_deref());
        if !same_subject(uscc, named) {
            return Err(malformed(
                "answer is for another subject in",
                "JBXX.CreditCode",
            ));
        }
        assemble(uscc, sections, &as_of, |s| section(&mut b, s))
    }

    fn score_request(&self, id_number: &str) -> UpstreamRequest {
        get(format!("/xmcredit/bailu?sfzh={}", encode(id_number)))
    }

    fn parse_score(
        &self,
        id_number: &str,
        status: u16,
        body: &[u8],
    ) -> Result<NativeScore, AdapterError> {
        let (_, b) = open(status, body)?;
        let s = b
            .blf
            .ok_or_else(|| malformed("missing field", "Body.BLF"))?;
        if !same_subject(id_number, s.sfzh.as_deref()) {
            return Err(malformed("answer is for another subject in", "BLF.Sfzh"));
        }
        Ok(NativeScore {
            scheme: "bailu".into(),
            value: score_value(s.score, "BLF.Score")?,
            issued_at: date(s.date, Chinese, "BLF.Date")?,
            issuer: "xiamen".into(),
        })
    }

    fn sanctions_batch_limit(&self) -> usize {
        20
    }

    fn sanctions_request(&self, subjects: &[String]) -> UpstreamRequest {
        let mut xml = String::from(r#"<?xml version="1.0" encoding="UTF-8"?><Request><Subjects>"#);
        for s in subjects {
            xml.push_str("<Code>");
            xml.push_str(&quick_xml::escape::escape(s.as_str()));
            xml.push_str("</Code>");
        }
        xml.push_str("</Subjects></Request>");
        UpstreamRequest {
            method: http::Method::POST,
            path_and_query: "/xmcredit/lhjc".into(),
            content_type: Some("application/xml; charset=utf-8"),
            body: xml.into_bytes(),
        }
    }

    fn parse_sanctions(
        &self,
        subjects: &[String],
        status: u16,
        body: &[u8],
    ) -> Result<Vec<SanctionAnswer>, AdapterError> {
        let (head, b) = open(status, body)?;
        let as_of = match head.as_of {
            Some(d) => Some(date_as_instant(Some(d), Chinese, "Head.AsOf")?),
            None => None,
        };
        let mut answers = Vec::with_capacity(b.results.len());
        for r in b.results {
            let listings = r
                .hits
                .map(|h| h.hits)
                .unwrap_or_default()
                .into_iter()
                .map(|h| {
                    Ok(Listing {
                        kind: listing_kind(h.kind.as_deref())?,
                        list_name: req(h.list_name, "Result.Hits.Hit.ListName")?,
                        basis: req(h.reason, "Result.Hits.Hit.Reason")?,
                        authority: req(h.org, "Result.Hits.Hit.Org")?,
                        listed_on: date(h.in_date, Chinese, "Result.Hits.Hit.InDate")?,
                    })
                })
                .collect::<Result<Vec<_>, AdapterError>>()?;
            let known = match r.known.as_deref() {
                Some("Y") => true,
                Some("N") => false,
                Some(_) => return Err(malformed("unknown code in", "Result.Known")),
                None => return Err(malformed("missing field", "Result.Known")),
            };
            answers.push(SanctionAnswer {
                subject: req(r.code, "Result.Code")?,
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

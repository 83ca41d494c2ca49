//! `hangzhou-v1` (杭州): GET with query parameters, rows of 双公示-style
//! upper-case field codes.
//!
//! Report `GET /hz/credit/v1/qy?tyshxydm=…&lb=JBXX,XZCF,…` →
//! `{"status":200,"message","gxsj":"yyyy/MM/dd","total":n,"rows":[{"lb":"XZCF",
//! "fields":{"CF_WSH":…}}]}`; every value is a string (`""` when empty), dates
//! `yyyy/MM/dd`, money in yuan (`12000.00`); not found is body `status` 404.
//! Score `GET /hz/credit/v1/qjf?zjhm=…`; sanctions one subject per call,
//! `GET /hz/credit/v1/lhjc?zjhm=…`.

use credgate_policy::canonical::{
    AbnormalEntry, Basic, Commitment, DishonestEntry, EnterpriseRecord, Evaluation, License,
    ListEntry, Listing, ListingKind, NativeScore, Penalty, PersonRef, Repair, SanctionAnswer,
    Section, SectionData,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::convert::{
    assemble, date, date_as_instant, encode, from_json, malformed, money, opt, opt_date, req,
    same_subject, score_value, section_codes, DateFormat::Slash, Money::Yuan,
};
use super::{Adapter, AdapterError, UpstreamRequest};

/// The `hangzhou-v1` adapter.
#[derive(Debug)]
pub struct HangzhouV1;

const CODES: [(Section, &str); 10] = [
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

#[derive(Deserialize)]
struct Envelope {
    status: Option<i64>,
    gxsj: Option<String>,
    rows: Option<Vec<Row>>,
}

#[derive(Deserialize)]
struct Row {
    lb: Option<String>,
    fields: Option<Map<String, Value>>,
}

/// One row's fields, with the row's category for error paths.
struct Fields<'a> {
    lb: &'a str,
    map: &'a Map<String, Value>,
}

impl Fields<'_> {
    fn path(&self, key: &str) -> String {
        format!("rows[{}].fields.{key}", self.lb)
    }

    /// A field as text: strings as is, numbers in their JSON form.
    fn get(&self, key: &str) -> Result<Option<String>, AdapterError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(malformed("unexpected value type in", &self.path(key))),
        }
    }

    fn req(&self, key: &str) -> Result<String, AdapterError> {
        req(self.get(key)?, &self.path(key))
    }

    fn opt(&self, key: &str) -> Result<Option<String>, AdapterError> {
        Ok(opt(self.get(key)?))
    }

    fn date(&self, key: &str) -> Result<String, AdapterError> {
        date(self.get(key)?, Slash, &self.path(key))
    }

    fn opt_date(&self, key: &str) -> Result<Option<String>, AdapterError> {
        opt_date(self.get(key)?, Slash, &self.path(key))
    }

    fn money(&self, key: &str) -> Result<Option<f64>, AdapterError> {
        money(self.get(key)?, Yuan, &self.path(key))
    }

    /// An optional person from a name field and its ID/phone fields.
    fn person(&self, name: &str, id: &str, phone: &str) -> Result<Option<PersonRef>, AdapterError> {
        Ok(match self.opt(name)? {
            None => None,
            Some(n) => Some(PersonRef {
                name: n,
                id_number: self.opt(id)?,
                phone: self.opt(phone)?,
            }),
        })
    }

    /// A field holding one of `codes`, mapped to its canonical value.
    fn code(
        &self,
        key: &str,
        codes: &[(&str, &'static str)],
    ) -> Result<Option<String>, AdapterError> {
        match self.opt(key)? {
            None => Ok(None),
            Some(c) => codes
                .iter()
                .find(|(k, _)| *k == c)
                .map(|(_, v)| Some((*v).to_owned()))
                .ok_or_else(|| malformed("unknown code in", &self.path(key))),
        }
    }
}

const LICENSE_CATEGORIES: [(&str, &str); 6] = [
    ("1", "普通"),
    ("2", "特许"),
    ("3", "认可"),
    ("4", "核准"),
    ("5", "登记"),
    ("9", "其他"),
];
const REPAIR_KINDS: [(&str, &str); 3] = [
    ("XZCF", "penalty"),
    ("JYYC", "abnormal"),
    ("HEIMD", "blacklist"),
];

/// Checks HTTP and body status; returns the envelope on success.
/// The envelope is read first, whatever the HTTP status: a non-2xx
/// answer in it is the platform's own refusal, while one whose body is not
/// (a proxy's or WAF's HTML page) is `Malformed`, which the caller counts
/// against the platform's breaker.
fn open(status: u16, body: &[u8]) -> Result<Envelope, AdapterError> {
    let env: Envelope = from_json(body)?;
    if !(200..300).contains(&status) {
        return Err(AdapterError::Upstream { status });
    }
    match env.status {
        Some(200) => Ok(env),
        Some(404) => Err(AdapterError::NotFound),
        Some(400) => Err(AdapterError::Upstream { status: 400 }),
        Some(_) => Err(AdapterError::Upstream { status: 502 }),
        None => Err(malformed("missing field", "status")),
    }
}

/// The rows' fields, each with its category.
fn rows(env: &Envelope) -> Result<Vec<Fields<'_>>, AdapterError> {
    let rows = env
        .rows
        .as_ref()
        .ok_or_else(|| malformed("missing field", "rows"))?;
    rows.iter()
        .map(|r| {
            let lb =
                r.lb.as_deref()
                    .ok_or_else(|| malformed("missing field", "rows[].lb"))?;
            let map = r
                .fields
                .as_ref()
                .ok_or_else(|| malformed("missing field", "rows[].fields"))?;
            Ok(Fields { lb, map })
        })
        .collect()
}

fn listing(f: &Fields<'_>) -> Result<ListEntry, AdapterError> {
    Ok(ListEntry {
        list_name: f.req("MD_MC")?,
        basis: f.req("MD_LRYY")?,
        authority: f.req("MD_LRJG")?,
        listed_on: f.date("MD_LRRQ")?,
        expires_on: f.opt_date("MD_YXQZ")?,
        measures: f.opt("MD_CS")?,
    })
}

fn basic(f: &Fields<'_>) -> Result<Basic, AdapterError> {
    Ok(Basic {
        name: f.req("QYMC")?,
        uscc: f.req("TYSHXYDM")?.to_ascii_uppercase(),
        enterprise_type: f.opt("QYLX")?,
        status: f.opt("DJZT")?,
        legal_representative: PersonRef {
            name: f.req("FDDBR")?,
            id_number: f.opt("FDDBR_ZJHM")?,
            phone: f.opt("FDDBR_SJHM")?,
        },
        registered_capital_cny: f.money("ZCZB")?,
        established_on: f.opt_date("CLRQ")?,
        registered_address: f.opt("ZCDZ")?,
        business_scope: f.opt("JYFW")?,
        registration_authority: f.opt("DJJG")?,
        contact_phone: f.opt("LXDH")?,
        bank_account: f.opt("JBZH")?,
    })
}

fn each<T>(
    rows: &[Fields<'_>],
    lb: &str,
    f: impl Fn(&Fields<'_>) -> Result<T, AdapterError>,
) -> Result<Vec<T>, AdapterError> {
    rows.iter().filter(|r| r.lb == lb).map(f).collect()
}

fn section(rows: &[Fields<'_>], s: Section) -> Result<Option<SectionData>, AdapterError> {
    let lb = CODES
        .iter()
        .find(|(c, _)| *c == s)
        .map_or("", |(_, code)| code);
    Ok(Some(match s {
        Section::Basic => match rows.iter().find(|r| r.lb == lb) {
            Some(f) => SectionData::Basic(Box::new(basic(f)?)),
            None => return Ok(None),
        },
        Section::Licenses => SectionData::Licenses(each(rows, lb, |f| {
            Ok(License {
                license_no: f.req("XK_WSH")?,
                name: f.req("XK_XMMC")?,
                category: f.code("XK_XKLB", &LICENSE_CATEGORIES)?,
                content: f.opt("XK_NR")?,
                authority: f.req("XK_XKJG")?,
                decided_on: f.date("XK_JDRQ")?,
                valid_from: f.opt_date("XK_YXQZ")?,
                valid_to: f.opt_date("XK_YXQJZ")?,
            })
        })?),
        Section::Penalties => SectionData::Penalties(each(rows, lb, |f| {
            Ok(Penalty {
                decision_no: f.req("CF_WSH")?,
                penalty_type: f.req("CF_CFLB")?,
                basis: f.req("CF_YJ")?,
                content: f.req("CF_NR")?,
                amount_cny: f.money("CF_JE")?,
                authority: f.req("CF_CFJG")?,
                decided_on: f.date("CF_JDRQ")?,
                publish_until: f.opt_date("CF_GSJZQ")?,
                legal_representative: f.person("CF_FR", "CF_FR_ZJHM", "CF_FR_SJHM")?,
            })
        })?),
        Section::Redlist | Section::Blacklist => SectionData::Listings(each(rows, lb, listing)?),
        Section::Dishonest => SectionData::Dishonest(each(rows, lb, |f| {
            Ok(DishonestEntry {
                case_no: f.req("SX_AH")?,
                court: f.req("SX_ZXFY")?,
                obligation: f.req("SX_YW")?,
                performance: f.req("SX_LXQK")?,
                circumstances: f.opt("SX_QX")?,
                published_on: f.date("SX_FBRQ")?,
                legal_representative: f.person("SX_FR", "SX_FR_ZJHM", "SX_FR_SJHM")?,
            })
        })?),
        Section::Abnormal => SectionData::Abnormal(each(rows, lb, |f| {
            Ok(AbnormalEntry {
                reason: f.req("YC_LRYY")?,
                authority: f.req("YC_LRJG")?,
                listed_on: f.date("YC_LRRQ")?,
                removed_on: f.opt_date("YC_YCRQ")?,
                removal_reason: f.opt("YC_YCYY")?,
            })
        })?),
        Section::Commitments => SectionData::Commitments(each(rows, lb, |f| {
            Ok(Commitment {
                kind: f.req("CN_LX")?,
                content: f.req("CN_NR")?,
                made_on: f.date("CN_RQ")?,
                status: f.req("CN_ZT")?,
            })
        })?),
        Section::Repairs => SectionData::Repairs(each(rows, lb, |f| {
            Ok(Repair {
                repaired_record: f.req("XF_JLBH")?,
                kind: f
                    .code("XF_LX", &REPAIR_KINDS)?
                    .ok_or_else(|| malformed("missing field", &f.path("XF_LX")))?,
                repaired_on: f.date("XF_RQ")?,
                authority: f.req("XF_JG")?,
                result: f.req("XF_JGMS")?,
            })
        })?),
        Section::Evaluation => SectionData::Evaluation(
            rows.iter()
                .find(|r| r.lb == lb)
                .map(|f| {
                    Ok::<_, AdapterError>(Evaluation {
                        level: f.req("PJ_DJ")?,
                        evaluated_on: f.date("PJ_RQ")?,
                        evaluator: f.req("PJ_JG")?,
                        valid_until: f.opt_date("PJ_YXQZ")?,
                    })
                })
                .transpose()?,
        ),
    }))
}

fn get(path_and_query: String) -> UpstreamRequest {
    UpstreamRequest {
        method: http::Method::GET,
        path_and_query,
        content_type: None,
        body: Vec::new(),
    }
}

fn listing_kind(f: &Fields<'_>) -> Result<ListingKind, AdapterError> {
    match f.lb {
        "HEIMD" => Ok(ListingKind::Blacklist),
        "SXBZXR" => Ok(ListingKind::Dishonest),
        "JYYC" => Ok(ListingKind::Abnormal),
        _ => Err(malformed("unknown code in", "rows[].lb")),
    }
}

impl Adapter for HangzhouV1 {
    fn name(&self) -> &'static str {
        "hangzhou-v1"
    }

    fn report_request(&self, uscc: &str, sections: &[Section]) -> UpstreamRequest {
        let lb = section_codes(sections, &CODES).join(",");
        get(format!(
            "/hz/credit/v1/qy?tyshxydm={}&lb={lb}",
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
        let env = open(status, body)?;
        let as_of = date_as_instant(env.gxsj.clone(), Slash, "gxsj")?;
        let rows = rows(&env)?;
        let named = rows
            .iter()
            .find(|r| r.lb == "JBXX")
            .map(|f| f.get("TYSHXYDM"))
            .transpose()?
            .flatten();
        if !same_subject(uscc, named.as_deref()) {
            return Err(malformed(
                "answer is for another subject in",
                "rows[JBXX].fields.TYSHXYDM",
            ));
        }
        assemble(uscc, sections, &as_of, |s| section(&rows, s))
    }

    fn score_request(&self, id_number: &str) -> UpstreamRequest {
        get(format!("/hz/credit/v1/qjf?zjhm={}", encode(id_number)))
    }

    fn parse_score(
        &self,
        id_number: &str,
        status: u16,
        body: &[u8],
    ) -> Result<NativeScore, AdapterError> {
        let env = open(status, body)?;
        let rows = rows(&env)?;
        let f = rows
            .iter()
            .find(|r| r.lb == "QJF")
            .ok_or_else(|| malformed("missing row", "rows[QJF]"))?;
        if !same_subject(id_number, f.get("ZJHM")?.as_deref()) {
            return Err(malformed(
                "answer is for another subject in",
                "rows[QJF].fields.ZJHM",
            ));
        }
        Ok(NativeScore {
            scheme: "qianjiang".into(),
            value: score_value(f.get("QJF")?, &f.path("QJF"))?,
            issued_at: f.date("PFRQ")?,
            issuer: "hangzhou".into(),
        })
    }

    fn sanctions_batch_limit(&self) -> usize {
        1
    }

    /// One subject per call: only the first subject is sent.
    fn sanctions_request(&self, subjects: &[String]) -> UpstreamRequest {
        let first = subjects.first().map_or("", String::as_str);
        get(format!("/hz/credit/v1/lhjc?zjhm={}", encode(first)))
    }

    fn parse_sanctions(
        &self,
        subjects: &[String],
        status: u16,
        body: &[u8],
    ) -> Result<Vec<SanctionAnswer>, AdapterError> {
        let [subject] = subjects else {
            return Err(AdapterError::Malformed(
                "this format answers exactly one subject per call".into(),
            ));
        };
        let subject = subject.to_ascii_uppercase();
        let env = match open(status, body) {
            Err(AdapterError::NotFound) => {
                return Ok(vec![SanctionAnswer {
                    subject,
                    known: false,
                    listings: vec![],
                    as_of: None,
                }])
            }
            other => other?,
        };
        let listings = rows(&env)?
            .iter()
            .map(|f| {
                Ok(Listing {
                    kind: listing_kind(f)?,
                    list_name: f.req("MD_MC")?,
                    basis: f.req("MD_LRYY")?,
                    authority: f.req("MD_LRJG")?,
                    listed_on: f.date("MD_LRRQ")?,
                })
            })
            .collect::<Result<Vec<_>, AdapterError>>()?;
        let as_of = match &env.gxsj {
            Some(_) => Some(date_as_instant(env.gxsj.clone(), Slash, "gxsj")?),
            None => None,
        };
        Ok(vec![SanctionAnswer {
            subject,
            known: true,
            listings,
            as_of,
        }])
    }
}

#[cfg(test)]
mod tests;

//! Each platform's wire format: routing a request and rendering the answer
//! from the [`Dataset`]. The servers precompute with these; the adapter
//! tests call them to prove that sim and adapters agree.

use bytes::Bytes;
use credgate_policy::canonical::Section;
use serde_json::{Map, Value};

use crate::dataset::Dataset;
use crate::platform::PlatformId;

mod hangzhou;
mod ningbo;
mod xiamen;
mod zhejiang;

/// A rendered answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Body.
    pub body: Bytes,
}

/// What a request to a platform's data address asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimRequest {
    /// An enterprise report with these sections.
    Report {
        /// The code as given (upper-cased).
        uscc: String,
        /// Requested sections (all when the request names none).
        sections: Vec<Section>,
    },
    /// A person's native score.
    Score {
        /// The ID number as given (upper-cased).
        id: String,
    },
    /// A sanctions check.
    Sanctions {
        /// Subjects as given (upper-cased).
        subjects: Vec<String>,
    },
    /// Not a valid request for this platform: the prepared answer.
    Invalid(Rendered),
}

/// `application/json; charset=utf-8`.
pub const JSON: &str = "application/json; charset=utf-8";
/// `application/xml; charset=utf-8`.
pub const XML: &str = "application/xml; charset=utf-8";

// === impl Rendered ===

impl Rendered {
    pub(crate) fn json(status: u16, v: &Value) -> Rendered {
        Rendered {
            status,
            content_type: JSON,
            body: Bytes::from(v.to_string()),
        }
    }

    pub(crate) fn xml(status: u16, body: String) -> Rendered {
        Rendered {
            status,
            content_type: XML,
            body: Bytes::from(body),
        }
    }
}

// === impl SimRequest ===

impl SimRequest {
    /// The subject identifiers the request names (for the request log).
    pub fn subjects(&self) -> Vec<String> {
        match self {
            SimRequest::Report { uscc, .. } => vec![uscc.clone()],
            SimRequest::Score { id } => vec![id.clone()],
            SimRequest::Sanctions { subjects } => subjects.clone(),
            SimRequest::Invalid(_) => Vec::new(),
        }
    }
}

/// Parses a request to `platform`'s data address.
pub fn route(
    platform: PlatformId,
    method: &http::Method,
    path: &str,
    query: Option<&str>,
    body: &[u8],
) -> SimRequest {
    match platform {
        PlatformId::Ningbo => ningbo::route(method, path, query, body),
        PlatformId::Zhejiang => zhejiang::route(method, path, body),
        PlatformId::Hangzhou => hangzhou::route(method, path, query),
        PlatformId::Xiamen => xiamen::route(method, path, query, body),
    }
}

/// Answers a routed request from the dataset.
pub fn answer(ds: &Dataset, platform: PlatformId, req: &SimRequest) -> Rendered {
    match req {
        SimRequest::Report { uscc, sections } => report(ds, platform, uscc, sections),
        SimRequest::Score { id } => score(ds, platform, id),
        SimRequest::Sanctions { subjects } => sanctions(ds, platform, subjects),
        SimRequest::Invalid(r) => r.clone(),
    }
}

/// `platform`'s answer to a report request for `uscc` with `sections`.
pub fn report(ds: &Dataset, platform: PlatformId, uscc: &str, sections: &[Section]) -> Rendered {
    let e = ds.enterprise_on(platform, uscc);
    match platform {
        PlatformId::Ningbo => ningbo::report(e, sections),
        PlatformId::Zhejiang => zhejiang::report(e, sections),
        PlatformId::Hangzhou => hangzhou::report(e, sections),
        PlatformId::Xiamen => xiamen::report(e, sections),
    }
}

/// `platform`'s answer to a score request for `id`.
pub fn score(ds: &Dataset, platform: PlatformId, id: &str) -> Rendered {
    let p = ds.person_on(platform, id);
    match platform {
        PlatformId::Ningbo => ningbo::score(p),
        PlatformId::Zhejiang => zhejiang::score(p),
        PlatformId::Hangzhou => hangzhou::score(p),
        PlatformId::Xiamen => xiamen::score(p),
    }
}

/// `platform`'s answer to a sanctions check of `subjects`.
pub fn sanctions(ds: &Dataset, platform: PlatformId, subjects: &[String]) -> Rendered {
    let answers: Vec<_> = subjects
        .iter()
        .map(|s| (s.as_str(), ds.sanctions_on(platform, s)))
        .collect();
    match platform {
        PlatformId::Ningbo => ningbo::sanctions(&answers),
        PlatformId::Zhejiang => zhejiang::sanctions(&answers),
        PlatformId::Hangzhou => hangzhou::sanctions(&answers),
        PlatformId::Xiamen => xiamen::sanctions(&answers),
    }
}

/// Largest sanctions batch `platform` accepts.
pub fn batch_limit(platform: PlatformId) -> usize {
    match platform {
        PlatformId::Ningbo => 50,
        PlatformId::Zhejiang => 100,
        PlatformId::Hangzhou => 1,
        PlatformId::Xiamen => 20,
    }
}

/// `platform`'s own error answer (its envelope) with HTTP `status` (for
/// the `error` fault with a `status`).
pub fn error_answer(platform: PlatformId, status: u16) -> Rendered {
    let mut r = match platform {
        PlatformId::Ningbo => ningbo::bad_request("simulated refusal"),
        PlatformId::Zhejiang => zhejiang::fail(status, "E4000", "simulated refusal"),
        PlatformId::Hangzhou => hangzhou::bad_request("simulated refusal"),
        PlatformId::Xiamen => xiamen::bad_request("simulated refusal"),
    };
    r.status = status;
    r
}

/// The object key `platform`'s report puts `section` under, for the JSON
/// formats that key sections (the others list them as rows or XML).
pub fn section_key(platform: PlatformId, section: Section) -> Option<&'static str> {
    let codes: &[(Section, &str)] = match platform {
        PlatformId::Ningbo => &ningbo::CODES,
        PlatformId::Zhejiang => &zhejiang::CODES,
        PlatformId::Hangzhou | PlatformId::Xiamen => return None,
    };
    codes.iter().find(|(s, _)| *s == section).map(|(_, k)| *k)
}

/// `normal` with `section`'s entries stripped of their fields, the rest
/// untouched (for the `malformed` fault with a `section`): the body keeps
/// its shape, so the envelope still parses, but no entry of that section
/// has the facts the format requires (an empty list gets one such entry).
/// An answer without that section is returned as it is.
pub fn spoil_section(platform: PlatformId, normal: &Rendered, section: Section) -> Rendered {
    fn spoil(v: &mut Value, key: &str) -> bool {
        match v {
            Value::Object(m) => {
                if let Some(x) = m.get_mut(key) {
                    *x = match x {
                        Value::Array(_) => Value::Array(vec![Value::Object(Map::new())]),
                        _ => Value::Object(Map::new()),
                    };
                    return true;
                }
                m.values_mut().any(|x| spoil(x, key))
            }
            Value::Array(a) => a.iter_mut().any(|x| spoil(x, key)),
            _ => false,
        }
    }
    let Some(key) = section_key(platform, section) else {
        return normal.clone();
    };
    let Ok(mut doc) = serde_json::from_slice::<Value>(&normal.body) else {
        return normal.clone();
    };
    if spoil(&mut doc, key) {
        Rendered::json(normal.status, &doc)
    } else {
        normal.clone()
    }
}

/// A body that is not valid in `platform`'s format (for the `malformed`
/// fault): the normal answer cut in half.
pub fn malformed(normal: &Rendered) -> Rendered {
    let cut = normal.body.len() / 2;
    Rendered {
        status: 200,
        content_type: normal.content_type,
        body: normal.body.slice(..cut),
    }
}

/// The value of query parameter `name`, percent-decoded.
pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| char::from(c).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a comma-separated list of platform section codes; `None` if a
/// code is unknown. No list means every section.
pub(crate) fn parse_sections(
    list: Option<&str>,
    codes: &[(Section, &str); 10],
) -> Option<Vec<Section>> {
    let Some(list) = list.filter(|l| !l.trim().is_empty()) else {
        return Some(Section::ALL.to_vec());
    };
    list.split(',')
        .map(|c| {
            codes
                .iter()
                .find(|(_, code)| code.eq_ignore_ascii_case(c.trim()))
                .map(|(s, _)| *s)
        })
        .collect()
}

/// The requested sections in report order, without duplicates.
pub(crate) fn in_order(sections: &[Section]) -> impl Iterator<Item = Section> + '_ {
    Section::ALL.into_iter().filter(|s| sections.contains(s))
}

#[cfg(test)]
mod tests;

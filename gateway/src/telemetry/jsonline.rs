//! The JSON log line: one object per event, in the shape of
//! `tracing-subscriber`'s JSON format —
//! `{"timestamp":"2026-11-24T09:00:00.123456Z","level":"INFO","fields":{"message":"request",…},"target":"credgate::http"}`.
//!
//! Written by hand because the stock JSON formatter collects every field
//! through a generic `serde` visitor into intermediate maps and costs as
//! much as the rest of the request's telemetry together (profiled: ≈ 3 % of
//! the gateway's CPU per request); this one writes the fields straight
//! into the line buffer without allocating: integers through `itoa`,
//! `Display`/`Debug` values (the message included) through an escaping
//! writer, and the timestamp from a per-thread cache of the current
//! second's text. Escaping is `serde_json`'s.

use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

tokio::task_local! {
    /// The id of the request the current task serves: a warning or an error
    /// logged while serving it (a platform's failure, say) names it unless
    /// its own fields do, so that it can be tied to the request's log line
    /// and audit record. Set by `Gateway::handle`.
    pub static REQUEST_ID: String;
}

/// The event formatter (see the module docs).
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonLine;

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        w.write_str("{\"timestamp\":\"")?;
        write_timestamp(&mut w, SystemTime::now())?;
        w.write_str("\",\"level\":\"")?;
        w.write_str(meta.level().as_str())?;
        w.write_str("\",\"fields\":{")?;
        let mut v = Fields {
            w: &mut w,
            first: true,
            result: Ok(()),
        };
        event.record(&mut v);
        if *meta.level() <= tracing::Level::WARN && meta.fields().field("request_id").is_none() {
            let _ = REQUEST_ID.try_with(|id| v.extra("request_id", id));
        }
        v.result?;
        w.write_str("},\"target\":")?;
        write_json_str(&mut w, meta.target())?;
        w.write_str("}\n")
    }
}

/// Writes the fields of one event as JSON members.
struct Fields<'a, 'w> {
    w: &'a mut Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl Fields<'_, '_> {
    fn key(&mut self, field: &Field) -> fmt::Result {
        if !self.first {
            self.w.write_char(',')?;
        }
        self.first = false;
        write_json_str(self.w, field.name())?;
        self.w.write_char(':')
    }

    /// A string member that is not one of the event's own fields.
    fn extra(&mut self, key: &str, value: &str) {
        if self.result.is_ok() {
            self.result = (|| {
                if !self.first {
                    self.w.write_char(',')?;
                }
                self.first = false;
                write_json_str(self.w, key)?;
                self.w.write_char(':')?;
                write_json_str(self.w, value)
            })();
        }
    }

    fn member(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = self.key(field).and_then(|()| value(self.w));
        }
    }
}

impl Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |w| write_json_str(w, value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |w| w.write_str(itoa::Buffer::new().format(value)));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |w| w.write_str(itoa::Buffer::new().format(value)));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |w| w.write_str(if value { "true" } else { "false" }));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.member(field, |w| {
            if value.is_finite() {
                write!(w, "{value}")
            } else {
                write_json_str(w, &value.to_string())
            }
        });
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.member(field, |w| write_json_display(w, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // The message and `%x` fields arrive here (as `format_args!` and
        // as Display wrapped in Debug).
        self.member(field, |w| {
            w.write_char('"')?;
            write!(Escaping(w), "{value:?}")?;
            w.write_char('"')
        });
    }
}

/// A JSON string literal, escaped as `serde_json` escapes (`\"`, `\\`,
/// `\n`, `\r`, `\t`, `\b`, `\f`, other controls as `\u00XX`), written
/// in runs without allocating.
fn write_json_str(w: &mut impl fmt::Write, s: &str) -> fmt::Result {
    w.write_char('"')?;
    write_escaped(w, s)?;
    w.write_char('"')
}

/// A `Display` value as a JSON string literal, without allocating.
fn write_json_display(w: &mut impl fmt::Write, v: &dyn fmt::Display) -> fmt::Result {
    w.write_char('"')?;
    write!(Escaping(w), "{v}")?;
    w.write_char('"')
}

/// Escapes everything written through it (the inside of a JSON string).
struct Escaping<'a, W: fmt::Write>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaping<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_escaped(self.0, s)
    }
}

/// The inside of a JSON string literal (see [`write_json_str`]).
fn write_escaped(w: &mut impl fmt::Write, s: &str) -> fmt::Result {
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x08 => Some("\\b"),
            0x0c => Some("\\f"),
            0..=0x1f => None,
            _ => continue,
        };
        w.write_str(&s[start..i])?;
        match esc {
            Some(e) => w.write_str(e)?,
            None => write!(w, "\\u{b:04x}")?,
        }
        start = i + 1;
    }
    w.write_str(&s[start..])
}

thread_local! {
    /// The last second this thread formatted, and its text
    /// (`2026-11-24T09:00:00`): a log line in the same second formats only
    /// its microseconds.
    static SECOND: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
}

/// RFC 3339 UTC with microseconds, as `tracing-subscriber`'s `SystemTime`.
fn write_timestamp(w: &mut impl fmt::Write, now: SystemTime) -> fmt::Result {
    let Ok(since) = now.duration_since(UNIX_EPOCH) else {
        return write_timestamp_slow(w, now);
    };
    let secs = since.as_secs();
    let (cached, text) = SECOND.get();
    let text = if cached == secs {
        text
    } else {
        let mut s = String::with_capacity(19);
        write_timestamp_slow(&mut s, now)?;
        let mut text = [0u8; 19];
        match s.as_bytes().get(..19) {
            Some(prefix) if s.len() == 27 => text.copy_from_slice(prefix),
            // Outside years 0000–9999: no caching.
            _ => return w.write_str(&s),
        }
        SECOND.set((secs, text));
        text
    };
    // ASCII digits and separators only, written by this module.
    w.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)?;
    let mut micros = since.subsec_micros();
    let mut frac = *b".000000Z";
    for d in frac[1..7].iter_mut().rev() {
        *d = b'0' + (micros % 10) as u8;
        micros /= 10;
    }
    w.write_str(std::str::from_utf8(&frac).map_err(|_| fmt::Error)?)
}

/// [`write_timestamp`] computed from scratch.
fn write_timestamp_slow(w: &mut impl fmt::Write, now: SystemTime) -> fmt::Result {
    let t = time::OffsetDateTime::from(now);
    write!(
        w,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::tests::Lines as Out;

    #[derive(Debug)]
    struct Odd;

    impl fmt::Display for Odd {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a \"quoted\"\nline\\ 宁波")
        }
    }

    #[test]
    fn strings_are_escaped_exactly_as_serde_json_does() {
        let mut cases: Vec<String> = (0u8..0x80).map(|b| char::from(b).to_string()).collect();
        cases
            .extend(["", "plain", "宁波 \u{7f} \u{2028}", "a\"b\\c\u{1}\u{1f}é"].map(String::from));
        for s in cases {
            let mut got = String::new();
            write_json_str(&mut got, &s).unwrap();
            assert_eq!(got, serde_json::to_string(&s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn the_cached_timestamp_matches_the_full_computation() {
        let base = UNIX_EPOCH + std::time::Duration::new(1_795_000_000, 0);
        let times = [
            base + std::time::Duration::from_nanos(123_456_789),
            // Same second (cache hit), then the next ones (misses).
            base + std::time::Duration::from_nanos(999_999_999),
            base + std::time::Duration::from_micros(1_000_007),
            base + std::time::Duration::from_secs(86_400 * 40),
            UNIX_EPOCH,
        ];
        for t in times {
            let (mut fast, mut slow) = (String::new(), String::new());
            write_timestamp(&mut fast, t).unwrap();
            write_timestamp_slow(&mut slow, t).unwrap();
            assert_eq!(fast, slow);
        }
        let mut s = String::new();
        write_timestamp(&mut s, times[1]).unwrap();
        assert_eq!(s, "2026-11-18T11:06:40.999999Z");
    }

    #[tokio::test]
    async fn warnings_while_serving_a_request_name_it() {
        let out = Out::default();
        let sub = tracing_subscriber::fmt()
            .event_format(JsonLine)
            .with_writer(out.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(sub);
        REQUEST_ID
            .scope("r-1".to_owned(), async {
                tracing::warn!(upstream = "xiamen", "platform failed");
                tracing::error!(request_id = "own", "names its own");
                tracing::info!("request");
            })
            .await;
        tracing::warn!("outside any request");
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["fields"]["request_id"], "r-1");
        assert_eq!(lines[0]["fields"]["upstream"], "xiamen");
        assert_eq!(lines[1]["fields"]["request_id"], "own");
        assert!(lines[2]["fields"].get("request_id").is_none());
        assert!(lines[3]["fields"].get("request_id").is_none());
    }

    #[test]
    fn display_values_are_escaped_without_changing_them() {
        let mut got = String::new();
        write_json_display(&mut got, &Odd).unwrap();
        assert_eq!(got, serde_json::to_string(&Odd.to_string()).unwrap());
    }

    #[test]
    fn every_field_kind_is_valid_json_and_the_line_matches_the_stock_shape() {
        let out = Out::default();
        let sub = tracing_subscriber::fmt()
            .event_format(JsonLine)
            .with_writer(out.clone())
            .finish();
        tracing::subscriber::with_default(sub, || {
            tracing::warn!(
                s = "x\ty",
                u = 7u64,
                i = -3i64,
                b = true,
                f = 1.5f64,
                nan = f64::NAN,
                d = %Odd,
                "hello \"there\""
            );
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(text.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["target"], module_path!());
        let f = &v["fields"];
        assert_eq!(f["message"], "hello \"there\"");
        assert_eq!(f["s"], "x\ty");
        assert_eq!(f["u"], 7);
        assert_eq!(f["i"], -3);
        assert_eq!(f["b"], true);
        assert_eq!(f["f"], 1.5);
        assert_eq!(f["nan"], "NaN");
        assert_eq!(f["d"], "a \"quoted\"\nline\\ 宁波");
        let ts = v["timestamp"].as_str().unwrap();
        let parsed =
            time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
                .unwrap();
        let age = time::OffsetDateTime::now_utc() - parsed;
        assert!(age.whole_seconds().abs() < 60, "{ts}");
        assert_eq!(ts.len(), "2026-11-24T09:00:00.123456Z".len());
    }
}

//! Redis key names. Every key of one client carries the hash tag `{rl:<client>}`, so all
//! keys of one decision (GCRA state and quota counter) live in one Redis Cluster slot, as
//! a multi-key script requires.
//!
//! - `credgate:{rl:<client>}:gcra:<scope|*>` — the TAT (µs), expiring once it has passed;
//! - `credgate:{rl:<client>}:quota:<scope|*>:<YYYYMMDD>` — the day's count, expiring one
//!   hour after the day ends.
//!
//! - `credgate:rl:replicas` — the replicas sharing the limits (a sorted set: replica id
//!   → when it last said it is alive, on Redis' clock).
//!
//! `*` stands for "no scope". In client ids and scopes, `%`, `{`, `}`, `*`, `:` and bytes
//! outside printable ASCII are percent-encoded, so no id can open or close a hash tag or
//! collide with another key.

use std::fmt::Write as _;

use crate::limit::Key;

/// The set of replicas sharing the limits (see `Limiter`'s heartbeat).
pub const REPLICAS_KEY: &str = "credgate:rl:replicas";

/// The GCRA state key of `key`.
pub fn gcra_key(key: &Key<'_>) -> String {
    let mut out = prefix(key.client);
    out.push_str(":gcra:");
    push_scope(&mut out, key.scope);
    out
}

/// The daily counter key of `key` for the day `yyyymmdd`.
pub fn quota_key(key: &Key<'_>, yyyymmdd: u32) -> String {
    let mut out = prefix(key.client);
    out.push_str(":quota:");
    push_scope(&mut out, key.scope);
    let _ = write!(out, ":{yyyymmdd:08}");
    out
}

fn prefix(client: &str) -> String {
    let mut out = String::with_capacity(32 + client.len());
    out.push_str("credgate:{rl:");
    push_escaped(&mut out, client);
    out.push('}');
    out
}

fn push_scope(out: &mut String, scope: Option<&str>) {
    match scope {
        Some(scope) => push_escaped(out, scope),
        None => out.push('*'),
    }
}

fn push_escaped(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_graphic() && !matches!(b, b'%' | b'{' | b'}' | b'*' | b':') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_the_client_hash_tag() {
        let key = Key::scoped("bank-nb", "enterprise.report");
        assert_eq!(
            gcra_key(&key),
            "credgate:{rl:bank-nb}:gcra:enterprise.report"
        );
        assert_eq!(
            quota_key(&key, 20250301),
            "credgate:{rl:bank-nb}:quota:enterprise.report:20250301"
        );
        assert_eq!(
            gcra_key(&Key::client("bank-nb")),
            "credgate:{rl:bank-nb}:gcra:*"
        );
    }

    #[test]
    fn braces_stars_and_odd_bytes_are_escaped() {
        let key = Key::scoped("evil}{x", "*");
        assert_eq!(gcra_key(&key), "credgate:{rl:evil%7D%7Bx}:gcra:%2A");
        assert_eq!(
            gcra_key(&Key::client("a b:银")),
            "credgate:{rl:a%20b%3A%E9%93%B6}:gcra:*"
        );
    }
}

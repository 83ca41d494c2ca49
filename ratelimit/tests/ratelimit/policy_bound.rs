//! The policy validator refuses exactly the rate limits this crate refuses: a limit that
//! passes `credgate policy check` is enforceable (no 500 on every request of the client),
//! and its share under `fail_open_local` too.

use credgate_policy::{Policy, DEMO_POLICY};
use credgate_ratelimit::{Limit, LimitError};

/// The demo policy's first client limit, as it is written there.
const DEMO_LIMIT: &str = "rate_limit = { per_second = 10, burst = 20, daily_quota = 100000 }";

/// 100 years in microseconds: the bound both sides apply to `T · burst`.
const MAX_WINDOW_MICROS: u64 = 100 * 365 * 24 * 3600 * 1_000_000;

/// Whether `credgate policy check` accepts the demo policy with `limit` on its first
/// client. `{:?}` prints an f64 so that it reads back exactly (and is valid TOML).
fn policy_accepts(limit: &Limit) -> bool {
    assert!(DEMO_POLICY.contains(DEMO_LIMIT));
    let line = format!(
        "rate_limit = {{ per_second = {:?}, burst = {} }}",
        limit.per_second, limit.burst
    );
    Policy::parse(&DEMO_POLICY.replacen(DEMO_LIMIT, &line, 1), "policy.toml").is_ok()
}

/// Rates whose emission interval (µs) is `t` and `t ± 1`, and just off them.
fn rates_around(t: u64) -> Vec<f64> {
    let mut out = Vec::new();
    for t in [t.saturating_sub(1).max(1), t, t + 1] {
        let r = 1e6 / t as f64;
        out.extend([r, r * (1.0 + 1e-15), r * (1.0 - 1e-15), r * 1.000_001]);
    }
    out
}

#[test]
fn policy_check_refuses_exactly_what_the_limiter_refuses() {
    assert!(Policy::parse(DEMO_POLICY, "policy.toml").is_ok());
    let mut cases = vec![
        Limit::new(1e-7, 4000), // the reviewer's: 1268 years
        Limit::new(1e-9, 10),
        Limit::new(10.0, 20),
        Limit::new(5e6, 1),
        Limit::new(1e9, u32::MAX),
        Limit::new(1e-300, 1),
        Limit::new(f64::MAX, 1),
    ];
    // Around the bound, for bursts small and large.
    for burst in [1, 2, 3, 4, 7, 1000, 4000, 65_537, 1 << 31, u32::MAX] {
        for r in rates_around(MAX_WINDOW_MICROS / u64::from(burst)) {
            cases.push(Limit::new(r, burst));
        }
    }
    // A spread of ordinary and extreme values (a fixed pseudo-random sequence).
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..300 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let exp = (x >> 40) % 24; // 10^-12 .. 10^11 per second
        let mantissa = 1.0 + ((x >> 20) % 1000) as f64 / 1000.0;
        let rate = mantissa * 10f64.powi(exp as i32 - 12);
        let burst = u32::try_from((x >> 8) % u64::from(u32::MAX))
            .unwrap()
            .max(1);
        let burst = [burst, burst % 100 + 1, burst % 10_000 + 1][(x % 3) as usize];
        cases.push(Limit::new(rate, burst));
    }
    let (mut accepted, mut refused) = (0, 0);
    for limit in &cases {
        let limiter = limit.validate();
        assert!(
            matches!(limiter, Ok(()) | Err(LimitError::WindowTooLong)),
            "{limit:?}: {limiter:?}"
        );
        assert_eq!(
            policy_accepts(limit),
            limiter.is_ok(),
            "{limit:?}: the limiter says {limiter:?}"
        );
        if limiter.is_ok() {
            accepted += 1;
            for replicas in [2, 3, 16] {
                let share = limit.share(replicas);
                assert_eq!(
                    share.validate(),
                    Ok(()),
                    "{limit:?} / {replicas}: {share:?}"
                );
            }
        } else {
            refused += 1;
        }
    }
    // Both outcomes well represented.
    assert!(
        accepted > 50 && refused > 50,
        "{accepted} accepted, {refused} refused"
    );
}

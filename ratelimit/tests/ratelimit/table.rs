//! One table of GCRA cases, checked against the pure arithmetic (`gcra`), the governor
//! backend in process and the Lua script in a real `redis-server`: the three agree to the
//! microsecond. Expected values are worked out by hand (see the comments).

use std::time::{Duration, UNIX_EPOCH};

use credgate_authz::testing::RedisServer;
use credgate_ratelimit::gcra::Params;
use credgate_ratelimit::{Decision, Key, Limit, Limiter, Mode};

use super::common::{clock_at, config, redis_limiter, NOON_SHANGHAI};

/// One request of a case: when (µs after the case starts) and what must come out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Step {
    at: u64,
    allowed: bool,
    remaining: u64,
    reset_after: u64,
    retry_after: Option<u64>,
    /// The `Retry-After` header when refused (whole seconds, rounded up).
    header: Option<u64>,
}

struct Case {
    name: &'static str,
    limit: Limit,
    steps: Vec<Step>,
}

const fn ok(at: u64, remaining: u64, reset_after: u64) -> Step {
    Step {
        at,
        allowed: true,
        remaining,
        reset_after,
        retry_after: None,
        header: None,
    }
}

const fn no(at: u64, retry_after: u64, reset_after: u64, header: u64) -> Step {
    Step {
        at,
        allowed: false,
        remaining: 0,
        reset_after,
        retry_after: Some(retry_after),
        header: Some(header),
    }
}

const MS: u64 = 1000;
const S: u64 = 1_000_000;

fn cases() -> Vec<Case> {
    vec![
        Case {
            // T = 200 ms, τ = 400 ms: three at once, then one per 200 ms.
            name: "burst of 3 at once, then spaced by T",
            limit: Limit::new(5.0, 3),
            steps: vec![
                ok(0, 2, 200 * MS),
                ok(0, 1, 400 * MS),
                ok(0, 0, 600 * MS),
                no(0, 200 * MS, 600 * MS, 1),
                ok(200 * MS, 0, 600 * MS),
                no(200 * MS, 200 * MS, 600 * MS, 1),
            ],
        },
        Case {
            // T = 100 ms, burst 1: exactly at the rate passes, in between waits.
            name: "steady state at the rate",
            limit: Limit::new(10.0, 1),
            steps: vec![
                ok(0, 0, 100 * MS),
                ok(100 * MS, 0, 100 * MS),
                ok(200 * MS, 0, 100 * MS),
                no(250 * MS, 50 * MS, 50 * MS, 1),
                ok(300 * MS, 0, 100 * MS),
            ],
        },
        Case {
            // T = 500 ms, τ = 1.5 s: after 10 s idle the bucket is full again, not fuller.
            name: "recovery after idle",
            limit: Limit::new(2.0, 4),
            steps: vec![
                ok(0, 3, 500 * MS),
                ok(0, 2, S),
                ok(0, 1, 1500 * MS),
                ok(0, 0, 2 * S),
                no(0, 500 * MS, 2 * S, 1),
                ok(10 * S, 3, 500 * MS),
            ],
        },
        Case {
            // After the burst TAT = 2 s; at 1.25 s: allowed (TAT 2.5 s, ⌊0.75/0.5⌋ = 1 left),
            // allowed (TAT 3 s), then earliest = 3 − 1.5 = 1.5 s: wait 250 ms.
            name: "partial recovery",
            limit: Limit::new(2.0, 4),
            steps: vec![
                ok(0, 3, 500 * MS),
                ok(0, 2, S),
                ok(0, 1, 1500 * MS),
                ok(0, 0, 2 * S),
                ok(1250 * MS, 1, 1250 * MS),
                ok(1250 * MS, 0, 1750 * MS),
                no(1250 * MS, 250 * MS, 1750 * MS, 1),
            ],
        },
        Case {
            // T = 333 333 µs (3/s rounded to the µs): one µs early is refused for 1 µs.
            name: "retry_after is exact",
            limit: Limit::new(3.0, 1),
            steps: vec![
                ok(0, 0, 333_333),
                no(333_332, 1, 1, 1),
                ok(333_333, 0, 333_333),
            ],
        },
        Case {
            // T = 1.2 s, τ = 1.2 s: Retry-After 1.2 s is sent as 2, 0.2 s as 1.
            name: "fractional rate, Retry-After rounded up",
            limit: Limit::new(1.0 / 1.2, 2),
            steps: vec![
                ok(0, 1, 1200 * MS),
                ok(0, 0, 2400 * MS),
                no(0, 1200 * MS, 2400 * MS, 2),
                no(S, 200 * MS, 1400 * MS, 1),
            ],
        },
        Case {
            // T = 1 s, τ = 1 s: idling does not bank more than the burst.
            name: "idle time banks at most the burst",
            limit: Limit::new(1.0, 2),
            steps: vec![
                ok(0, 1, S),
                ok(5 * S, 1, S),
                ok(5 * S, 0, 2 * S),
                no(5 * S, S, 2 * S, 1),
            ],
        },
    ]
}

/// The start of every case: µs-aligned.
const BASE: u64 = NOON_SHANGHAI * S;

fn observed(at: u64, decision: &Decision) -> Step {
    let info = decision.info();
    Step {
        at,
        allowed: decision.is_allowed(),
        remaining: info.remaining,
        reset_after: u64::try_from(info.reset_after.as_micros()).unwrap(),
        retry_after: info
            .retry_after
            .map(|d| u64::try_from(d.as_micros()).unwrap()),
        header: info.retry_after_secs(),
    }
}

#[test]
fn the_pure_arithmetic_follows_the_table() {
    for case in cases() {
        let gcra = Params::new(&case.limit).unwrap().micros();
        let mut tat = None;
        for (i, step) in case.steps.iter().enumerate() {
            let o = gcra.decide(tat, BASE + step.at);
            tat = Some(o.tat);
            let got = Step {
                at: step.at,
                allowed: o.allowed,
                remaining: o.remaining,
                reset_after: o.reset_after,
                retry_after: o.retry_after,
                header: o.retry_after.map(|us| us.div_ceil(S)),
            };
            assert_eq!(got, *step, "{} step {i}", case.name);
        }
    }
}

async fn run_table(make: impl Fn(&credgate_ratelimit::ManualClock) -> Limiter, backend: &str) {
    for (n, case) in cases().into_iter().enumerate() {
        let clock = clock_at(NOON_SHANGHAI);
        let limiter = make(&clock);
        let client = format!("table-{n}");
        for (i, step) in case.steps.iter().enumerate() {
            clock.set(UNIX_EPOCH + Duration::from_micros(BASE + step.at));
            let decision = limiter
                .check(&Key::client(&client), &case.limit)
                .await
                .unwrap();
            assert_eq!(
                observed(step.at, &decision),
                *step,
                "{backend}: {} step {i}",
                case.name
            );
        }
        // Decided by the backend under test, never by a fallback.
        assert!(
            matches!(limiter.mode(), Mode::Local | Mode::Redis),
            "{backend}"
        );
        assert_eq!(limiter.stats().redis_errors, 0, "{backend}");
    }
}

#[tokio::test]
async fn governor_in_process_follows_the_table() {
    run_table(|clock| Limiter::local(config(clock)), "local").await;
}

#[tokio::test]
async fn the_redis_script_follows_the_table() {
    let redis = RedisServer::start().unwrap();
    let url = redis.url();
    run_table(|clock| redis_limiter(&url, clock), "redis").await;
}

//! Decisions per second of the in-process and the Redis limiter on this machine.
//!
//! ```text
//! cargo run --release -p credgate-ratelimit --example throughput
//! ```
//!
//! Starts a throw-away `redis-server` (needs it on `PATH`). Prints figures; asserts
//! nothing about speed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use credgate_authz::testing::RedisServer;
use credgate_ratelimit::{Key, Limit, Limiter, LimiterConfig, RedisLimiterConfig};

const CLIENTS: usize = 100;

fn clients() -> Arc<Vec<String>> {
    Arc::new((0..CLIENTS).map(|i| format!("client-{i}")).collect())
}

/// Runs `tasks` tasks each making `per_task` decisions over the clients; decisions/s.
async fn run(limiter: &Limiter, limit: Limit, tasks: usize, per_task: usize) -> f64 {
    let names = clients();
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (limiter, names) = (limiter.clone(), Arc::clone(&names));
            tokio::spawn(async move {
                for i in 0..per_task {
                    let client = &names[(t * 7 + i) % CLIENTS];
                    let key = Key::scoped(client, "enterprise.report");
                    limiter.check(&key, &limit).await.unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    (tasks * per_task) as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let rate = Limit::new(1000.0, 2000);
    let quota = rate.with_daily_quota(1_000_000_000);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("credgate-ratelimit throughput ({workers} worker threads, {CLIENTS} keys)");

    let local = Limiter::local(LimiterConfig::default());
    run(&local, rate, 1, 100_000).await; // warm-up: create the keys
    for (name, limit) in [("rate", rate), ("rate+quota", quota)] {
        let one = run(&local, limit, 1, 1_000_000).await;
        let many = run(&local, limit, workers * 4, 500_000).await;
        println!(
            "local {name:<10}  1 task: {one:>12.0}/s   {} tasks: {many:>12.0}/s",
            workers * 4
        );
    }

    let redis = RedisServer::start().unwrap();
    let cfg = RedisLimiterConfig {
        call_timeout: Duration::from_millis(500),
        ..RedisLimiterConfig::new(redis.url())
    };
    let shared = Limiter::redis(LimiterConfig::default(), cfg).unwrap();
    shared.ready().await.unwrap();
    run(&shared, rate, 8, 1000).await; // warm-up
    for (name, limit) in [("rate", rate), ("rate+quota", quota)] {
        let one = run(&shared, limit, 1, 20_000).await;
        let many = run(&shared, limit, 64, 2_000).await;
        println!("redis {name:<10}  1 task: {one:>12.0}/s   64 tasks: {many:>12.0}/s");
    }
    let stats = shared.stats();
    assert_eq!(
        stats.redis_errors, 0,
        "every Redis decision was made in Redis: {stats:?}"
    );
}

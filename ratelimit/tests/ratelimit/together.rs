//! Several limits of one request decided together (`Limiter::check_all`): a request one
//! limit refuses is counted by none of the others — in process, in Redis (one script
//! call, nothing written on a refusal), and in the fallback's share while Redis is down.

use std::time::Duration;

use credgate_authz::testing::RedisServer;
use credgate_ratelimit::{
    gcra_key, Info, Key, Limit, Limiter, LimiterError, ManualClock, Mode, Verdict, Why,
    MAX_LIMITS_PER_CHECK,
};

use super::common::{clock_at, config, connection, redis_limiter, redis_limiter_of, NOON_SHANGHAI};

const SCOPE: Key<'static> = Key {
    client: "bank-nb",
    scope: Some("enterprise.report"),
};
const CLIENT: Key<'static> = Key {
    client: "bank-nb",
    scope: None,
};

/// The scope's limit: burst 2, one more per second, 5 a day.
fn scope_limit() -> Limit {
    Limit::new(1.0, 2).with_daily_quota(5)
}

/// The client's own: burst 3, one more per second, 4 a day.
fn client_limit() -> Limit {
    Limit::new(1.0, 3).with_daily_quota(4)
}

/// (remaining, quota remaining) of each limit of an allowed verdict.
fn allowed(v: &Verdict) -> Vec<(u64, Option<u64>)> {
    match v {
        Verdict::Allowed(infos) => infos
            .iter()
            .map(|i| (i.remaining, i.quota.map(|q| q.remaining)))
            .collect(),
        Verdict::Limited { index, info } => panic!("limit {index} refused: {info:?}"),
    }
}

/// Which limit refused, and why.
fn refused(v: &Verdict) -> (usize, &Info) {
    match v {
        Verdict::Limited { index, info } => (*index, info),
        Verdict::Allowed(infos) => panic!("allowed: {infos:?}"),
    }
}

async fn a_refusal_by_one_limit_counts_in_none(limiter: &Limiter, clock: &ManualClock) {
    let both = [(SCOPE, scope_limit()), (CLIENT, client_limit())];
    let check_both = async || limiter.check_all(&both).await.unwrap();

    assert_eq!(
        allowed(&check_both().await),
        [(1, Some(4)), (2, Some(3))],
        "in the order given"
    );
    assert_eq!(allowed(&check_both().await), [(0, Some(3)), (1, Some(2))]);
    // The scope's burst is spent: the first limit refuses, the client's is not counted.
    let v = check_both().await;
    let (index, info) = refused(&v);
    assert_eq!((index, info.why), (0, Some(Why::Rate)));
    assert_eq!(info.retry_after, Some(Duration::from_secs(1)));
    let own = limiter.check(&CLIENT, &client_limit()).await.unwrap();
    assert!(own.is_allowed(), "the client's token was not taken");
    assert_eq!(
        (own.info().remaining, own.info().quota.map(|q| q.remaining)),
        (0, Some(1)),
        "3 of the client's 4 a day: two together, one alone"
    );

    // Both buckets full again; the client's day has one left.
    clock.advance(Duration::from_secs(3));
    assert_eq!(allowed(&check_both().await), [(1, Some(2)), (2, Some(0))]);
    // Now the second limit refuses (its quota): the scope's token and unit stay.
    let v = check_both().await;
    let (index, info) = refused(&v);
    assert_eq!((index, info.why), (1, Some(Why::DailyQuota)));
    assert_eq!(info.quota.map(|q| q.remaining), Some(0));
    let scope = limiter.check(&SCOPE, &scope_limit()).await.unwrap();
    assert!(scope.is_allowed(), "the scope's token was not taken");
    assert_eq!(
        (
            scope.info().remaining,
            scope.info().quota.map(|q| q.remaining)
        ),
        (0, Some(1)),
        "4 of the scope's 5 a day"
    );
}

#[tokio::test]
async fn in_process() {
    let clock = clock_at(NOON_SHANGHAI);
    let limiter = Limiter::local(config(&clock));
    a_refusal_by_one_limit_counts_in_none(&limiter, &clock).await;
    let stats = limiter.stats();
    assert_eq!((stats.decisions, stats.rejections), (7, 2));
}

/// `calls` of `EVALSHA` Redis has served.
async fn evalsha_calls(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("cmdstat_evalsha:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

#[tokio::test]
async fn in_redis_in_one_script_call_that_writes_nothing_on_a_refusal() {
    let redis = RedisServer::start().unwrap();
    let clock = clock_at(NOON_SHANGHAI);
    let limiter = redis_limiter(&redis.url(), &clock);
    limiter.ready().await.unwrap();
    a_refusal_by_one_limit_counts_in_none(&limiter, &clock).await;
    assert_eq!(limiter.mode(), Mode::Redis);
    assert_eq!(limiter.stats().redis_errors, 0);

    // One round trip per decision, two limits or one.
    let mut conn = connection(&redis.url()).await;
    let both = [(SCOPE, scope_limit()), (CLIENT, client_limit())];
    let before = evalsha_calls(&mut conn).await;
    clock.advance(Duration::from_secs(3));
    limiter.check_all(&both).await.unwrap();
    assert_eq!(evalsha_calls(&mut conn).await, before + 1);

    // A refusal writes nothing: the state of the limit that allowed stays as it was.
    let tat = async |conn: &mut redis::aio::MultiplexedConnection, key: &Key<'_>| -> String {
        redis::cmd("GET")
            .arg(gcra_key(key))
            .query_async(conn)
            .await
            .unwrap()
    };
    let scope_before = tat(&mut conn, &SCOPE).await;
    let (index, _) = refused(&limiter.check_all(&both).await.unwrap());
    assert_eq!(index, 1, "the client's day is spent");
    assert_eq!(tat(&mut conn, &SCOPE).await, scope_before);
    assert_eq!(evalsha_calls(&mut conn).await, before + 2);
}

#[tokio::test]
async fn in_the_fallback_share() {
    let mut redis = RedisServer::start().unwrap();
    let clock = clock_at(NOON_SHANGHAI);
    let limiter = redis_limiter_of(&redis.url(), &clock, 1);
    redis.stop();
    // The first decision finds Redis gone and falls back (a share of 1 replica: the
    // whole limit).
    a_refusal_by_one_limit_counts_in_none(&limiter, &clock).await;
    assert_eq!(limiter.mode(), Mode::FallbackLocal);
}

#[tokio::test]
async fn limits_that_cannot_be_decided_together_are_a_callers_error() {
    let clock = clock_at(NOON_SHANGHAI);
    let limiter = Limiter::local(config(&clock));
    let other = Key::client("bank-hz");
    let many: Vec<_> = ["a", "b", "c", "d", "e"]
        .into_iter()
        .map(|s| (Key::scoped("bank-nb", s), scope_limit()))
        .collect();
    assert_eq!(many.len(), MAX_LIMITS_PER_CHECK + 1);
    for checks in [
        &[][..],
        &[(SCOPE, scope_limit()), (other, client_limit())][..],
        &[(CLIENT, scope_limit()), (CLIENT, client_limit())][..],
        &many[..],
    ] {
        let err = limiter.check_all(checks).await.unwrap_err();
        assert!(matches!(err, LimiterError::Checks(_)), "{err:?}");
    }
    assert_eq!(limiter.stats().decisions, 0);
    // Four is fine.
    assert!(matches!(
        limiter.check_all(&many[..4]).await.unwrap(),
        Verdict::Allowed(infos) if infos.len() == 4
    ));
}

//! What is limited ([`Key`]) and by how much ([`Limit`]).

use crate::day::Day;
use crate::error::LimitError;
use crate::gcra::{Params, MAX_WINDOW_MICROS};

/// A client's limit, as the policy states it (the gateway converts the policy crate's
/// `RateLimit` into this one, keeping this crate independent of the policy model).
///
/// **Burst convention:** `burst` is the largest number of requests allowed at once, from
/// a full bucket; after that, one request every `1 / per_second` seconds. `burst = 1`
/// means strictly spaced requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// Sustained rate, requests per second (> 0; fractions allowed: 0.5 = one per 2 s).
    pub per_second: f64,
    /// Maximum requests at once (≥ 1).
    pub burst: u32,
    /// Maximum requests per calendar day in the limiter's time zone; `None`: no quota.
    pub daily_quota: Option<u64>,
}

/// The limited identity: a client, optionally narrowed to one of its scopes. Each
/// distinct key has its own bucket and its own daily counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key<'a> {
    /// The client id from the policy (identified by its certificate).
    pub client: &'a str,
    /// The scope when the policy limits the client per scope; `None`: the client's own
    /// limit over all its scopes.
    pub scope: Option<&'a str>,
}

/// One limit of a request, ready for a backend: the key it counts under, the limit, its
/// GCRA parameters and, when the limit has a daily quota, the calendar day of the
/// decision.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prepared<'a> {
    pub key: Key<'a>,
    pub limit: Limit,
    pub params: Params,
    pub day: Option<Day>,
}

impl Prepared<'_> {
    /// The daily quota and its day, when the limit has one.
    pub fn quota(&self) -> Option<(u64, &Day)> {
        self.limit.daily_quota.zip(self.day.as_ref())
    }
}

// === impl Limit ===

impl Limit {
    /// A rate limit without a daily quota.
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self {
            per_second,
            burst,
            daily_quota: None,
        }
    }

    /// The same limit with a daily quota.
    pub fn with_daily_quota(self, quota: u64) -> Self {
        Self {
            daily_quota: Some(quota),
            ..self
        }
    }

    /// Checks the limit is enforceable.
    pub fn validate(&self) -> Result<(), LimitError> {
        Params::new(self).map(drop)
    }

    /// One replica's share when `replicas` replicas enforce the limit independently
    /// (Redis unreachable, `fail_open_local`): the rate divided by `replicas`, the burst
    /// and the daily quota divided and rounded down but at least 1 (a quota of 0 stays
    /// 0). `replicas` 0 is taken as 1.
    ///
    /// The share's quota is what a replica may count on a day Redis never reported on
    /// to it. When Redis did report the day's count, the replica's count starts at
    /// [`share_counted`](Self::share_counted) instead.
    ///
    /// The share of a valid limit is valid: where the division would make the refill
    /// window longer than the limiter accepts (a burst smaller than `replicas` stays 1
    /// while the rate is divided, or rounding at the bound), the share's rate is raised
    /// just enough to refill its burst within the bound.
    pub fn share(&self, replicas: u32) -> Self {
        let n = replicas.max(1);
        let mut share = Self {
            per_second: self.per_second / f64::from(n),
            burst: (self.burst / n).max(1),
            daily_quota: self
                .daily_quota
                .map(|q| if q == 0 { 0 } else { (q / u64::from(n)).max(1) }),
        };
        if share.validate() == Err(LimitError::WindowTooLong) && self.validate().is_ok() {
            // The longest emission interval that fits the burst in the bound, at least
            // 1 µs; below 2⁵³, so exact in an f64 and back.
            let emission = (MAX_WINDOW_MICROS / u64::from(share.burst)).max(1);
            share.per_second = 1e6 / emission as f64;
        }
        share
    }
}

/// Where one replica's count of the day starts in the fallback, out of the share's quota
/// `share_quota`, when Redis last reported `used` of `quota` and `replicas` share what is
/// left: so that `⌊(quota − used) / replicas⌋` requests remain to it.
///
/// Rounded **down** (with 3 left and 2 replicas, each admits 1; with 1 left, none): at
/// most `⌊(quota − used) / replicas⌋` per replica, `used` being the count *this* replica
/// last saw (a replica that saw an older count admits its share of that).
pub(crate) fn share_counted(quota: u64, used: u64, replicas: u32, share_quota: u64) -> u64 {
    let left = quota.saturating_sub(used) / u64::from(replicas.max(1));
    share_quota.saturating_sub(left)
}

// === impl Key ===

impl<'a> Key<'a> {
    /// The client's own limit (all scopes together).
    pub fn client(client: &'a str) -> Self {
        Self {
            client,
            scope: None,
        }
    }

    /// The client's limit for one scope.
    pub fn scoped(client: &'a str, scope: &'a str) -> Self {
        Self {
            client,
            scope: Some(scope),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_divides_rate_burst_and_quota_with_floors() {
        let limit = Limit::new(10.0, 20).with_daily_quota(1000);
        let share = limit.share(3);
        assert!((share.per_second - 10.0 / 3.0).abs() < 1e-12);
        assert_eq!(share.burst, 6);
        assert_eq!(share.daily_quota, Some(333));
        let tiny = Limit::new(1.0, 2).with_daily_quota(2).share(4);
        assert_eq!((tiny.burst, tiny.daily_quota), (1, Some(1)));
        assert_eq!(
            Limit::new(1.0, 1).with_daily_quota(0).share(2).daily_quota,
            Some(0)
        );
        assert_eq!(limit.share(0), limit);
    }

    #[test]
    fn the_share_of_a_valid_limit_is_valid() {
        // Refills its burst in exactly the longest window accepted (100 years).
        let longest = |burst: u32| {
            let t = MAX_WINDOW_MICROS / u64::from(burst);
            Limit::new(1e6 / t as f64, burst)
        };
        let mut limits = vec![
            Limit::new(10.0, 20),
            Limit::new(3.0, 4),
            Limit::new(5e6, 1),
            Limit::new(1e-7, 300),
            Limit::new(1e-9, 3),
        ];
        for burst in [1, 2, 3, 5, 7, 1000, 65_537, u32::MAX] {
            limits.push(longest(burst));
            limits.push(Limit::new(longest(burst).per_second * 1.000_001, burst));
        }
        for limit in limits {
            assert_eq!(limit.validate(), Ok(()), "{limit:?}");
            for n in [1, 2, 3, 7, 1000, u32::MAX] {
                let share = limit.share(n);
                assert_eq!(share.validate(), Ok(()), "{limit:?} / {n}: {share:?}");
                assert!(share.per_second >= limit.per_second / f64::from(n));
                assert_eq!(share.burst, (limit.burst / n).max(1));
            }
        }
        // Burst 1 once per 100 years, 2 replicas: each at most once per 100 years.
        let share = longest(1).share(2);
        assert_eq!(
            Params::new(&share).map(|p| p.window().as_micros()),
            Ok(u128::from(MAX_WINDOW_MICROS))
        );
    }

    #[test]
    fn the_fallback_counts_from_what_redis_reported_rounding_the_rest_down() {
        // Quota 10, 2 replicas, share 5.
        let left = |used| 5 - share_counted(10, used, 2, 5);
        assert_eq!(left(0), 5);
        assert_eq!(left(4), 3);
        assert_eq!(left(3), 3, "7 left: 3 each, not 4");
        assert_eq!(left(9), 0, "1 left: none each");
        assert_eq!(left(10), 0);
        assert_eq!(left(12), 0, "over-counted by a lost reply");
        // Quota 1, 2 replicas: the share is 1 (at least 1), but nothing is left to split.
        assert_eq!(share_counted(1, 0, 2, 1), 1);
        assert_eq!(share_counted(1000, 1, 3, 333), 0, "999 / 3 = 333 left");
        assert_eq!(share_counted(7, 2, 0, 7), 2, "replicas 0 is 1");
    }

    #[test]
    fn validate_rejects_unenforceable_limits() {
        assert_eq!(Limit::new(0.0, 1).validate(), Err(LimitError::Rate(0.0)));
        assert!(matches!(
            Limit::new(f64::NAN, 1).validate(),
            Err(LimitError::Rate(_))
        ));
        assert_eq!(Limit::new(1.0, 0).validate(), Err(LimitError::ZeroBurst));
        assert_eq!(
            Limit::new(1e-9, 10).validate(),
            Err(LimitError::WindowTooLong)
        );
        assert_eq!(Limit::new(0.5, 1).validate(), Ok(()));
    }
}

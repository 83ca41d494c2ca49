//! Integration tests of `credgate-ratelimit`, one binary: the shared table of GCRA cases
//! (pure arithmetic, governor in process, the Lua script in a real `redis-server`), limits
//! shared by two replicas, failure modes and recovery, daily quotas across midnight, and
//! `NOSCRIPT` recovery.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod ratelimit {
    mod clock_step;
    mod cluster;
    pub mod common;
    mod failover;
    mod fallback_quota;
    mod fallback_rate;
    mod hung;
    mod policy_bound;
    mod quota;
    mod script;
    mod shared;
    mod table;
    mod together;
}

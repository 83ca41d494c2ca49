//! Integration tests of `credgate-authz`, one binary (faster to build than several):
//! interoperability with independent JWS implementations, the operator flow over real
//! files, and the Redis backend against a real `redis-server`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod authz {
    pub mod common;
    mod interop;
    mod operator;
    mod redis_state;
}

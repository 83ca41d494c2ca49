//! credgate's end-to-end tests, one binary (faster to build than many):
//! real mutual TLS on 127.0.0.1, the simulated platforms, an in-process
//! gateway per test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "it/tls.rs"]
mod tls;

#[path = "it/report.rs"]
mod report;

#[path = "it/scan.rs"]
mod scan;

#[path = "it/policy.rs"]
mod policy;

#[path = "it/authz.rs"]
mod authz;

#[path = "it/federation.rs"]
mod federation;

#[path = "it/score.rs"]
mod score;

#[path = "it/privacy.rs"]
mod privacy;

#[path = "it/lifecycle.rs"]
mod lifecycle;

#[path = "it/rfc9162.rs"]
mod rfc9162;

#[path = "it/audit.rs"]
mod audit;

#[path = "it/telemetry.rs"]
mod telemetry;

#[path = "it/ratelimit.rs"]
mod ratelimit;

#[path = "it/cluster.rs"]
mod cluster;

#[path = "it/head.rs"]
mod head;

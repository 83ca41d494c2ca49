//! `credgate`: a federated credit query gateway.
//!
//! The library holds every step of the request path; `main.rs` only parses
//! the command line and runs. See `ARCHITECTURE.md` for the request path and
//! the module that owns each step:
//!
//! - [`server`]: accept, mTLS handshake, HTTP/1.1 and HTTP/2, bounds, drain
//! - [`tls`]: server TLS material and its reload; certificate identity facts
//! - [`http`]: request id, identification, routing, endpoint handlers, problems
//! - [`federation`]: routing by division code, upstream mTLS client, adapters
//! - [`policy_store`] and [`reload`]: the policy in force and hot reload
//! - [`admin`]: health, readiness and metrics
//! - [`app`]: wiring; [`cli`], [`demo`]: the command line

pub mod admin;
pub mod app;
pub mod audit;
pub mod authorize;
pub mod cli;
pub mod config;
pub mod demo;
pub mod fdlimit;
pub mod federation;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod policy_store;
pub mod ratelimit;
pub mod recognition;
pub mod reload;
pub mod server;
pub mod telemetry;
pub mod tls;

//! `credgate-sim`: the simulated public credit platforms (信用宁波, 信用浙江,
//! 杭州, 厦门) used by the demo and the tests.
//!
//! * [`dataset`] generates deterministic synthetic subjects from a seed: the
//!   ground truth every platform serves, in credgate's canonical model.
//! * [`render`] turns that truth into each platform's own wire format
//!   (paths, envelopes, field names, date formats and amount units differ).
//! * [`server`] runs a platform: a mutual-TLS data address (HTTP/1.1 and h2)
//!   and a plain-HTTP loopback control address for fault injection and the
//!   request log.
//! * [`platform`] names the four platforms and which regions they own.

pub mod dataset;
pub mod platform;
pub mod render;
pub mod server;

mod checks;
mod error;
mod text;

pub use dataset::{Dataset, SimEnterprise, SimPerson, SimScore};
pub use error::SimError;
pub use platform::{platforms, PlatformId, PlatformSpec};
pub use server::{
    platforms_json, start, start_all, start_all_at, start_at, RunningPlatform, SimTls,
};

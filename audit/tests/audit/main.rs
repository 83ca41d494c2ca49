//! Integration tests of the audit log through its public API, as one test
//! binary: durability and group commit, failures, recovery, crashes of a
//! real child process, tamper detection, proofs against an independent
//! verifier, rotation and retention, queries; plus `#[ignore]`d benchmarks.

// Test code: panicking on unexpected errors is the point. `is_multiple_of`
// is newer than the workspace's rust-version (1.85).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::manual_is_multiple_of
)]

mod bench;
mod common;
mod crash;
mod failure;
mod group_commit;
mod proofs;
mod query;
mod recovery;
mod rotation;
mod runs;
mod shipped;
mod tamper;

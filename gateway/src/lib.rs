//! `credgate`: a federated credit query gateway.
//!
//! The library holds every step of the request path; `main.rs` only parses
//! the command line and runs. See `ARCHITECTURE.md` for the request path and
//! the module that owns each step.

pub mod federation;

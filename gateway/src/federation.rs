//! Federation: the upstream registry, routing by division code, the upstream
//! mTLS client, and one adapter per platform wire format.

pub mod adapters;

//! Default values of the configuration fields.
use std::net::SocketAddr;
pub fn handshake_timeout_ms() -> u64 {
    5_000
}
pub fn header_read_timeout_ms() -> u64 {
    10_000
}
pub fn idle_timeout_ms() -> u64 {
    60_000
}
pub fn request_timeout_ms() -> u64 {
    15_000
}
pub fn max_header_bytes() -> usize {
    16 * 1024
}
pub fn max_body_bytes() -> usize {
    64 * 1024
}
pub fn max_connections() -> usize {
    20_000
}
pub fn max_concurrent_streams() -> u32 {
    128
}
pub fn drain_timeout_ms() -> u64 {
    15_000
}
pub fn unidentified_connections_per_minute() -> u32 {
    6
}
pub fn admin_listen() -> Option<SocketAddr> {
    None
}
pub fn upstream_timeout_ms() -> u64 {
    3_000
}
pub fn upstream_connect_timeout_ms() -> u64 {
    1_000
}
pub fn upstream_max_concurrency() -> usize {
    256
}
pub fn replica() -> String {
    "credgate-1".to_owned()
}
pub fn checkpoint_every_records() -> u64 {
    1000
}
pub fn checkpoint_every_secs() -> u64 {
    60
}
pub fn segment_max_bytes() -> u64 {
    64 << 20
}
pub fn audit_max_batch() -> usize {
    512
}
pub fn audit_max_delay_us() -> u64 {
    0
}
pub fn audit_preallocate_bytes() -> u64 {
    256 << 10
}
pub fn audit_queue_bound() -> usize {
    10_000
}
pub fn audit_write_timeout_ms() -> u64 {
    5_000
}
pub fn clock_skew_secs() -> u64 {
    60
}
pub fn max_token_bytes() -> usize {
    4096
}
pub fn upstream_http2() -> bool {
    true
}
pub fn redis_call_timeout_ms() -> u64 {
    200
}
pub fn sanctions_deadline_ms() -> u64 {
    2_000
}
pub fn sanctions_calls_per_platform() -> usize {
    8
}
pub fn sanctions_max_subjects() -> usize {
    100
}
pub fn upstream_max_queue() -> usize {
    1024
}
pub fn upstream_max_retries() -> u32 {
    1
}
pub fn upstream_retry_budget() -> f64 {
    0.2
}
pub fn quota_utc_offset() -> String {
    "+08:00".to_owned()
}
pub fn replicas() -> u32 {
    1
}
pub fn ratelimit_call_timeout_ms() -> u64 {
    50
}

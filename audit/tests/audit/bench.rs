//! Benchmarks (`cargo test -p credgate-audit --release -- --ignored --nocapture bench`).

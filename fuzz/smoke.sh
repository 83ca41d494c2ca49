#!/usr/bin/env bash
# Runs every cargo-fuzz target for N seconds (default 30) from the checked-in
# seeds, and fails on the first crash, leak, timeout or out-of-memory.
#
#   fuzz/smoke.sh [SECONDS] [-- EXTRA LIBFUZZER FLAGS]
#
# Environment:
#   FUZZ_TARGETS      space-separated targets (default: all, `cargo fuzz list`)
#   FUZZ_SANITIZER    address (default) or none
#   FUZZ_TARGET_DIR   cargo target directory (default: fuzz/target)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable toolchain the
# nightly flags are enabled with RUSTC_BOOTSTRAP=1 (set here). Not part of
# CI's test command: see fuzz/README.md.
set -euo pipefail

secs=30
if [[ $# -gt 0 && $1 != "--" ]]; then
    secs=$1
    shift
fi
[[ ${1:-} == "--" ]] && shift
extra=("$@")

cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
sanitizer=${FUZZ_SANITIZER:-address}
target_dir=${FUZZ_TARGET_DIR:-target}
targets=${FUZZ_TARGETS:-$(cargo fuzz list)}

cargo fuzz build --sanitizer "$sanitizer" --target-dir "$target_dir"

status=0
summary=()
for t in $targets; do
    mkdir -p "corpus/$t" "artifacts/$t"
    log="artifacts/$t/smoke.log"
    echo "== $t: ${secs}s (log: fuzz/$log)"
    # corpus/$t receives new inputs; seeds/$t is read only.
    if cargo fuzz run "$t" --sanitizer "$sanitizer" --target-dir "$target_dir" \
        "corpus/$t" "seeds/$t" -- \
        -max_total_time="$secs" -timeout=30 -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" "${extra[@]}" >"$log" 2>&1; then
        result=ok
    else
        result=FAILED
        status=1
        grep -E -A12 'panicked at|ERROR: (AddressSanitizer|libFuzzer)|SUMMARY' "$log" | head -40 || true
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    summary+=("$(printf '%-14s %-7s %s executions' "$t" "$result" "${runs:-?}")")
done

echo
printf '%s\n' "${summary[@]}"
exit $status

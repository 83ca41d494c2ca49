#!/usr/bin/env bash
# Writes what the compose stack mounts under deploy/compose/certs/:
#   - the development PKI (`credgate certs dev`): server and client
#     certificates, CRL, the platform-side PKI under upstream/, the demo
#     authorization issuer under authz/;
#   - the audit checkpoint signing key: audit/signing.key (+ signing.pub, the
#     key `credgate audit verify --pubkey` checks against);
#   - the subject pseudonym key: pseudonym.key (shared by both replicas).
#
# Usage: deploy/compose/init-certs.sh [OUT_DIR] [--force] [--new-keys]
#   OUT_DIR defaults to deploy/compose/certs. CREDGATE may name a credgate
#   binary; by default it is built and run with `cargo run -p credgate`.
#   --force makes new certificates; the audit signing key and the pseudonym
#   key are kept, since the audit volumes (audit-1, audit-2) outlive
#   `docker compose down` and a log refuses a key other than the one that
#   signed it. --new-keys replaces those two as well: only together with
#   `docker compose down -v` (which deletes the audit logs).
#
# DEVELOPMENT ONLY: the files are made world-readable so that the container
# user (uid 10001) can read them through the bind mount. Never do that with
# real keys: give them to the service user (mode 0400) or use secrets.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/certs"
force=()
new_keys=0
for arg in "$@"; do
    case "$arg" in
        --force) force=(--force) ;;
        --new-keys) new_keys=1 ;;
        -h|--help) sed -n '2,21p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) out="$arg" ;;
    esac
done

if [[ -n "${CREDGATE:-}" ]]; then
    cg=("$CREDGATE")
else
    cg=(cargo run --quiet --manifest-path "$here/../../Cargo.toml" -p credgate --)
fi

# The simulated platforms are reached as https://sim:PORT inside the stack,
# and the gateways behind the load balancer as https://lb:8443: their
# certificates must name those hosts too.
san=(--san sim --san lb)

"${cg[@]}" certs dev --out "$out" "${force[@]}" "${san[@]}"

if [[ ! -f "$out/audit/signing.key" || $new_keys -eq 1 ]]; then
    # The checkpoint signing key pair (`[audit] signing_key_file`).
    rm -f "$out/audit/signing.key" "$out/audit/signing.pub"
    "${cg[@]}" audit keygen --out "$out/audit" >/dev/null
fi

if [[ ! -f "$out/pseudonym.key" || $new_keys -eq 1 ]]; then
    # 32 random bytes, hex: the same file on every replica.
    head -c 32 /dev/urandom | od -An -vtx1 | tr -d ' \n' >"$out/pseudonym.key"
fi

chmod -R a+rX "$out"
echo "compose certificates and keys written to $out"

#!/usr/bin/env python3
"""An independent Ed25519 JWS implementation for credgate-authz's interop tests.

Assembles and checks compact JWS by hand (base64url of the JSON header and payload,
Ed25519 from the `cryptography` package), sharing no code with the Rust side.

    sign_jws.py sign    < {"header": {...}, "claims": {...}[, "private_pem": "..."]}
        -> {"token": "...", "public_pem": "...", "private_pem": "..."}  (fresh key unless given)
    sign_jws.py verify  < {"token": "...", "public_pem": "..."}
        -> {"header": {...}, "claims": {...}}   (exit 1 if the signature is bad)

Exit status 3 when `cryptography` is missing (the Rust test then fails with
"pip install cryptography").
"""

import base64
import json
import sys

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
except ImportError:
    sys.stderr.write("the python package 'cryptography' is missing: pip install cryptography\n")
    sys.exit(3)


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def compact_json(value) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(request):
    if "private_pem" in request:
        key = serialization.load_pem_private_key(request["private_pem"].encode("ascii"), password=None)
    else:
        key = Ed25519PrivateKey.generate()
    signing_input = b64u(compact_json(request["header"])) + "." + b64u(compact_json(request["claims"]))
    signature = key.sign(signing_input.encode("ascii"))
    return {
        "token": signing_input + "." + b64u(signature),
        "public_pem": key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii"),
        # PKCS#8 v1, without the public key, as OpenSSL writes it.
        "private_pem": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii"),
    }


def verify(request):
    public_key = serialization.load_pem_public_key(request["public_pem"].encode("ascii"))
    header, payload, signature = request["token"].split(".")
    try:
        public_key.verify(b64u_decode(signature), (header + "." + payload).encode("ascii"))
    except InvalidSignature:
        sys.stderr.write("bad signature\n")
        sys.exit(1)
    return {"header": json.loads(b64u_decode(header)), "claims": json.loads(b64u_decode(payload))}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("sign", "verify"):
        sys.stderr.write("usage: sign_jws.py sign|verify < request.json\n")
        sys.exit(2)
    request = json.load(sys.stdin)
    result = sign(request) if sys.argv[1] == "sign" else verify(request)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()

//! credgate's development PKI: everything `credgate certs dev`, `credgate demo` and the
//! integration tests need to run mutual TLS on loopback.
//!
//! [`generate_dev_pki`] writes this layout (SPEC §11) into a directory:
//!
//! | path | what |
//! |---|---|
//! | `ca.crt`, `ca.key` | the client-facing CA credgate trusts (CN `credgate dev client CA`) |
//! | `server.crt`, `server.key` | credgate's server certificate (SANs `localhost`, `127.0.0.1`, `::1`) |
//! | `crl.pem` | CRL by `ca` revoking `clients/revoked.crt` |
//! | `clients/NAME.crt`, `.key` | client certificates for [`CLIENT_NAMES`] (URI SAN `spiffe://credgate.dev/client/NAME`) |
//! | `rogue/ca.crt`, `.key`, `rogue/client.crt`, `.key` | an untrusted CA and a client from it impersonating `bank-nb` |
//! | `upstream/ca.crt`, `.key` | the CA of the platform side |
//! | `upstream/NAME.crt`, `.key` | server certificates of the [`UPSTREAM_PLATFORMS`] |
//! | `upstream/gateway.crt`, `.key` | credgate's upstream client identity (URI SAN [`GATEWAY_SPIFFE_ID`]) |
//! | `authz/issuer.key`, `authz/issuer.pub` | the demo authorization issuer (Ed25519, PEM) |
//! | `README.txt` | what each file is |
//!
//! The building blocks ([`new_ca`], [`issue_client_cert`], [`issue_server_cert`],
//! [`make_crl`], [`ed25519_keypair_pem`]) work on PEM strings so tests can mint extra
//! material (an unmatched client, a rotated server certificate, a new CRL) from a CA
//! written earlier. X.509 keys are ECDSA P-256; this material is for development only.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod crl;
mod dev;
mod ed25519;
mod error;
mod issue;
mod pem;

pub use crl::{make_crl, CRL_LIFETIME_DAYS};
pub use dev::{
    generate_dev_pki, DevPki, DevPkiOptions, FilePair, CLIENT_CA_NAME, CLIENT_NAMES,
    GATEWAY_CLIENT_NAME, ROGUE_CA_NAME, ROGUE_IMPERSONATES, SERVER_SANS, UPSTREAM_CA_NAME,
    UPSTREAM_PLATFORMS,
};
pub use ed25519::ed25519_keypair_pem;
pub use error::CertsError;
pub use issue::{
    check_server_san, client_spiffe_id, issue_client_cert, issue_server_cert, new_ca, CertPair,
    Validity, DEV_ORGANIZATION, GATEWAY_SPIFFE_ID,
};

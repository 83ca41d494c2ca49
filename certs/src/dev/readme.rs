//! The `README.txt` written beside the generated files.

use super::{
    CLIENT_CA_NAME, GATEWAY_CLIENT_NAME, ROGUE_CA_NAME, ROGUE_IMPERSONATES, UPSTREAM_CA_NAME,
};
use crate::{DEV_ORGANIZATION, GATEWAY_SPIFFE_ID};

/// The README text.
pub(super) fn text() -> String {
    format!(
        "\
credgate DEVELOPMENT PKI -- written by `credgate certs dev`.

FOR DEVELOPMENT, DEMOS AND TESTS ONLY. The private keys are stored unencrypted
next to the certificates, every run makes new random keys, and nothing here is
trusted by anyone outside this directory. Production deployments supply their
own CA, server certificate, CRL and issuer keys (see certs/README.md).

Keys: ECDSA P-256, PKCS#8 PEM, mode 0600. Every certificate has a random
16-byte serial and subject O = \"{DEV_ORGANIZATION}\".

Client side (what connects to credgate)
  ca.crt, ca.key          CA \"{CLIENT_CA_NAME}\": credgate trusts client
                          certificates issued by it (basicConstraints CA,
                          keyCertSign + cRLSign).
  server.crt, server.key  credgate's server certificate, issued by ca.crt:
                          SANs DNS localhost, IP 127.0.0.1, IP ::1; EKU serverAuth.
  crl.pem                 CRL signed by ca.key, revoking clients/revoked.crt
                          (valid for 90 days; regenerate to renew).
  clients/NAME.crt, .key  client certificates issued by ca.crt: CN = NAME,
                          URI SAN spiffe://credgate.dev/client/NAME, EKU clientAuth.
      bank-nb    a Ningbo bank (信易贷 lending)
      dept-nb    a Ningbo government department (联合奖惩)
      peer-hz    Hangzhou's credit platform (信用分互认)
      auditor    the auditor
      revoked    valid, but listed in crl.pem: its handshake fails
      expired    validity ended yesterday: its handshake fails
  rogue/ca.crt, .key      CA \"{ROGUE_CA_NAME}\" that credgate does NOT trust.
  rogue/client.crt, .key  client certificate from the rogue CA, CN rogue,
                          impersonating {ROGUE_IMPERSONATES}'s URI SAN: its handshake
                          fails, because trust comes from the CA, not the name.

Platform side (what credgate connects to)
  upstream/ca.crt, .key   CA \"{UPSTREAM_CA_NAME}\" for the simulated platforms
                          and credgate's client identity towards them.
  upstream/NAME.crt, .key server certificates of the simulated platforms
                          xinyong-ningbo, xinyong-zhejiang, hangzhou, xiamen:
                          SANs localhost, 127.0.0.1, ::1; EKU serverAuth.
  upstream/gateway.crt, .key
                          credgate's upstream client certificate: CN
                          {GATEWAY_CLIENT_NAME}, URI SAN {GATEWAY_SPIFFE_ID},
                          EKU clientAuth.

Subject authorization
  authz/issuer.key        the demo authorization issuer's Ed25519 private key
                          (PKCS#8 PEM, -----BEGIN PRIVATE KEY-----).
  authz/issuer.pub        its public key (SPKI PEM, -----BEGIN PUBLIC KEY-----),
                          trusted by the demo policy as issuer demo-issuer.

Regenerate with `credgate certs dev --out DIR --force`.
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CLIENT_NAMES, UPSTREAM_PLATFORMS};

    #[test]
    fn readme_mentions_every_name() {
        let text = text();
        for name in CLIENT_NAMES.iter().chain(&UPSTREAM_PLATFORMS) {
            assert!(text.contains(name), "README.txt does not mention {name}");
        }
        assert!(text.contains("DEVELOPMENT"));
    }
}

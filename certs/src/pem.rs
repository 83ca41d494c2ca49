//! Minimal PEM helpers: encode DER under a label, and pull the DER out of a
//! certificate PEM with a clear error when it is not one.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::CertsError;

/// Encodes `der` as a PEM block with the given label (RFC 7468, 64-column lines, LF endings).
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Returns the DER of the first `CERTIFICATE` block in `pem`.
///
/// `what` names the input in the error ("CA certificate", "revoked certificate").
pub(crate) fn certificate_der(pem: &str, what: &'static str) -> Result<Vec<u8>, CertsError> {
    let (_, block) =
        x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| CertsError::InvalidPem {
            what,
            detail: format!("not PEM: {e}"),
        })?;
    if block.label != "CERTIFICATE" {
        return Err(CertsError::InvalidPem {
            what,
            detail: format!("expected a CERTIFICATE block, found {:?}", block.label),
        });
    }
    Ok(block.contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_wraps_at_64_columns() {
        let pem = encode("TEST", &[0xab; 100]);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines.first(), Some(&"-----BEGIN TEST-----"));
        assert_eq!(lines.last(), Some(&"-----END TEST-----"));
        assert_eq!(lines[1].len(), 64);
        assert!(lines[1..lines.len() - 1].iter().all(|l| l.len() <= 64));
        let body: String = lines[1..lines.len() - 1].concat();
        assert_eq!(STANDARD.decode(body).unwrap(), vec![0xab; 100]);
    }

    #[test]
    fn certificate_der_rejects_other_labels_and_garbage() {
        let key = encode("PRIVATE KEY", &[1, 2, 3]);
        assert!(matches!(
            certificate_der(&key, "CA certificate"),
            Err(CertsError::InvalidPem {
                what: "CA certificate",
                ..
            })
        ));
        assert!(certificate_der("hello", "CA certificate").is_err());
        let cert = encode("CERTIFICATE", &[4, 5, 6]);
        assert_eq!(certificate_der(&cert, "x").unwrap(), vec![4, 5, 6]);
    }
}

//! Connections whose certificate the CA issued but no policy entry matches.
//!
//! Such a certificate passes the handshake (trust is the CA's; identity is
//! the policy's), and its first request gets `403 scope_denied` with an
//! audit record, so that whoever holds it learns why and the auditor sees
//! what it tried. Without a bound, one such certificate could write audit
//! records as fast as it can send requests. So:
//! - the refusal closes the connection (`Connection: close` on HTTP/1.1,
//!   GOAWAY on HTTP/2; see [`CloseConnection`]): each further attempt
//!   costs a full handshake (resumption is off);
//! - each certificate (by SHA-256 fingerprint) may open
//!   `unidentified_connections_per_minute` such connections (GCRA, the same
//!   number as burst); beyond that the connection is closed right after the
//!   handshake, before any HTTP, counted and logged (no request reached
//!   policy evaluation, so there is no audit record to write).

use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Most certificates tracked at once. Beyond it (after forgetting those
/// whose allowance has refilled) a new unidentified certificate is closed
/// at once: failing closed costs nothing legitimate, as such a
/// certificate gets no data anyway.
const MAX_TRACKED: usize = 4096;

/// Marks a response after which the connection is closed (a response
/// extension, read by the connection's service).
#[derive(Clone, Copy, Debug)]
pub struct CloseConnection;

/// Per-certificate allowance of connections for certificates no policy
/// entry matches.
#[derive(Debug)]
pub struct Unidentified {
    limiter: Option<DefaultKeyedRateLimiter<[u8; 32]>>,
}

impl Unidentified {
    /// `per_minute` connections per certificate per minute (and as burst);
    /// 0 closes every such connection before HTTP.
    pub fn new(per_minute: u32) -> Unidentified {
        Unidentified {
            limiter: NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n))),
        }
    }

    /// Whether a connection of the unidentified certificate `fingerprint`
    /// may send a request (and spends one of its allowance if so).
    pub fn admit(&self, fingerprint: &[u8; 32]) -> bool {
        match &self.limiter {
            None => false,
            Some(l) => {
                if l.len() >= MAX_TRACKED {
                    l.retain_recent();
                }
                l.len() < MAX_TRACKED && l.check_key(fingerprint).is_ok()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_certificate_gets_its_own_allowance_then_is_closed() {
        let u = Unidentified::new(3);
        let (a, b) = ([1u8; 32], [2u8; 32]);
        assert!((0..3).all(|_| u.admit(&a)), "the burst is admitted");
        assert!(!u.admit(&a), "then closed");
        assert!(!u.admit(&a));
        assert!(u.admit(&b), "another certificate has its own allowance");
    }

    #[test]
    fn zero_admits_none() {
        let u = Unidentified::new(0);
        assert!(!u.admit(&[7u8; 32]));
    }

    #[test]
    fn the_tracked_set_is_bounded_and_fails_closed_when_full() {
        let u = Unidentified::new(1);
        for i in 0..MAX_TRACKED {
            let mut fp = [0u8; 32];
            fp[..8].copy_from_slice(&(i as u64).to_le_bytes());
            assert!(u.admit(&fp), "certificate {i} has its first connection");
        }
        // Every tracked certificate has spent its allowance (one per
        // minute): none can be forgotten, so a new one is closed.
        assert!(!u.admit(&[0xff; 32]));
        let l = u.limiter.as_ref().unwrap();
        assert_eq!(l.len(), MAX_TRACKED, "nothing was added beyond the bound");
    }
}

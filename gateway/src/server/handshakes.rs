//! Handshakes in progress, per client address.
//!
//! A TCP connection holds one of `max_connections` slots from accept on,
//! before the TLS handshake has said who the client is. Without a second
//! bound, one host could open enough silent connections to hold every slot
//! for the handshake timeout and keep every other client out. This caps the
//! handshakes one address may have in progress at once
//! (`server.max_handshakes_per_ip`); a connection over the cap is closed at
//! once and counted (`credgate_tls_handshake_failures{reason="per_ip_limit"}`),
//! without a log line (a flood would flood the log). Established
//! connections are not counted: a client may keep as many open as
//! `max_connections` allows.
//!
//! Behind a TCP load balancer that does not pass the client's address (no
//! PROXY protocol), every connection comes from the balancer's address; set
//! the cap to 0 (off) there, or size it for the balancer's bursts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// Counts handshakes in progress per address.
#[derive(Debug)]
pub(super) struct Handshakes {
    cap: usize,
    by_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// A handshake in progress; counted until dropped.
#[derive(Debug)]
pub(super) struct Pending {
    table: Option<(Arc<Handshakes>, IpAddr)>,
}

impl Handshakes {
    /// At most `cap` handshakes per address at once; 0: no cap.
    pub(super) fn new(cap: usize) -> Arc<Handshakes> {
        Arc::new(Handshakes {
            cap,
            by_ip: Mutex::new(HashMap::new()),
        })
    }

    /// Starts counting a handshake from `ip`; `None` when the address has
    /// `cap` in progress already.
    pub(super) fn enter(self: &Arc<Self>, ip: IpAddr) -> Option<Pending> {
        if self.cap == 0 {
            return Some(Pending { table: None });
        }
        // An IPv4 client reaching a dual-stack socket counts as itself.
        let ip = ip.to_canonical();
        // The map holds plain counters: a panic elsewhere cannot leave it
        // inconsistent, so a poisoned lock is used as is.
        let mut by_ip = self.by_ip.lock().unwrap_or_else(PoisonError::into_inner);
        let n = by_ip.entry(ip).or_insert(0);
        if *n >= self.cap {
            return None;
        }
        *n += 1;
        Some(Pending {
            table: Some((self.clone(), ip)),
        })
    }

    /// Addresses with a handshake in progress (tests).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.by_ip
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let Some((table, ip)) = self.table.take() else {
            return;
        };
        let mut by_ip = table.by_ip.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = by_ip.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                by_ip.remove(&ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_each_address_and_forgets_it_when_its_handshakes_end() {
        let t = Handshakes::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let a1 = t.enter(a).unwrap();
        let a2 = t.enter(a).unwrap();
        assert!(t.enter(a).is_none(), "third from the same address");
        // The same address over IPv6 (v4-mapped) is the same client.
        assert!(t.enter("::ffff:192.0.2.1".parse().unwrap()).is_none());
        let b1 = t.enter(b).expect("another address is not affected");
        drop(a1);
        let a3 = t.enter(a).expect("a slot came back");
        drop((a2, a3, b1));
        assert_eq!(t.tracked(), 0, "no entry outlives its handshakes");
    }

    #[test]
    fn zero_is_no_cap() {
        let t = Handshakes::new(0);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let held: Vec<_> = (0..1000).map(|_| t.enter(ip).unwrap()).collect();
        assert_eq!(held.len(), 1000);
        assert_eq!(t.tracked(), 0);
    }
}

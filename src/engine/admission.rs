//! Connection limits: how many connections the application, and each peer
//! address, may hold at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::{Counters, Engine};
use crate::link::PeerAddress;

/// The connections being served, in all and by peer IP address.
#[derive(Debug, Default)]
pub(crate) struct Admissions {
    total: AtomicUsize,
    /// Kept only while a per-peer limit is set.
    by_peer: Mutex<HashMap<IpAddr, usize>>,
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub(crate) struct Admission {
    admissions: Arc<Admissions>,
    peer: Option<IpAddr>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.admissions.total.fetch_sub(1, Ordering::AcqRel);
        if let Some(ip) = self.peer {
            let mut by_peer = self
                .admissions
                .by_peer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(count) = by_peer.get_mut(&ip) {
                *count -= 1;
                if *count == 0 {
                    by_peer.remove(&ip);
                }
            }
        }
    }
}

impl Engine {
    /// Admits one more connection from `peer` if the application's limits
    /// allow it (`None`, counted, if they do not). Transports ask before
    /// they upgrade or answer a handshake, and hold the admission for the
    /// connection's life.
    pub(crate) fn admit(&self, peer: &PeerAddress) -> Option<Admission> {
        let limits = &self.config.limits;
        let admissions = &self.admissions;
        let total = admissions.total.fetch_add(1, Ordering::AcqRel) + 1;
        let mut admission = Admission {
            admissions: admissions.clone(),
            peer: None,
        };
        if limits.max_sessions.is_some_and(|max| total > max) {
            return self.refuse("the application serves as many connections as it may");
        }
        if let (Some(max), PeerAddress::Ip(addr)) = (limits.max_sessions_per_peer, peer) {
            let mut by_peer = admissions
                .by_peer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let count = by_peer.entry(addr.ip()).or_insert(0);
            if *count >= max {
                drop(by_peer);
                drop(admission);
                return self.refuse("this peer holds as many connections as it may");
            }
            *count += 1;
            admission.peer = Some(addr.ip());
        }
        Some(admission)
    }

    fn refuse(&self, why: &str) -> Option<Admission> {
        Counters::count(&self.stats.refused);
        tracing::debug!(why, "connection refused");
        None
    }
}

//! The live sessions of an application.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serverwamp_protocol::Id;
use tokio::sync::watch;

use super::Session;

/// Every open session, by ID. Touched when sessions open and close, never
/// per message.
pub(crate) struct Registry {
    sessions: Mutex<HashMap<Id, Session>>,
    count: watch::Sender<usize>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            sessions: Mutex::new(HashMap::new()),
            count: watch::Sender::new(0),
        }
    }
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Id, Session>> {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn insert(&self, session: Session) {
        let mut sessions = self.lock();
        sessions.insert(session.id(), session);
        self.count.send_replace(sessions.len());
    }

    pub(crate) fn remove(&self, id: Id) {
        let mut sessions = self.lock();
        sessions.remove(&id);
        self.count.send_replace(sessions.len());
    }

    pub(crate) fn snapshot(&self) -> Vec<Session> {
        self.lock().values().cloned().collect()
    }

    /// The open sessions of one realm.
    pub(crate) fn in_realm(&self, realm: &str) -> Vec<Session> {
        self.lock()
            .values()
            .filter(|s| s.realm() == realm)
            .cloned()
            .collect()
    }

    pub(crate) fn get(&self, id: Id) -> Option<Session> {
        self.lock().get(&id).cloned()
    }

    /// Open sessions per realm.
    pub(crate) fn count_by_realm(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for session in self.lock().values() {
            *counts.entry(session.realm().to_owned()).or_default() += 1;
        }
        counts
    }

    /// The bytes waiting in the open sessions' outbound queues: read from
    /// each queue's free budget under the registry's lock, for sampling.
    pub(crate) fn outbound_queues(&self) -> crate::OutboundQueues {
        let mut queues = crate::OutboundQueues::default();
        for session in self.lock().values() {
            let bytes = session.inner.outbound.queued_bytes() as u64;
            queues.total_bytes += bytes;
            queues.max_bytes = queues.max_bytes.max(bytes);
            queues.sessions += 1;
        }
        queues
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Waits until no session is open, or `timeout` passes; true if empty.
    pub(crate) async fn wait_empty(&self, timeout: Duration) -> bool {
        let mut rx = self.count.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|n| *n == 0))
            .await
            .is_ok()
    }
}

//! The node's side of a backplane: publications out, the subscriptions'
//! publications in, and who else is there.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use serverwamp_protocol::id::random_id;
use serverwamp_protocol::{Id, MatchPolicy, Serialization, Value};
use tokio::sync::{mpsc, watch};

use super::envelope::{self, Outgoing};
use super::{Audience, Broker, Publication, Subscriber};
use crate::backplane::{Backplane, subject};

/// How many publications may wait for the backplane before the next stay
/// on this node.
const QUEUE: usize = 65_536;
/// How many waiting publications go to the backplane at once.
const BATCH: usize = 256;
/// How often a node announces itself.
const PRESENCE_INTERVAL: Duration = Duration::from_secs(1);
/// How long a node counts after it was last heard from.
const PRESENCE_TTL: Duration = Duration::from_secs(3);
/// How long a SUBSCRIBE waits for the backplane to take a new interest.
const READY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait before trying a failed backplane subscription again.
const RETRY: Duration = Duration::from_millis(500);

/// What this node does with calls and cancels other nodes send it (the
/// engine serves them).
pub(crate) trait CallServer: Send + Sync + 'static {
    /// A call from node `from`: the items of its message, `[CALL, from,
    /// call ID, ...]` (see [`Relay::call_message`]).
    fn call(&self, from: u64, call: Vec<Value>);
    /// Node `from` cancels its call `call`.
    fn cancel(&self, from: u64, call: u64);
}

/// What reaches a node's own subject.
pub(crate) enum Inbox {
    /// A call to serve (the call server reads the rest of the message).
    Call { from: u64 },
    /// Another node cancels one of the calls it sent here.
    Cancel { from: u64, call: u64 },
    /// An answer to a call this node sent: one encoded WAMP message.
    Reply { call: u64, message: Bytes },
}

/// The kinds of message sent to a node's own subject.
pub(crate) const CALL: u64 = 10;
const CANCEL: u64 = 11;
const REPLY: u64 = 12;

/// Open sessions per realm on this node.
pub(crate) type LocalCounts = Arc<dyn Fn() -> HashMap<String, usize> + Send + Sync>;

/// One node's link to the backplane its cluster shares.
pub(crate) struct Relay {
    backplane: Arc<dyn Backplane>,
    prefix: Arc<str>,
    /// This node's ID, to know its own publications when they come back.
    node: Id,
    /// Publications on their way to the backplane; made with the tasks,
    /// on first need inside a runtime.
    outgoing: OnceLock<mpsc::Sender<(String, Bytes)>>,
    /// Publications that stayed on this node because the queue was full.
    lost: AtomicU64,
    local_counts: LocalCounts,
    /// The other nodes heard from.
    nodes: Mutex<HashMap<u64, NodeInfo>>,
    /// The procedures this node serves to the others.
    shared: std::sync::RwLock<Vec<String>>,
    /// Serves other nodes' calls, once the engine has set it.
    call_server: OnceLock<Arc<dyn CallServer>>,
    /// Calls this node sent, waiting for their answers, by call ID.
    pending: Mutex<HashMap<u64, mpsc::UnboundedSender<Bytes>>>,
    /// Call IDs, and the round-robin of nodes to send calls to.
    next_call: AtomicU64,
    next_node: AtomicU64,
}

/// What a node announced, and when it was last heard from.
struct NodeInfo {
    seen: Instant,
    sessions: HashMap<String, usize>,
    procedures: Vec<String>,
}

impl Relay {
    pub(crate) fn new(
        backplane: Arc<dyn Backplane>,
        prefix: &str,
        local_counts: LocalCounts,
    ) -> Arc<Self> {
        let relay = Arc::new(Relay {
            backplane,
            prefix: Arc::from(prefix),
            node: random_id(),
            outgoing: OnceLock::new(),
            lost: AtomicU64::new(0),
            local_counts,
            nodes: Mutex::default(),
            shared: std::sync::RwLock::default(),
            call_server: OnceLock::new(),
            pending: Mutex::default(),
            next_call: AtomicU64::new(1),
            next_node: AtomicU64::new(0),
        });
        relay.start();
        relay
    }

    /// Starts the forwarder and presence tasks, once, if inside a tokio
    /// runtime; returns the forwarder's queue once started.
    pub(crate) fn start(self: &Arc<Self>) -> Option<&mpsc::Sender<(String, Bytes)>> {
        if let Some(sender) = self.outgoing.get() {
            return Some(sender);
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        Some(self.outgoing.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            runtime.spawn(forward(self.backplane.clone(), receiver));
            runtime.spawn(announce(Arc::downgrade(self)));
            runtime.spawn(listen_to_nodes(Arc::downgrade(self)));
            runtime.spawn(listen_to_inbox(Arc::downgrade(self)));
            sender
        }))
    }

    /// A local publication as it goes to the backplane; `None` (logged) if
    /// it cannot be encoded.
    pub(crate) fn envelope(
        &self,
        realm: &str,
        publication: &Publication<'_>,
        id: Id,
        wait: bool,
    ) -> Option<Envelope> {
        let bytes = envelope::encode(&Outgoing {
            node: self.node,
            publication: id,
            topic: publication.topic,
            wait,
            publisher: publication.audience.and_then(|a| a.publisher),
            details: &publication.details,
            options: publication.audience.map(|a| a.options),
            payload: &publication.payload,
        })?;
        let subject = subject::publication(&self.prefix, realm, publication.topic);
        Some(Envelope(subject, bytes))
    }

    /// Hands a publication to the backplane, never waiting: with the
    /// queue full, it stays on this node (counted, logged).
    pub(crate) fn send_now(&self, Envelope(subject, bytes): Envelope) {
        // The engine starts the relay before any session exists; outside a
        // runtime nothing can be sent.
        let Some(outgoing) = self.outgoing.get() else {
            self.note_lost("no tokio runtime to run the backplane in");
            return;
        };
        if outgoing.try_send((subject, bytes)).is_err() {
            self.note_lost("the backplane is not taking publications fast enough");
        }
    }

    /// Hands a publication to the backplane, waiting for room in its queue
    /// up to `limit`; past that it stays on this node (counted, logged).
    pub(crate) async fn send_waiting(&self, Envelope(subject, bytes): Envelope, limit: Duration) {
        let Some(outgoing) = self.outgoing.get() else {
            self.note_lost("no tokio runtime to run the backplane in");
            return;
        };
        let sent = tokio::time::timeout(limit, outgoing.send((subject, bytes))).await;
        if !matches!(sent, Ok(Ok(()))) {
            self.note_lost("the backplane took no publication for the slow-subscriber timeout");
        }
    }

    fn note_lost(&self, why: &str) {
        let lost = self.lost.fetch_add(1, Ordering::Relaxed) + 1;
        if lost.is_power_of_two() {
            tracing::warn!(
                lost,
                why,
                "publications delivered on this node only: they could not go to the backplane"
            );
        }
    }

    /// Listens on the backplane for the publications that subscription
    /// `subscription` (to `pattern` with `policy`) of `broker` matches, and
    /// delivers them to its subscribers. Stops when the returned watch is
    /// dropped.
    pub(crate) fn watch<S: Subscriber>(
        self: &Arc<Self>,
        broker: Weak<Broker<S>>,
        realm: &str,
        pattern: &str,
        policy: MatchPolicy,
        subscription: Id,
    ) -> Option<Watch> {
        self.start()?;
        let filters = subject::filters(&self.prefix, realm, pattern, policy);
        let (ready, ready_rx) = watch::channel(false);
        let listener = Listener {
            backplane: self.backplane.clone(),
            node: self.node.get(),
            pattern: Arc::from(pattern),
            policy,
            subscription,
            broker,
        };
        let task = tokio::spawn(listener.run(filters, ready));
        Some(Watch {
            ready: ready_rx,
            task: task.abort_handle(),
        })
    }

    /// The backplane.
    pub(crate) fn backplane(&self) -> Arc<dyn Backplane> {
        self.backplane.clone()
    }

    /// Whether a new subscription should wait for the backplane.
    pub(crate) fn is_connected(&self) -> bool {
        self.backplane.is_connected()
    }

    /// The open sessions of `realm` on this node and on every node heard
    /// from lately.
    pub(crate) fn session_count(&self, realm: &str) -> usize {
        let local = (self.local_counts)().get(realm).copied().unwrap_or(0);
        let nodes = self.lock_nodes();
        local
            + nodes
                .values()
                .filter(|n| n.seen.elapsed() < PRESENCE_TTL)
                .filter_map(|n| n.sessions.get(realm))
                .sum::<usize>()
    }

    /// How many nodes are in the cluster: this one and those heard from
    /// lately.
    pub(crate) fn node_count(&self) -> usize {
        let nodes = self.lock_nodes();
        1 + nodes
            .values()
            .filter(|n| n.seen.elapsed() < PRESENCE_TTL)
            .count()
    }

    fn lock_nodes(&self) -> std::sync::MutexGuard<'_, HashMap<u64, NodeInfo>> {
        self.nodes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Announces `procedures` as served by this node to the others.
    pub(crate) fn share(&self, procedures: &[String]) {
        *self
            .shared
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = procedures.to_vec();
    }

    /// Serves the calls other nodes send here with the server `make`
    /// makes, unless a server was set before.
    pub(crate) fn serve_calls(&self, make: impl FnOnce() -> Arc<dyn CallServer>) {
        let _ = self.call_server.get_or_init(make);
    }

    /// A node that announced it serves `procedure`, taking turns; `None`
    /// if none did lately.
    pub(crate) fn node_serving(&self, procedure: &str) -> Option<u64> {
        let nodes = self.lock_nodes();
        let mut serving: Vec<u64> = nodes
            .iter()
            .filter(|(_, n)| n.seen.elapsed() < PRESENCE_TTL)
            .filter(|(_, n)| n.procedures.iter().any(|p| p == procedure))
            .map(|(id, _)| *id)
            .collect();
        if serving.is_empty() {
            return None;
        }
        serving.sort_unstable();
        let turn = self.next_node.fetch_add(1, Ordering::Relaxed);
        let index = usize::try_from(turn % serving.len() as u64).unwrap_or(0);
        Some(serving[index])
    }

    /// Whether `node` was heard from lately.
    pub(crate) fn is_alive(&self, node: u64) -> bool {
        self.lock_nodes()
            .get(&node)
            .is_some_and(|n| n.seen.elapsed() < PRESENCE_TTL)
    }

    /// A new call ID and the channel its answers arrive on.
    pub(crate) fn expect_answers(&self) -> (u64, mpsc::UnboundedReceiver<Bytes>) {
        let call = self.next_call.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = mpsc::unbounded_channel();
        self.lock_pending().insert(call, sender);
        (call, receiver)
    }

    /// Forgets a call this node sent (answered, or given up).
    pub(crate) fn forget(&self, call: u64) {
        self.lock_pending().remove(&call);
    }

    fn lock_pending(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<u64, mpsc::UnboundedSender<Bytes>>> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sends `message` (a call, cancel or reply) to `node`, after what this
    /// node sent it before.
    /// Returns whether it was queued.
    pub(crate) fn send_to_node(&self, node: u64, message: Bytes) -> bool {
        let subject = subject::node(&self.prefix, node);
        match self.outgoing.get() {
            Some(outgoing) if outgoing.try_send((subject, message)).is_ok() => true,
            _ => {
                self.note_lost("the backplane is not taking messages fast enough");
                false
            }
        }
    }

    /// A call to another node: `[CALL, this node, call ID, ...rest]`.
    pub(crate) fn call_message(&self, call: u64, rest: &impl serde::Serialize) -> Bytes {
        encode_list(&(CALL, self.node.get(), call, rest))
    }

    /// A CANCEL of this node's call `call`.
    pub(crate) fn cancel_message(&self, call: u64) -> Bytes {
        encode_list(&(CANCEL, self.node.get(), call))
    }

    /// An answer to call `call` of another node: one WAMP message encoded
    /// in MsgPack.
    pub(crate) fn reply_message(&self, call: u64, message: &[u8]) -> Bytes {
        encode_list(&(REPLY, self.node.get(), call, BytesRef(message)))
    }
}

/// A publication on its way to the backplane: its subject and bytes.
pub(crate) struct Envelope(String, Bytes);

/// A subscription's listening on the backplane; stops when dropped.
pub(crate) struct Watch {
    ready: watch::Receiver<bool>,
    task: tokio::task::AbortHandle,
}

impl Watch {
    /// Waits until the backplane has taken the subscription, at most a
    /// little while.
    pub(crate) async fn ready(mut ready: watch::Receiver<bool>) {
        let _ = tokio::time::timeout(READY_TIMEOUT, ready.wait_for(|r| *r)).await;
    }

    /// What [`Watch::ready`] waits on.
    pub(crate) fn readiness(&self) -> watch::Receiver<bool> {
        self.ready.clone()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Takes publications from the queue to the backplane, in order, several
/// at a time.
async fn forward(backplane: Arc<dyn Backplane>, mut queue: mpsc::Receiver<(String, Bytes)>) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut failures = 0u64;
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        let count = batch.len();
        if let Err(error) = backplane.publish(std::mem::take(&mut batch)).await {
            failures += 1;
            if failures.is_power_of_two() {
                tracing::warn!(%error, count, failures, "publications did not reach the backplane");
            }
        }
    }
}

/// What a subscription's listener needs.
struct Listener<S> {
    backplane: Arc<dyn Backplane>,
    node: u64,
    pattern: Arc<str>,
    policy: MatchPolicy,
    subscription: Id,
    broker: Weak<Broker<S>>,
}

impl<S: Subscriber> Listener<S> {
    async fn run(self, filters: Vec<String>, ready: watch::Sender<bool>) {
        let mut streams = Vec::with_capacity(filters.len());
        for filter in filters {
            // The task is aborted when the subscription ends.
            let Some(stream) = subscribe(&*self.backplane, filter, || true).await else {
                return;
            };
            streams.push(stream);
        }
        ready.send_replace(true);
        let mut messages = futures_util::stream::select_all(streams);
        while let Some(bytes) = messages.next().await {
            let Some(incoming) = envelope::decode(&bytes) else {
                tracing::warn!(
                    bytes = bytes.len(),
                    "a backplane message that is no publication; ignored"
                );
                continue;
            };
            if incoming.node == self.node || !self.policy.matches(&self.pattern, &incoming.topic) {
                continue;
            }
            let Some(broker) = self.broker.upgrade() else {
                return;
            };
            let audience = Audience {
                publisher: incoming.publisher,
                options: &incoming.options,
            };
            let publication = Publication {
                topic: &incoming.topic,
                payload: incoming.payload,
                details: incoming.details,
                audience: Some(&audience),
                only: None,
                id: Some(incoming.publication),
                within: Some(self.subscription),
                relayed: true,
            };
            if incoming.wait {
                broker.publish_wait(publication).await;
            } else {
                broker.publish(publication);
            }
        }
    }
}

/// Announces this node's sessions per realm on the presence subject.
async fn announce(relay: Weak<Relay>) {
    let mut interval = tokio::time::interval(PRESENCE_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let Some(relay) = relay.upgrade() else {
            return;
        };
        let counts = (relay.local_counts)();
        let shared = relay
            .shared
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut bytes = Vec::with_capacity(64);
        let presence = (relay.node.get(), counts, shared);
        if serverwamp_protocol::Serialization::MsgPack
            .encode_into(&presence, &mut bytes)
            .is_err()
        {
            continue;
        }
        let message = vec![(subject::presence(&relay.prefix), Bytes::from(bytes))];
        let backplane = relay.backplane.clone();
        drop(relay);
        // Losing an announcement only delays the counts.
        let _ = backplane.publish(message).await;
    }
}

/// Subscribes to `filter`, trying again every little while (failures
/// logged at powers of two) as long as `wanted` says so.
async fn subscribe(
    backplane: &dyn Backplane,
    filter: String,
    wanted: impl Fn() -> bool,
) -> Option<crate::backplane::Messages> {
    let mut failures = 0u64;
    loop {
        match backplane.subscribe(filter.clone()).await {
            Ok(stream) => return Some(stream),
            Err(error) => {
                failures += 1;
                if failures.is_power_of_two() {
                    tracing::warn!(%error, %filter, "a backplane subscription failed; trying again");
                }
                if !wanted() {
                    return None;
                }
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// Keeps the other nodes' announcements.
async fn listen_to_nodes(relay: Weak<Relay>) {
    let (backplane, filter) = match relay.upgrade() {
        Some(relay) => (relay.backplane.clone(), subject::presence(&relay.prefix)),
        None => return,
    };
    let Some(mut stream) = subscribe(&*backplane, filter, || relay.strong_count() > 0).await else {
        return;
    };
    while let Some(bytes) = stream.next().await {
        let Some(relay) = relay.upgrade() else {
            return;
        };
        let Some((node, sessions, procedures)) = decode_presence(&bytes) else {
            continue;
        };
        if node == relay.node.get() {
            continue;
        }
        let mut nodes = relay.lock_nodes();
        let seen = Instant::now();
        nodes.insert(
            node,
            NodeInfo {
                seen,
                sessions,
                procedures,
            },
        );
        nodes.retain(|_, n| n.seen.elapsed() < PRESENCE_TTL * 10);
    }
}

/// A node's announcement: `[node, {realm: sessions}, [shared procedure]]`.
fn decode_presence(bytes: &[u8]) -> Option<(u64, HashMap<String, usize>, Vec<String>)> {
    let [node, Value::Dict(counts), Value::List(procedures)]: [Value; 3] =
        decode_list(bytes)?.try_into().ok()?
    else {
        return None;
    };
    let counts = counts
        .into_iter()
        .filter_map(|(realm, n)| Some((realm, usize::try_from(n.as_u64()?).ok()?)))
        .collect();
    let procedures = procedures
        .into_iter()
        .filter_map(|p| match p {
            Value::Str(p) => Some(p),
            _ => None,
        })
        .collect();
    Some((node.as_u64()?, counts, procedures))
}

fn decode_list(bytes: &[u8]) -> Option<Vec<Value>> {
    match Serialization::MsgPack.decode_value(bytes) {
        Ok(Value::List(items)) => Some(items),
        _ => None,
    }
}

fn encode_list(value: &impl serde::Serialize) -> Bytes {
    let mut bytes = Vec::with_capacity(64);
    if let Err(error) = Serialization::MsgPack.encode_into(value, &mut bytes) {
        tracing::warn!(%error, "a message to another node cannot be encoded");
    }
    Bytes::from(bytes)
}

/// Borrowed bytes that serialize as a byte string.
struct BytesRef<'a>(&'a [u8]);

impl serde::Serialize for BytesRef<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// Reads what reached a node's own subject: `[kind, from node, ...]`;
/// returns the whole list too.
fn decode_inbox(bytes: &[u8]) -> Option<(Inbox, Vec<Value>)> {
    let items = decode_list(bytes)?;
    let kind = items.first()?.as_u64()?;
    let from = items.get(1)?.as_u64()?;
    let inbox = match kind {
        CALL => Inbox::Call { from },
        CANCEL => Inbox::Cancel {
            from,
            call: items.get(2)?.as_u64()?,
        },
        REPLY => Inbox::Reply {
            call: items.get(2)?.as_u64()?,
            message: items.get(3)?.as_bytes()?.clone(),
        },
        _ => return None,
    };
    Some((inbox, items))
}

/// Hands what reaches this node's own subject to the call server or to
/// the calls waiting for answers.
async fn listen_to_inbox(relay: Weak<Relay>) {
    let (backplane, filter) = match relay.upgrade() {
        Some(relay) => (
            relay.backplane.clone(),
            subject::node(&relay.prefix, relay.node.get()),
        ),
        None => return,
    };
    let Some(mut stream) = subscribe(&*backplane, filter, || relay.strong_count() > 0).await else {
        return;
    };
    while let Some(bytes) = stream.next().await {
        let Some(relay) = relay.upgrade() else {
            return;
        };
        let Some((inbox, items)) = decode_inbox(&bytes) else {
            tracing::warn!(
                bytes = bytes.len(),
                "a message to this node that it cannot read; ignored"
            );
            continue;
        };
        match inbox {
            Inbox::Call { from } => match relay.call_server.get() {
                Some(server) => server.call(from, items),
                None => {
                    tracing::warn!(from, "a call from another node before this node serves any");
                }
            },
            Inbox::Cancel { from, call } => {
                if let Some(server) = relay.call_server.get() {
                    server.cancel(from, call);
                }
            }
            Inbox::Reply { call, message } => {
                if let Some(waiting) = relay.lock_pending().get(&call) {
                    let _ = waiting.send(message);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every prefix and many byte flips of valid messages: decoding never
    /// panics, whatever it makes of them.
    #[test]
    fn damaged_messages_never_panic() {
        let valid = [
            encode_list(&(
                CALL,
                7u64,
                1u64,
                ("realm", "proc", serverwamp_protocol::Dict::new(), 5u64),
            )),
            encode_list(&(CANCEL, 7u64, 1u64)),
            encode_list(&(REPLY, 7u64, 1u64, BytesRef(b"\x93\x32\x01\x80"))),
            encode_list(&(7u64, HashMap::from([("r".to_owned(), 3usize)]), vec!["p"])),
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for message in valid {
            for cut in 0..=message.len() {
                let _ = decode_inbox(&message[..cut]);
                let _ = decode_presence(&message[..cut]);
            }
            for _ in 0..2_000 {
                let mut damaged = message.to_vec();
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let at = usize::try_from(seed % damaged.len() as u64).unwrap_or(0);
                damaged[at] = damaged[at].wrapping_add(u8::try_from(seed >> 56).unwrap_or(1) | 1);
                let _ = decode_inbox(&damaged);
                let _ = decode_presence(&damaged);
            }
        }
        assert!(decode_inbox(&encode_list(&(CANCEL, 7u64, 1u64))).is_some());
        assert_eq!(
            decode_presence(&encode_list(&(
                7u64,
                HashMap::from([("r".to_owned(), 3usize)]),
                vec!["p"]
            ))),
            Some((
                7,
                HashMap::from([("r".to_owned(), 3)]),
                vec!["p".to_owned()]
            ))
        );
    }
}

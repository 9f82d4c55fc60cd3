//! The one queue through which everything reaches a session's client, bounded
//! in bytes, and the writer that drains it into the transport.
//!
//! Senders take room in the queue's byte budget before queuing a record and
//! the writer gives it back once the record is in the transport, so a client
//! that reads slowly holds at most the budget (1 MiB by default) in its
//! queue. Senders choose how to meet a full queue: wait for room (results,
//! and events published with the waiting variants), give up at once
//! (non-blocking events), or wait until a deadline.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use serverwamp_protocol::{Codec, Message};
use tokio::sync::{Semaphore, TryAcquireError};

mod writer;

pub(crate) use writer::run_writer;

/// The default byte budget of one session's outbound queue.
pub(crate) const DEFAULT_OUTBOUND_BYTES: usize = 1024 * 1024;

/// Why a message could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendError {
    /// The queue has no room (and the sender would not wait, or waited
    /// until its deadline).
    Full,
    /// The connection is gone.
    Closed,
}

/// Encodes `message` as one record of `codec` (framed for a batch when the
/// codec is batched).
///
/// Encodes into a scratch buffer kept per thread, then copies the record
/// out at its exact size: one allocation per record, where growing a fresh
/// buffer took one per doubling (seven for a 4 KiB result) and turning a
/// buffer with spare room into `Bytes` took one more.
pub(crate) fn encode_record(
    codec: Codec,
    message: &Message,
) -> Result<Bytes, serverwamp_protocol::EncodeError> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|scratch| {
        // Encoding runs no user code, so the buffer is never borrowed
        // twice; should that change, a fresh buffer does the job.
        let Ok(mut out) = scratch.try_borrow_mut() else {
            let mut out = Vec::new();
            codec.encode_frame(message, &mut out)?;
            return Ok(Bytes::from(out));
        };
        out.clear();
        let encoded = codec.encode_frame(message, &mut out);
        let record = encoded.map(|()| Bytes::copy_from_slice(&out));
        // A rare huge record does not pin its buffer to the thread.
        if out.capacity() > MAX_SCRATCH_BYTES {
            *out = Vec::new();
        }
        record
    })
}

/// The most a thread's encoding scratch buffer keeps between records.
const MAX_SCRATCH_BYTES: usize = 64 * 1024;

/// The state the senders and the writer of one queue share.
struct Queue {
    /// What waits for the writer. The writer takes all of it at once, so
    /// a burst of records costs it one lock, not one each.
    waiting: Mutex<Waiting>,
    /// The writer's waker: woken when something arrives in an empty
    /// queue, and when the last sender goes.
    writer: AtomicWaker,
    /// How many [`Outbound`] handles exist.
    senders: AtomicUsize,
    /// Free bytes of the budget, as permits; closed when the writer stops.
    room: Semaphore,
    /// The budget in bytes.
    capacity: u32,
    /// The longest message the peer accepts, if the transport knows one.
    max_len: Option<usize>,
    /// When a sender first found the queue full, in milliseconds since
    /// [`EPOCH`] plus one; 0 while it is not full. Cleared once the writer
    /// has drained the queue below half its budget.
    full_since: AtomicU64,
}

/// The items waiting in a queue.
#[derive(Default)]
struct Waiting {
    items: VecDeque<Outgoing>,
    /// Set when the session ends ([`Outbound::close`]) or the receiver is
    /// dropped: senders fail from then on, and the writer ends once it has
    /// taken what is left.
    closed: bool,
}

/// The origin of [`Queue::full_since`].
static EPOCH: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);

impl Queue {
    fn waiting(&self) -> MutexGuard<'_, Waiting> {
        // Nothing panics while holding the lock; should something, the
        // items are still whole.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until something is queued and moves all of it to `batch`
    /// (which is empty); see [`OutboundReceiver::next_batch`].
    async fn next_batch(&self, batch: &mut VecDeque<Outgoing>) -> Taken {
        debug_assert!(batch.is_empty());
        std::future::poll_fn(|cx| {
            self.writer.register(cx.waker());
            let mut waiting = self.waiting();
            if !waiting.items.is_empty() {
                std::mem::swap(&mut waiting.items, batch);
                let closed = waiting.closed;
                return Poll::Ready(Taken::Batch { closed });
            }
            if waiting.closed || self.senders.load(Ordering::Acquire) == 0 {
                return Poll::Ready(Taken::End);
            }
            Poll::Pending
        })
        .await
    }

    /// Closes the queue: senders fail from now on, what is queued can still
    /// be taken, and a writer waiting for more learns it.
    fn close(&self) {
        self.waiting().closed = true;
        self.writer.wake();
    }

    /// Queues an item for the writer, waking it if the queue was empty.
    fn push(&self, item: Outgoing) -> Result<(), SendError> {
        let mut waiting = self.waiting();
        if waiting.closed {
            return Err(SendError::Closed);
        }
        let was_empty = waiting.items.is_empty();
        waiting.items.push_back(item);
        drop(waiting);
        if was_empty {
            self.writer.wake();
        }
        Ok(())
    }

    /// The budget a record of `len` bytes takes: its length, but never more
    /// than the whole budget, so a record larger than the budget still goes
    /// through once the queue is empty.
    fn charge(&self, len: usize) -> u32 {
        u32::try_from(len)
            .unwrap_or(u32::MAX)
            .clamp(1, self.capacity)
    }

    fn mark_full(&self) {
        let now = u64::try_from(EPOCH.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1;
        let _ = self
            .full_since
            .compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Gives a written record's bytes back to the budget.
    fn release(&self, len: usize) {
        self.give_back(self.charge(len) as usize);
    }

    /// Gives `permits` back to the budget; clears the full mark once at
    /// least half the budget is free.
    fn give_back(&self, permits: usize) {
        self.room.add_permits(permits);
        if self.full_since.load(Ordering::Acquire) != 0
            && self.room.available_permits() >= self.capacity as usize / 2
        {
            self.full_since.store(0, Ordering::Release);
        }
    }
}

/// The sending side of a session's outbound queue: encodes with the
/// connection's codec and queues the bytes for the writer.
pub(crate) struct Outbound {
    queue: Arc<Queue>,
    codec: Codec,
}

impl Clone for Outbound {
    fn clone(&self) -> Self {
        self.queue.senders.fetch_add(1, Ordering::Relaxed);
        Outbound {
            queue: Arc::clone(&self.queue),
            codec: self.codec,
        }
    }
}

impl Drop for Outbound {
    fn drop(&mut self) {
        // The writer learns that nothing more can come.
        if self.queue.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.queue.writer.wake();
        }
    }
}

/// What [`OutboundReceiver::next_batch`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Taken {
    /// Items were moved to the batch. `closed`: the queue takes nothing
    /// more (the session has ended), so these are the last.
    Batch { closed: bool },
    /// Nothing is left and nothing more can come: the queue is closed, or
    /// every sender is gone.
    End,
}

/// What the writer sends.
pub(crate) enum Outgoing {
    /// One encoded message (framed for a batch when the codec is batched).
    Record(Bytes),
    /// A transport-level ping (liveness).
    Ping,
}

/// The receiving side of an outbound queue, for [`run_writer`]. Dropping
/// it closes the queue and its budget: senders fail from then on, and
/// none waits for room.
pub(crate) struct OutboundReceiver {
    queue: Arc<Queue>,
    /// Items taken from the queue and not yet handed out one by one
    /// ([`OutboundReceiver::recv_record`]).
    taken: VecDeque<Outgoing>,
}

impl OutboundReceiver {
    /// Waits until something is queued and moves all of it to `batch`
    /// (which is empty); [`Taken::End`] once nothing more can come and
    /// nothing is left.
    pub(crate) async fn next_batch(&self, batch: &mut VecDeque<Outgoing>) -> Taken {
        self.queue.next_batch(batch).await
    }

    /// The next queued record, its bytes given back to the budget at once
    /// (for a queue drained elsewhere than into a transport); `None` once
    /// every sender is gone. Pings are skipped.
    pub(crate) async fn recv_record(&mut self) -> Option<Bytes> {
        loop {
            if let Some(record) = self.take_record() {
                return Some(record);
            }
            if self.queue.next_batch(&mut self.taken).await == Taken::End {
                return None;
            }
        }
    }

    /// A record already queued, without waiting.
    pub(crate) fn try_recv_record(&mut self) -> Option<Bytes> {
        if self.taken.is_empty() {
            std::mem::swap(&mut self.queue.waiting().items, &mut self.taken);
        }
        self.take_record()
    }

    /// The next record among those taken, its room given back.
    fn take_record(&mut self) -> Option<Bytes> {
        while let Some(item) = self.taken.pop_front() {
            if let Outgoing::Record(bytes) = item {
                self.queue.release(bytes.len());
                return Some(bytes);
            }
        }
        None
    }
}

impl Drop for OutboundReceiver {
    fn drop(&mut self) {
        // Nobody drains the queue any more: a sender must not wait for
        // room that never comes back.
        self.queue.room.close();
        let mut waiting = self.queue.waiting();
        waiting.closed = true;
        waiting.items.clear();
    }
}

impl Outbound {
    /// A queue of `capacity` bytes and its receiving end for [`run_writer`].
    pub(crate) fn channel(
        codec: Codec,
        max_len: Option<usize>,
        capacity: usize,
    ) -> (Self, OutboundReceiver) {
        let capacity = u32::try_from(capacity).unwrap_or(u32::MAX).max(1);
        let queue = Arc::new(Queue {
            waiting: Mutex::default(),
            writer: AtomicWaker::new(),
            senders: AtomicUsize::new(1),
            room: Semaphore::new(capacity as usize),
            capacity,
            max_len,
            full_since: AtomicU64::new(0),
        });
        let receiver = OutboundReceiver {
            queue: queue.clone(),
            taken: VecDeque::new(),
        };
        (Outbound { queue, codec }, receiver)
    }

    /// Whether an encoded message is longer than the peer accepts.
    pub(crate) fn too_long(&self, encoded: &[u8]) -> bool {
        self.queue.max_len.is_some_and(|max| encoded.len() > max)
    }

    /// Encodes `message` into one record (framed for a batch when the codec
    /// is batched).
    pub(crate) fn encode(
        &self,
        message: &Message,
    ) -> Result<Bytes, serverwamp_protocol::EncodeError> {
        encode_record(self.codec, message)
    }

    fn enqueue(&self, bytes: Bytes) -> Result<(), SendError> {
        self.queue.push(Outgoing::Record(bytes))
    }

    /// Takes room for a record of `len` bytes if the budget has it now.
    fn try_take_room(&self, len: usize) -> Result<(), TryAcquireError> {
        let permit = self.queue.room.try_acquire_many(self.queue.charge(len))?;
        permit.forget();
        Ok(())
    }

    /// Queues already encoded bytes if there is room, without waiting. A
    /// full queue is remembered as full from now (see
    /// [`Outbound::full_since`]).
    pub(crate) fn try_send_encoded(&self, bytes: Bytes) -> Result<(), SendError> {
        match self.try_take_room(bytes.len()) {
            Ok(()) => {}
            Err(TryAcquireError::NoPermits) => {
                self.queue.mark_full();
                return Err(SendError::Full);
            }
            Err(TryAcquireError::Closed) => return Err(SendError::Closed),
        }
        self.enqueue(bytes)
    }

    /// Queues already encoded bytes if there is room now; gives them back
    /// otherwise, for a sender that will wait for room (so the queue is
    /// not marked full). Bytes for a session that is gone are dropped.
    pub(crate) fn try_queue(&self, bytes: Bytes) -> Result<(), Bytes> {
        match self.try_take_room(bytes.len()) {
            Ok(()) => {}
            Err(TryAcquireError::NoPermits) => return Err(bytes),
            Err(TryAcquireError::Closed) => return Ok(()),
        }
        let _ = self.enqueue(bytes);
        Ok(())
    }

    /// Queues already encoded bytes, waiting for room until `deadline`.
    pub(crate) async fn send_encoded_until(
        &self,
        bytes: Bytes,
        deadline: Instant,
    ) -> Result<(), SendError> {
        match self.try_send_encoded(bytes.clone()) {
            Err(SendError::Full) => {}
            done => return done,
        }
        let room = self.queue.room.acquire_many(self.queue.charge(bytes.len()));
        match tokio::time::timeout_at(deadline.into(), room).await {
            Ok(Ok(permit)) => permit.forget(),
            Ok(Err(_)) => return Err(SendError::Closed),
            Err(_) => return Err(SendError::Full),
        }
        self.enqueue(bytes)
    }

    /// Queues already encoded bytes, waiting while the queue is full.
    /// Returns false if the session is gone.
    pub(crate) async fn send_encoded(&self, bytes: Bytes) -> bool {
        // Most of the time there is room: take it without a future.
        match self.try_take_room(bytes.len()) {
            Ok(()) => {}
            Err(TryAcquireError::Closed) => return false,
            Err(TryAcquireError::NoPermits) => {
                let room = self.queue.room.acquire_many(self.queue.charge(bytes.len()));
                match room.await {
                    Ok(permit) => permit.forget(),
                    Err(_) => return false,
                }
            }
        }
        self.enqueue(bytes).is_ok()
    }

    /// Encodes and queues a message, waiting while the queue is full.
    /// Returns false if the message could not be encoded (logged) or the
    /// session is gone.
    pub(crate) async fn send_message(&self, message: &Message) -> bool {
        match self.encode(message) {
            Ok(bytes) => self.send_encoded(bytes).await,
            Err(e) => {
                tracing::warn!(error = %e, "dropping a message that cannot be encoded");
                false
            }
        }
    }

    /// Encodes and queues a message outside the budget: for the one GOODBYE
    /// that closes a session whose queue may be full. The writer sends it
    /// after what is queued before it.
    pub(crate) fn send_message_unbudgeted(&self, message: &Message) -> Result<(), SendError> {
        let bytes = self.encode(message).map_err(|_| SendError::Closed)?;
        self.enqueue(bytes)
    }

    /// Since when the queue has been full: set when a sender first finds no
    /// room, cleared once the writer has drained it below half its budget.
    pub(crate) fn full_since(&self) -> Option<Instant> {
        match self.queue.full_since.load(Ordering::Acquire) {
            0 => None,
            millis => Some(*EPOCH + Duration::from_millis(millis - 1)),
        }
    }

    /// Ends the queue when its session ends: senders (this one and every
    /// clone) fail from now on, and the writer writes what is queued, then
    /// closes the transport.
    pub(crate) fn close(&self) {
        self.queue.close();
    }

    /// Bytes waiting in the queue now: the budget less its free room (a
    /// record the writer is writing counts until it is in the transport).
    /// One atomic load.
    pub(crate) fn queued_bytes(&self) -> usize {
        (self.queue.capacity as usize).saturating_sub(self.queue.room.available_permits())
    }

    /// Asks the writer to ping the peer.
    pub(crate) fn ping(&self) {
        let _ = self.queue.push(Outgoing::Ping);
    }

    /// The connection's codec.
    pub(crate) fn codec(&self) -> Codec {
        self.codec
    }

    /// Replaces the codec (once the peer's batch separator is known).
    pub(crate) fn set_codec(&mut self, codec: Codec) {
        self.codec = codec;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use bytes::Bytes;
    use serverwamp_protocol::{Codec, Serialization};

    use super::{Outbound, Outgoing, SendError, Taken};

    fn channel(capacity: usize) -> (Outbound, super::OutboundReceiver) {
        Outbound::channel(Codec::new(Serialization::Json), None, capacity)
    }

    fn records(batch: &VecDeque<Outgoing>) -> Vec<Option<&[u8]>> {
        batch
            .iter()
            .map(|item| match item {
                Outgoing::Record(bytes) => Some(&bytes[..]),
                Outgoing::Ping => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn the_writer_takes_everything_queued_in_order_at_once() {
        let (outbound, receiver) = channel(1024);
        outbound.try_send_encoded(Bytes::from_static(b"a")).unwrap();
        outbound.ping();
        outbound
            .clone()
            .try_send_encoded(Bytes::from_static(b"bc"))
            .unwrap();
        let mut batch = VecDeque::new();
        assert_eq!(
            receiver.next_batch(&mut batch).await,
            Taken::Batch { closed: false }
        );
        assert_eq!(records(&batch), [Some(&b"a"[..]), None, Some(&b"bc"[..])]);
        assert_eq!(outbound.queued_bytes(), 3, "room comes back once written");
    }

    #[tokio::test]
    async fn the_queue_ends_when_every_sender_is_gone_and_it_is_empty() {
        let (outbound, receiver) = channel(1024);
        let other = outbound.clone();
        drop(outbound);
        other.try_send_encoded(Bytes::from_static(b"last")).unwrap();
        let waiting = tokio::spawn(async move {
            let mut batches = Vec::new();
            loop {
                let mut batch = VecDeque::new();
                if receiver.next_batch(&mut batch).await == Taken::End {
                    return batches;
                }
                batches.push(batch.len());
            }
        });
        tokio::task::yield_now().await;
        drop(other);
        let batches = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("the writer learns that no sender is left")
            .unwrap();
        assert_eq!(batches, [1]);
    }

    #[tokio::test]
    async fn closing_ends_a_waiting_writer_though_senders_remain() {
        let (outbound, receiver) = channel(1024);
        let kept = outbound.clone();
        outbound.try_send_encoded(Bytes::from_static(b"a")).unwrap();
        outbound.close();
        let mut batch = VecDeque::new();
        assert_eq!(
            receiver.next_batch(&mut batch).await,
            Taken::Batch { closed: true },
            "what was queued is still written, marked as the last"
        );
        assert_eq!(records(&batch), [Some(&b"a"[..])]);

        let (outbound, receiver) = channel(1024);
        let waiting = tokio::spawn(async move {
            let mut batch = VecDeque::new();
            receiver.next_batch(&mut batch).await
        });
        tokio::task::yield_now().await;
        outbound.close();
        let taken = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("the waiting writer is woken by the close")
            .unwrap();
        assert_eq!(taken, Taken::End);
        drop((kept, outbound));
    }

    #[tokio::test]
    async fn a_closed_queue_refuses_new_records_and_keeps_the_queued_ones() {
        let (outbound, mut receiver) = channel(1024);
        outbound
            .try_send_encoded(Bytes::from_static(b"kept"))
            .unwrap();
        outbound.close();
        assert_eq!(outbound.queued_bytes(), 4);
        assert_eq!(
            receiver.try_recv_record(),
            Some(Bytes::from_static(b"kept"))
        );
        assert_eq!(outbound.queued_bytes(), 0);
        assert_eq!(
            outbound.try_send_encoded(Bytes::from_static(b"late")),
            Err(SendError::Closed)
        );
        assert_eq!(receiver.try_recv_record(), None);
        drop(receiver);
        let (outbound, receiver) = channel(1024);
        drop(receiver);
        assert_eq!(
            outbound.try_send_encoded(Bytes::from_static(b"x")),
            Err(SendError::Closed)
        );
    }

    #[tokio::test]
    async fn senders_never_wait_for_room_in_a_queue_nobody_drains() {
        let (outbound, receiver) = channel(1024);
        drop(receiver);
        let record = Bytes::from(vec![b'x'; 600]);
        for _ in 0..4 {
            let sent = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                outbound.send_encoded(record.clone()),
            )
            .await
            .expect("a send to a dropped queue does not wait");
            assert!(!sent);
        }
    }
}

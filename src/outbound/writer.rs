//! The writer: drains a session's outbound queue into its transport.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;

use super::{OutboundReceiver, Outgoing, Queue, Taken};
use crate::link::{FrameWriter, TransportError};

/// Largest batched frame the writer builds from queued messages.
const MAX_BATCH_FRAME: usize = 64 * 1024;

/// How long the writer keeps writing what is queued once its session has
/// ended; a client that reads nothing does not hold its connection open.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How many queue slots the writer keeps between batches; a burst's larger
/// buffer is let go, so an idle session holds no more than this.
const SPARE_SLOTS: usize = 64;

/// Drains the queue into the transport: takes everything queued, feeds it,
/// then flushes once; for batched codecs, joins queued records into
/// frames. Once the queue is closed ([`Outbound::close`], when the session
/// ends), writes what is already queued (for at most [`DRAIN_TIMEOUT`]),
/// then closes the transport. (Senders may outlive the connection in
/// handles that users keep, so the last sender going cannot be the
/// signal; it ends the writer too.)
///
/// [`Outbound::close`]: super::Outbound::close
pub(crate) async fn run_writer<W: FrameWriter>(
    receiver: OutboundReceiver,
    mut writer: W,
    batched: bool,
) {
    let mut batch = VecDeque::new();
    let mut draining = None;
    while let Taken::Batch { closed } = receiver.next_batch(&mut batch).await {
        if closed && draining.is_none() {
            draining = Some(tokio::time::Instant::now() + DRAIN_TIMEOUT);
        }
        let queue = &receiver.queue;
        let written = match draining {
            None => write_batch(&mut batch, &mut writer, queue, batched).await,
            // Boxed: every idle connection keeps this future, and the timer
            // of the rare drain would make it larger.
            Some(deadline) => {
                let write = write_batch(&mut batch, &mut writer, queue, batched);
                match Box::pin(tokio::time::timeout_at(deadline, write)).await {
                    Ok(written) => written,
                    Err(_) => {
                        tracing::debug!("the client read nothing while its session closed");
                        break;
                    }
                }
            }
        };
        if written.is_err() {
            break;
        }
        if batch.capacity() > SPARE_SLOTS {
            batch = VecDeque::new();
        }
    }
    // Senders still waiting for room learn that the session is gone.
    drop(receiver);
    if draining.is_none_or(|deadline| tokio::time::Instant::now() < deadline) {
        let _ = Box::pin(tokio::time::timeout(DRAIN_TIMEOUT, writer.close())).await;
    }
}

/// Writes a batch taken from the queue, in order, then flushes. A ping is
/// sent once what comes before it is flushed. The records' room goes back
/// to the budget once they are all in the transport (each give-back takes
/// the budget's lock); a failed write closes the budget anyway.
async fn write_batch<W: FrameWriter>(
    batch: &mut VecDeque<Outgoing>,
    writer: &mut W,
    queue: &Queue,
    batched: bool,
) -> Result<(), TransportError> {
    let mut charged = 0;
    let mut frame = BatchFrame::default();
    while let Some(item) = batch.pop_front() {
        match item {
            Outgoing::Record(record) => {
                charged += queue.charge(record.len()) as usize;
                if !batched {
                    writer.feed(record).await?;
                } else if let Some(full) = frame.add(record) {
                    writer.feed(full).await?;
                }
            }
            Outgoing::Ping => {
                if let Some(rest) = frame.take() {
                    writer.feed(rest).await?;
                }
                writer.flush().await?;
                writer.ping().await?;
            }
        }
    }
    if let Some(rest) = frame.take() {
        writer.feed(rest).await?;
    }
    queue.give_back(charged);
    writer.flush().await
}

/// Records joined into one frame of a batched codec, up to
/// [`MAX_BATCH_FRAME`] bytes.
#[derive(Default)]
struct BatchFrame {
    /// The first record, as it is, while it is alone.
    first: Option<Bytes>,
    /// The records joined, once there is more than one.
    joined: Vec<u8>,
}

impl BatchFrame {
    /// Adds a record; returns the frame once it is full.
    fn add(&mut self, record: Bytes) -> Option<Bytes> {
        if self.first.is_none() && self.joined.is_empty() {
            self.first = Some(record);
        } else {
            if let Some(first) = self.first.take() {
                self.joined.extend_from_slice(&first);
            }
            self.joined.extend_from_slice(&record);
        }
        let len = self.first.as_ref().map_or(self.joined.len(), Bytes::len);
        (len >= MAX_BATCH_FRAME).then(|| self.take()).flatten()
    }

    /// The frame so far, if it holds anything.
    fn take(&mut self) -> Option<Bytes> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        if self.joined.is_empty() {
            return None;
        }
        Some(Bytes::from(std::mem::take(&mut self.joined)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_record_is_its_own_frame() {
        let mut frame = BatchFrame::default();
        assert_eq!(frame.add(Bytes::from_static(b"[1]")), None);
        assert_eq!(frame.take(), Some(Bytes::from_static(b"[1]")));
        assert_eq!(frame.take(), None);
    }

    #[test]
    fn records_are_joined_until_the_frame_is_full() {
        let mut frame = BatchFrame::default();
        let record = Bytes::from(vec![b'x'; MAX_BATCH_FRAME - 3]);
        assert_eq!(frame.add(record.clone()), None);
        assert_eq!(frame.add(Bytes::from_static(b"ab")), None);
        let full = frame.add(Bytes::from_static(b"cd")).expect("full");
        assert_eq!(full.len(), MAX_BATCH_FRAME + 1);
        assert!(full.ends_with(b"xabcd"));
        assert_eq!(frame.take(), None);
        let big = Bytes::from(vec![b'y'; MAX_BATCH_FRAME]);
        assert_eq!(frame.add(big.clone()), Some(big));
    }
}

//! The writer: drains a session's outbound queue into its transport.

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::{OutboundReceiver, Outgoing, Queue};
use crate::link::{FrameWriter, TransportError};

/// Largest batched frame the writer builds from queued messages.
const MAX_BATCH_FRAME: usize = 64 * 1024;

/// How long the writer keeps writing what is queued once its session has
/// ended; a client that reads nothing does not hold its connection open.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Drains the queue into the transport: feeds everything queued, then
/// flushes once; for batched codecs, joins queued records into one frame.
/// When `stop` fires, writes what is already queued (for at most
/// [`DRAIN_TIMEOUT`]), then closes the transport. (Senders may outlive the
/// connection in handles that users keep, so the queue closing cannot be the
/// signal.)
pub(crate) async fn run_writer<W: FrameWriter>(
    receiver: OutboundReceiver,
    mut writer: W,
    batched: bool,
    mut stop: oneshot::Receiver<()>,
) {
    let OutboundReceiver { mut rx, queue } = receiver;
    let mut draining = None;
    loop {
        let first = tokio::select! {
            biased;
            first = rx.recv() => match first {
                Some(first) => first,
                None => break,
            },
            _ = &mut stop, if draining.is_none() => {
                rx.close();
                draining = Some(tokio::time::Instant::now() + DRAIN_TIMEOUT);
                continue;
            }
        };
        let written = match draining {
            None => write_item(first, &mut rx, &mut writer, &queue, batched).await,
            // Boxed: every idle connection keeps this future, and the timer
            // of the rare drain would make it larger.
            Some(deadline) => {
                let write = write_item(first, &mut rx, &mut writer, &queue, batched);
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
    }
    // Senders still waiting for room learn that the session is gone.
    queue.room.close();
    if draining.is_none_or(|deadline| tokio::time::Instant::now() < deadline) {
        let _ = Box::pin(tokio::time::timeout(DRAIN_TIMEOUT, writer.close())).await;
    }
}

/// Sends one item taken from the queue (and, for a record, those queued
/// behind it).
async fn write_item<W: FrameWriter>(
    item: Outgoing,
    rx: &mut mpsc::UnboundedReceiver<Outgoing>,
    writer: &mut W,
    queue: &Queue,
    batched: bool,
) -> Result<(), TransportError> {
    match item {
        Outgoing::Ping => writer.ping().await,
        Outgoing::Record(record) => write_queued(record, rx, writer, queue, batched).await,
    }
}

/// Writes `first` and the records queued behind it, then flushes. A ping in
/// the queue ends the run (it is sent, then the loop goes on).
async fn write_queued<W: FrameWriter>(
    first: Bytes,
    rx: &mut mpsc::UnboundedReceiver<Outgoing>,
    writer: &mut W,
    queue: &Queue,
    batched: bool,
) -> Result<(), TransportError> {
    let mut ping = false;
    if batched {
        // Records joined into the frame give their room back once it is in.
        let mut charged = queue.charge(first.len()) as usize;
        let mut frame: Option<Vec<u8>> = None;
        while frame.as_ref().is_none_or(|f| f.len() < MAX_BATCH_FRAME) {
            match rx.try_recv() {
                Ok(Outgoing::Record(next)) => {
                    let frame = frame.get_or_insert_with(|| first.to_vec());
                    frame.extend_from_slice(&next);
                    charged += queue.charge(next.len()) as usize;
                }
                Ok(Outgoing::Ping) => {
                    ping = true;
                    break;
                }
                Err(_) => break,
            }
        }
        match frame {
            Some(frame) => writer.feed(Bytes::from(frame)).await?,
            None => writer.feed(first).await?,
        }
        queue.give_back(charged);
    } else {
        // Room is given back once per run of records (each give-back takes
        // the budget's lock). A failed write closes the budget anyway.
        let mut charged = queue.charge(first.len()) as usize;
        writer.feed(first).await?;
        loop {
            match rx.try_recv() {
                Ok(Outgoing::Record(next)) => {
                    charged += queue.charge(next.len()) as usize;
                    writer.feed(next).await?;
                }
                Ok(Outgoing::Ping) => {
                    ping = true;
                    break;
                }
                Err(_) => break,
            }
        }
        queue.give_back(charged);
    }
    writer.flush().await?;
    if ping {
        writer.ping().await?;
    }
    Ok(())
}

//! The one bounded queue through which everything reaches a session's
//! client, and the writer task that drains it.

use bytes::Bytes;
use serverwamp_protocol::{Codec, Message};
use tokio::sync::{mpsc, oneshot};

use crate::transport::FrameWriter;

/// How many encoded messages may wait for one slow client before senders
/// wait in turn.
pub(crate) const OUTBOUND_CAPACITY: usize = 256;

/// Largest batched frame the writer builds from queued messages.
const MAX_BATCH_FRAME: usize = 64 * 1024;

/// Why a message could not be queued without waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendError {
    /// The client is not reading fast enough.
    Full,
    /// The connection is gone.
    Closed,
}

/// Encodes `message` as one record of `codec` (framed for a batch when the
/// codec is batched).
pub(crate) fn encode_record(
    codec: Codec,
    message: &Message,
) -> Result<Bytes, serverwamp_protocol::EncodeError> {
    let mut out = Vec::with_capacity(64);
    codec.encode_frame(message, &mut out)?;
    Ok(Bytes::from(out))
}

/// The sending side of a session's outbound queue: encodes with the
/// connection's codec and queues the bytes for the writer task.
#[derive(Clone)]
pub(crate) struct Outbound {
    tx: mpsc::Sender<Outgoing>,
    codec: Codec,
    /// The longest message the peer accepts, if the transport knows one.
    max_len: Option<usize>,
}

/// What the writer task sends.
pub(crate) enum Outgoing {
    /// One encoded message (framed for a batch when the codec is batched).
    Record(Bytes),
    /// A transport-level ping (liveness).
    Ping,
}

impl Outbound {
    /// A queue and its receiving end for [`run_writer`].
    pub(crate) fn channel(
        codec: Codec,
        max_len: Option<usize>,
    ) -> (Self, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(OUTBOUND_CAPACITY);
        (Outbound { tx, codec, max_len }, rx)
    }

    /// Whether an encoded message is longer than the peer accepts.
    pub(crate) fn too_long(&self, encoded: &[u8]) -> bool {
        self.max_len.is_some_and(|max| encoded.len() > max)
    }

    /// Encodes `message` into one record (framed for a batch when the codec
    /// is batched).
    pub(crate) fn encode(
        &self,
        message: &Message,
    ) -> Result<Bytes, serverwamp_protocol::EncodeError> {
        encode_record(self.codec, message)
    }

    /// Queues already encoded bytes if there is room, without waiting.
    pub(crate) fn try_send_encoded(&self, bytes: Bytes) -> Result<(), SendError> {
        self.tx
            .try_send(Outgoing::Record(bytes))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => SendError::Full,
                mpsc::error::TrySendError::Closed(_) => SendError::Closed,
            })
    }

    /// Encodes and queues a message if there is room, without waiting.
    pub(crate) fn try_send_message(&self, message: &Message) -> Result<(), SendError> {
        let bytes = self.encode(message).map_err(|_| SendError::Closed)?;
        self.try_send_encoded(bytes)
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

    /// Queues already encoded bytes, waiting while the queue is full.
    pub(crate) async fn send_encoded(&self, bytes: Bytes) -> bool {
        self.tx.send(Outgoing::Record(bytes)).await.is_ok()
    }

    /// Asks the writer to ping the peer, unless the queue is full (then the
    /// peer has plenty to read already).
    pub(crate) fn try_ping(&self) {
        let _ = self.tx.try_send(Outgoing::Ping);
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

/// Drains the queue into the transport: feeds everything queued, then
/// flushes once; for batched codecs, joins queued records into one frame.
/// When `stop` fires, writes what is already queued, then closes the
/// transport. (Senders may outlive the connection in handles that users
/// keep, so the queue closing cannot be the signal.)
pub(crate) async fn run_writer<W: FrameWriter>(
    mut rx: mpsc::Receiver<Outgoing>,
    mut writer: W,
    batched: bool,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        let first = tokio::select! {
            biased;
            first = rx.recv() => match first {
                Some(first) => first,
                None => break,
            },
            _ = &mut stop => {
                rx.close();
                match rx.try_recv() {
                    Ok(first) => first,
                    Err(_) => break,
                }
            }
        };
        let written = match first {
            Outgoing::Ping => writer.ping().await,
            Outgoing::Record(record) => write_queued(record, &mut rx, &mut writer, batched).await,
        };
        if written.is_err() {
            break;
        }
    }
    writer.close().await;
}

/// Writes `first` and the records queued behind it, then flushes. A ping in
/// the queue ends the run (it is sent, then the loop goes on).
async fn write_queued<W: FrameWriter>(
    first: Bytes,
    rx: &mut mpsc::Receiver<Outgoing>,
    writer: &mut W,
    batched: bool,
) -> Result<(), crate::transport::TransportError> {
    let mut ping = false;
    if batched {
        let mut frame: Option<Vec<u8>> = None;
        while frame.as_ref().is_none_or(|f| f.len() < MAX_BATCH_FRAME) {
            match rx.try_recv() {
                Ok(Outgoing::Record(next)) => {
                    let frame = frame.get_or_insert_with(|| first.to_vec());
                    frame.extend_from_slice(&next);
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
    } else {
        writer.feed(first).await?;
        loop {
            match rx.try_recv() {
                Ok(Outgoing::Record(next)) => writer.feed(next).await?,
                Ok(Outgoing::Ping) => {
                    ping = true;
                    break;
                }
                Err(_) => break,
            }
        }
    }
    writer.flush().await?;
    if ping {
        writer.ping().await?;
    }
    Ok(())
}

//! How a session handle asks its connection to close the session.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Where a session handle leaves requests for its connection task: one
/// pending request at a time (a kill outranks a close), and a flag set once
/// the session has ended. Lighter than a channel for something used once.
///
/// The connection task waits on it in every turn of its loop, so waiting
/// is cheap: a flag to read and a waker to store (no lock, nothing to undo
/// when the turn ends another way).
#[derive(Default)]
pub(crate) struct ControlSlot {
    pending: Mutex<Option<Control>>,
    /// Set with `pending`, so the waiting side reads a flag, not the lock.
    has_pending: AtomicBool,
    /// The connection task, the one waiter.
    wake: futures_util::task::AtomicWaker,
    closed: AtomicBool,
    /// Wakes those waiting for the session to end.
    ended: tokio::sync::Notify,
    /// Set when `wamp.session.kill_all` closes the session: its end
    /// publishes no meta events and no testaments.
    quiet: AtomicBool,
}

impl ControlSlot {
    /// Leaves a request for the connection task.
    pub(crate) fn request(&self, control: Control) {
        if self.is_closed() {
            return;
        }
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !matches!(*pending, Some(Control::Kill)) {
            *pending = Some(control);
        }
        self.has_pending.store(true, Ordering::Release);
        drop(pending);
        self.wake.wake();
    }

    /// Waits for the next request. Only the connection task waits.
    pub(crate) async fn next(&self) -> Control {
        std::future::poll_fn(|cx| {
            if let Some(control) = self.take() {
                return std::task::Poll::Ready(control);
            }
            self.wake.register(cx.waker());
            // A request made before the waker was stored is seen here.
            match self.take() {
                Some(control) => std::task::Poll::Ready(control),
                None => std::task::Poll::Pending,
            }
        })
        .await
    }

    /// The pending request, if there is one.
    fn take(&self) -> Option<Control> {
        if !self.has_pending.load(Ordering::Acquire) {
            return None;
        }
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.has_pending.store(false, Ordering::Release);
        pending.take()
    }

    /// Marks the session ended: later requests are ignored.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.ended.notify_waiters();
    }

    /// Waits until the session has ended.
    pub(crate) async fn ended(&self) {
        let ended = self.ended.notified();
        tokio::pin!(ended);
        // Registered before the check, so a close in between is not missed.
        ended.as_mut().enable();
        if !self.is_closed() {
            ended.await;
        }
    }

    /// Makes the session's end publish no meta events and no testaments.
    pub(crate) fn quiet(&self) {
        self.quiet.store(true, Ordering::Release);
    }

    /// Whether the session's end is to be quiet.
    pub(crate) fn is_quiet(&self) -> bool {
        self.quiet.load(Ordering::Acquire)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// What a session handle can ask of its connection task.
#[derive(Debug)]
pub(crate) enum Control {
    /// Send GOODBYE with this reason and message, wait briefly for the
    /// client's, then close.
    Close {
        reason: String,
        message: Option<String>,
    },
    /// Send GOODBYE with this reason and message if it fits the queue, and
    /// close without waiting: for a client that does not read.
    CloseNow {
        reason: String,
        message: Option<String>,
    },
    /// Close the transport at once.
    Kill,
}

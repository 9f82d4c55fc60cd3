//! Metrics through the [`metrics`](https://docs.rs/metrics) facade, with
//! the `metrics` feature; without it every function here is empty and
//! costs nothing. Names and labels are listed in the observability guide.

/// A session opened (after WELCOME was decided).
#[inline]
pub(crate) fn session_opened() {
    #[cfg(feature = "metrics")]
    metrics::gauge!("serverwamp_sessions").increment(1.0);
}

/// A session ended, however it ended.
#[inline]
pub(crate) fn session_closed() {
    #[cfg(feature = "metrics")]
    metrics::gauge!("serverwamp_sessions").decrement(1.0);
}

/// The counter of CALLs received.
#[cfg(feature = "metrics")]
const CALLS_TOTAL: &str = "serverwamp_calls_total";

/// A CALL was received (or a call arrived from another node).
#[inline]
pub(crate) fn call() {
    #[cfg(feature = "metrics")]
    metrics::counter!(CALLS_TOTAL).increment(1);
}

/// The calls counter of one connection, looked up in the recorder at the
/// connection's first CALL rather than at every CALL (the lookup hashes
/// the name and takes the registry's lock: about 600 instructions per
/// call with the Prometheus recorder). A recorder installed later is seen
/// by the connections whose first CALL comes after it.
#[derive(Default)]
pub(crate) struct CallCounter {
    #[cfg(feature = "metrics")]
    counter: Option<metrics::Counter>,
}

impl CallCounter {
    /// A CALL was received on this connection (same as [`call`]).
    #[inline]
    pub(crate) fn call(&mut self) {
        #[cfg(feature = "metrics")]
        self.counter
            .get_or_insert_with(|| metrics::counter!(CALLS_TOTAL))
            .increment(1);
    }
}

/// A call was answered with ERROR `uri`.
#[inline]
pub(crate) fn call_error(uri: &str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("serverwamp_call_errors_total", "uri" => uri.to_owned()).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = uri;
}

/// An event was dropped for a subscriber whose queue was full.
#[inline]
pub(crate) fn event_dropped() {
    #[cfg(feature = "metrics")]
    metrics::counter!("serverwamp_events_dropped_total").increment(1);
}

/// A HELLO was refused by authentication (or its authentication timed out).
#[inline]
pub(crate) fn auth_failure() {
    #[cfg(feature = "metrics")]
    metrics::counter!("serverwamp_auth_failures_total").increment(1);
}

/// The outbound queues were sampled (by [`crate::Application::outbound_queues`]).
#[inline]
pub(crate) fn outbound_queues(queues: &crate::OutboundQueues) {
    #[cfg(feature = "metrics")]
    {
        // A gauge holds an f64: exact for any byte count below 2^53.
        let (total, max) = (queues.total_bytes as f64, queues.max_bytes as f64);
        metrics::gauge!("serverwamp_outbound_queue_bytes").set(total);
        metrics::gauge!("serverwamp_outbound_queue_max_bytes").set(max);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = queues;
}

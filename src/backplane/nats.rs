//! A backplane on NATS (async-nats).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;

use super::{Backplane, BackplaneError, BackplaneFuture, Messages};

/// How many messages one subscription may have waiting in the client
/// before the next are dropped (NATS's "slow consumer").
const SUBSCRIPTION_CAPACITY: usize = 1 << 18;

/// How long a new subscription waits for the server to confirm it.
const ROUND_TRIP_TIMEOUT: Duration = Duration::from_secs(5);

/// A [`Backplane`] on a NATS server or cluster, through async-nats.
///
/// Subjects are NATS subjects as they are; a dropped connection is retried
/// without end (every few seconds at most) and async-nats restores the
/// subscriptions when it is back. Disconnections and reconnections are
/// logged.
///
/// ```no_run
/// # async fn node() -> Result<(), serverwamp::backplane::BackplaneError> {
/// let backplane = serverwamp::backplane::NatsBackplane::connect("nats://127.0.0.1:4222").await?;
/// let mut app = serverwamp::Application::new();
/// app.set_backplane(backplane);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct NatsBackplane {
    client: async_nats::Client,
}

impl NatsBackplane {
    /// Connects to the NATS server at `url` (`nats://host:port`; several
    /// servers of one cluster separated by commas). Waits for the first
    /// connection at most 5 seconds.
    pub async fn connect(url: &str) -> Result<Self, BackplaneError> {
        let slow = Arc::new(AtomicU64::new(0));
        let options = async_nats::ConnectOptions::new()
            .name("serverwamp")
            .subscription_capacity(SUBSCRIPTION_CAPACITY)
            .connection_timeout(Duration::from_secs(5))
            .max_reconnects(None)
            .reconnect_delay_callback(|attempts| {
                // 0, 100 ms, 200 ms, ... up to 2 s between attempts.
                let attempts = u32::try_from(attempts).unwrap_or(u32::MAX);
                Duration::from_millis(100)
                    .saturating_mul(attempts)
                    .min(Duration::from_secs(2))
            })
            .event_callback(move |event| {
                let slow = slow.clone();
                async move {
                match event {
                    async_nats::Event::Disconnected => tracing::warn!(
                        "the NATS backplane is disconnected: publications reach this node's \
                         subscribers only until it reconnects"
                    ),
                    async_nats::Event::Connected => {
                        tracing::info!("the NATS backplane is connected");
                    }
                    async_nats::Event::SlowConsumer(_) => {
                        let dropped = slow.fetch_add(1, Ordering::Relaxed) + 1;
                        if dropped.is_power_of_two() {
                            tracing::warn!(
                                dropped,
                                "publications from other nodes dropped: this node cannot deliver \
                                 them as fast as they arrive"
                            );
                        }
                    }
                    other => tracing::warn!(event = %other, "NATS backplane"),
                }
                }
            });
        let client = options
            .connect(url)
            .await
            .map_err(|e| BackplaneError::new("connect", e))?;
        Ok(NatsBackplane { client })
    }

    /// A backplane on a client you connected yourself (credentials, TLS,
    /// options of your own).
    pub fn from_client(client: async_nats::Client) -> Self {
        NatsBackplane { client }
    }
}

impl NatsBackplane {
    /// Publishes on a subject of its own and waits for the message to come
    /// back: everything sent before it has been read by the server.
    async fn round_trip(&self) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let probe = format!("_serverwamp_probe.{}", rand::random::<u64>());
        let mut echo = self.client.subscribe(probe.clone()).await?;
        self.client.publish(probe, Bytes::new()).await?;
        tokio::time::timeout(ROUND_TRIP_TIMEOUT, echo.next())
            .await
            .map_err(|_| "the NATS server did not answer in time")?
            .ok_or("the NATS connection closed")?;
        Ok(())
    }
}

impl Backplane for NatsBackplane {
    fn publish(&self, messages: Vec<(String, Bytes)>) -> BackplaneFuture<'_, ()> {
        Box::pin(async move {
            for (subject, payload) in messages {
                self.client
                    .publish(subject, payload)
                    .await
                    .map_err(|e| BackplaneError::new("publish", e))?;
            }
            Ok(())
        })
    }

    fn subscribe(&self, filter: String) -> BackplaneFuture<'_, Messages> {
        Box::pin(async move {
            let subscriber = self
                .client
                .subscribe(filter)
                .await
                .map_err(|e| BackplaneError::new("subscribe", e))?;
            // The server reads a connection's commands in order: once a
            // message published after the subscription has come back to
            // this connection, the server has the subscription too (a flush
            // only says the bytes left).
            self.round_trip()
                .await
                .map_err(|e| BackplaneError::new("subscribe", e))?;
            let messages: Messages = Box::pin(subscriber.map(|message| message.payload));
            Ok(messages)
        })
    }

    fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }
}

//! A backplane on Redis pub/sub (the redis crate).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{mpsc, oneshot};

use super::{Backplane, BackplaneError, BackplaneFuture, Messages};

/// How many messages a subscription may have waiting before the next are
/// dropped (as NATS drops for a slow consumer).
const SUBSCRIPTION_CAPACITY: usize = 1 << 18;

/// A [`Backplane`] on Redis pub/sub.
///
/// Publications are `PUBLISH`ed (several at once in one pipeline) on a
/// connection that reconnects by itself; subscriptions are `PSUBSCRIBE`
/// patterns on a second connection, where a filter's `*` and `>` are both
/// `*` (which also spans dots: serverwamp checks every message again). When
/// that connection is lost it is made again, every few seconds at most,
/// and every pattern subscribed again; both are logged.
///
/// ```no_run
/// # async fn node() -> Result<(), serverwamp::backplane::BackplaneError> {
/// let backplane = serverwamp::backplane::RedisBackplane::connect("redis://127.0.0.1:6379").await?;
/// let mut app = serverwamp::Application::new();
/// app.set_backplane(backplane);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisBackplane {
    publisher: ConnectionManager,
    subscriptions: mpsc::UnboundedSender<Command>,
    connected: Arc<AtomicBool>,
    next_id: Arc<AtomicU64>,
}

impl std::fmt::Debug for RedisBackplane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackplane")
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

enum Command {
    Subscribe {
        pattern: String,
        id: u64,
        messages: mpsc::Sender<Bytes>,
        done: oneshot::Sender<Result<(), BackplaneError>>,
    },
    Unsubscribe {
        pattern: String,
        id: u64,
    },
}

impl RedisBackplane {
    /// Connects to the Redis server at `url` (`redis://host:port/`). Waits
    /// for the first connection at most 5 seconds.
    pub async fn connect(url: &str) -> Result<Self, BackplaneError> {
        let client = redis::Client::open(url).map_err(|e| BackplaneError::new("connect", e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let publisher = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(|e| BackplaneError::new("connect", e))?;
        let pubsub = tokio::time::timeout(Duration::from_secs(5), client.get_async_pubsub())
            .await
            .map_err(|e| BackplaneError::new("connect", e))?
            .map_err(|e| BackplaneError::new("connect", e))?;
        let (commands, receiver) = mpsc::unbounded_channel();
        let connected = Arc::new(AtomicBool::new(true));
        tokio::spawn(run_subscriptions(
            client,
            pubsub,
            receiver,
            connected.clone(),
        ));
        Ok(RedisBackplane {
            publisher,
            subscriptions: commands,
            connected,
            next_id: Arc::new(AtomicU64::new(1)),
        })
    }
}

/// A NATS-style filter as a Redis glob pattern: `*` and `>` tokens become
/// `*`; the glob's own special characters elsewhere are escaped.
fn glob(filter: &str) -> String {
    let mut out = String::with_capacity(filter.len());
    for (i, token) in filter.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        if token == "*" || token == ">" {
            out.push('*');
            continue;
        }
        for c in token.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

impl Backplane for RedisBackplane {
    fn publish(&self, messages: Vec<(String, Bytes)>) -> BackplaneFuture<'_, ()> {
        Box::pin(async move {
            let mut pipe = redis::pipe();
            for (subject, payload) in &messages {
                pipe.cmd("PUBLISH")
                    .arg(subject)
                    .arg(payload.as_ref())
                    .ignore();
            }
            let mut connection = self.publisher.clone();
            pipe.query_async::<()>(&mut connection)
                .await
                .map_err(|e| BackplaneError::new("publish", e))
        })
    }

    fn subscribe(&self, filter: String) -> BackplaneFuture<'_, Messages> {
        Box::pin(async move {
            let pattern = glob(&filter);
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let (messages, receiver) = mpsc::channel(SUBSCRIPTION_CAPACITY);
            let (done, taken) = oneshot::channel();
            let gone = || BackplaneError::new("subscribe", "the Redis backplane has stopped");
            self.subscriptions
                .send(Command::Subscribe {
                    pattern: pattern.clone(),
                    id,
                    messages,
                    done,
                })
                .map_err(|_| gone())?;
            taken.await.map_err(|_| gone())??;
            let stream: Messages = Box::pin(Subscription {
                receiver,
                pattern,
                id,
                commands: self.subscriptions.clone(),
            });
            Ok(stream)
        })
    }

    fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }
}

/// The messages of one pattern; unsubscribes when dropped.
struct Subscription {
    receiver: mpsc::Receiver<Bytes>,
    pattern: String,
    id: u64,
    commands: mpsc::UnboundedSender<Command>,
}

impl Stream for Subscription {
    type Item = Bytes;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        self.receiver.poll_recv(cx)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Unsubscribe {
            pattern: std::mem::take(&mut self.pattern),
            id: self.id,
        });
    }
}

/// Who receives the messages of each pattern.
type Routes = HashMap<String, Vec<(u64, mpsc::Sender<Bytes>)>>;

/// The subscription connection: takes (un)subscriptions, hands out
/// messages, and makes the connection again when it is lost.
async fn run_subscriptions(
    client: redis::Client,
    first: redis::aio::PubSub,
    mut commands: mpsc::UnboundedReceiver<Command>,
    connected: Arc<AtomicBool>,
) {
    let mut routes = Routes::new();
    let mut dropped = 0u64;
    let mut pubsub = Some(first);
    let mut attempts = 0u32;
    loop {
        let Some(connection) = pubsub.take() else {
            // Reconnecting: 100 ms, 200 ms, ... up to 2 s between attempts,
            // refusing subscriptions meanwhile.
            let delay = Duration::from_millis(100)
                .saturating_mul(attempts)
                .min(Duration::from_secs(2));
            let sleep = tokio::time::sleep(delay);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    () = &mut sleep => break,
                    command = commands.recv() => match command {
                        None => return,
                        Some(command) => refuse_while_down(command, &mut routes),
                    },
                }
            }
            attempts = attempts.saturating_add(1);
            let connecting =
                tokio::time::timeout(Duration::from_secs(5), client.get_async_pubsub());
            if let Ok(Ok(connection)) = connecting.await {
                pubsub = Some(connection);
            }
            continue;
        };
        let (mut sink, mut stream) = connection.split();
        let mut restored = true;
        for pattern in routes.keys() {
            if sink.psubscribe(pattern).await.is_err() {
                restored = false;
                break;
            }
        }
        if !restored {
            continue;
        }
        if attempts > 0 {
            tracing::info!("the Redis backplane is connected again");
        }
        connected.store(true, Ordering::Relaxed);
        loop {
            tokio::select! {
                message = stream.next() => match message {
                    Some(message) => deliver(&routes, &message, &mut dropped),
                    None => break,
                },
                command = commands.recv() => match command {
                    None => return,
                    Some(Command::Subscribe { pattern, id, messages, done }) => {
                        let first = !routes.contains_key(&pattern);
                        let result = if first {
                            sink.psubscribe(&pattern)
                                .await
                                .map_err(|e| BackplaneError::new("subscribe", e))
                        } else {
                            Ok(())
                        };
                        if result.is_ok() {
                            routes.entry(pattern).or_default().push((id, messages));
                        }
                        let _ = done.send(result);
                    }
                    Some(Command::Unsubscribe { pattern, id }) => {
                        if remove_route(&mut routes, &pattern, id) {
                            let _ = sink.punsubscribe(&pattern).await;
                        }
                    }
                },
            }
        }
        connected.store(false, Ordering::Relaxed);
        attempts = 1;
        tracing::warn!(
            "the Redis backplane is disconnected: publications reach this node's subscribers \
             only until it reconnects"
        );
    }
}

/// While disconnected: a subscription is refused (its owner tries again),
/// an unsubscription is done at once.
fn refuse_while_down(command: Command, routes: &mut Routes) {
    match command {
        Command::Subscribe { done, .. } => {
            let _ = done.send(Err(BackplaneError::new(
                "subscribe",
                "the Redis backplane is disconnected",
            )));
        }
        Command::Unsubscribe { pattern, id } => {
            remove_route(routes, &pattern, id);
        }
    }
}

/// Removes one receiver of `pattern`; true if it was the last.
fn remove_route(routes: &mut Routes, pattern: &str, id: u64) -> bool {
    let Some(receivers) = routes.get_mut(pattern) else {
        return false;
    };
    receivers.retain(|(other, _)| *other != id);
    if receivers.is_empty() {
        routes.remove(pattern);
        return true;
    }
    false
}

/// Hands a message to the subscriptions of its pattern; one whose queue is
/// full loses it (counted in `dropped`, logged at powers of two).
fn deliver(routes: &Routes, message: &redis::Msg, dropped: &mut u64) {
    let Ok(Some(pattern)) = message.get_pattern::<Option<String>>() else {
        return;
    };
    let Some(receivers) = routes.get(&pattern) else {
        return;
    };
    let payload = Bytes::copy_from_slice(message.get_payload_bytes());
    for (_, receiver) in receivers {
        if receiver.try_send(payload.clone()).is_err() {
            *dropped += 1;
            if dropped.is_power_of_two() {
                tracing::warn!(
                    dropped = *dropped,
                    "publications from other nodes dropped: this node cannot deliver them as \
                     fast as they arrive"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn filters_become_globs() {
        assert_eq!(glob("sw.pub.r.a.b"), "sw.pub.r.a.b");
        assert_eq!(glob("sw.pub.r.a.*.c"), "sw.pub.r.a.*.c");
        assert_eq!(glob("sw.pub.r.a.>"), "sw.pub.r.a.*");
        assert_eq!(glob("sw.pub.r.a?[b]*\\"), "sw.pub.r.a\\?\\[b\\]\\*\\\\");
    }
}

//! The session state machine under arbitrary message sequences.
//!
//! The input drives one connection to a small application that has every
//! kind of handler (quick, slow, panicking, progressive procedures; topic
//! routes; an authenticated realm; an open broker that also lets clients
//! register procedures, so one session is caller and callee of its own
//! INVOCATIONs). Its first byte picks
//! the subprotocol; the rest is a sequence of steps, each either a message
//! built from the bytes (HELLO, CALL, CANCEL, SUBSCRIBE, REGISTER, YIELD,
//! …, with IDs, URIs
//! and options chosen by the bytes) or raw bytes sent as a frame.
//!
//! Checks: nothing panics; the connection ends (time is paused, so a hang
//! shows as the virtual minute running out); everything the server writes
//! decodes in the connection's codec as valid WAMP.

use std::sync::LazyLock;
use std::time::Duration;

use serverwamp::Application;
use serverwamp::auth::{Authenticated, NewSession};
use serverwamp::protocol::message::ValidationRules;
use serverwamp::protocol::{Codec, Dict, Value};
use serverwamp::pubsub::TopicRouteSet;
use serverwamp::rpc::{Args, Kwargs, Progressive, ProgressiveItem, RpcResult, RpcRouteSet};

const REALMS: [&str; 4] = ["realm1", "tickets", "open", "bad realm"];
const PROCEDURES: [&str; 8] = [
    "echo",
    "slow",
    "boom",
    "countdown",
    "nope",
    "a..b",
    "dev.x",
    "wamp.x",
];
const TOPICS: [&str; 5] = ["news", "news.sport", "private.x", "other", "a b"];

async fn boom() -> i32 {
    panic!("a handler fails")
}

fn app() -> Application {
    let mut routes = RpcRouteSet::new();
    routes
        .route(
            "echo",
            |Args(a): Args<Vec<Value>>, Kwargs(k): Kwargs<Dict>| async move {
                RpcResult { args: a, kwargs: k }
            },
        )
        .route("slow", || async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            "late"
        })
        .route("boom", boom)
        .route("countdown", || async {
            Progressive(futures_util::stream::iter([
                ProgressiveItem::Progress(RpcResult::new().arg(2)),
                ProgressiveItem::Progress(RpcResult::new().arg(1)),
                ProgressiveItem::Result(RpcResult::new().arg(0)),
            ]))
        });
    let mut topics = TopicRouteSet::new();
    topics
        .subscribe_prefix("news", || async {})
        .subscribe_prefix("private", || async {
            Err::<(), _>(serverwamp::WampError::new("wamp.error.not_authorized"))
        })
        .publish("news", |Args(_a): Args<Vec<Value>>| async {});
    let mut app = Application::new();
    app.add_routes(routes);
    app.add_topics(topics);
    app.set_outbound_queue_limit(16 * 1024);
    app.realm("tickets")
        .set_ticket_authenticator(|_s: NewSession, ticket: String| async move {
            (ticket == "t").then(|| Authenticated::anonymous().authid("t"))
        });
    app.realm("open")
        .set_open_broker(true)
        .set_client_callees(true);
    app
}

pub(crate) static APP: LazyLock<Application> = LazyLock::new(app);

thread_local! {
    /// One runtime for every run: making one per input would cost more
    /// than most runs. Its clock is paused, so deadlines pass at once.
    pub(crate) static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a runtime");
}

/// Reads the input a byte at a time.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> Option<T> {
        Some(from[usize::from(self.byte()?) % from.len()])
    }

    fn id(&mut self) -> Option<Value> {
        // Small IDs collide on purpose; 0 is invalid.
        Some(Value::UInt(u64::from(self.byte()?)))
    }

    fn take(&mut self, len: usize) -> &[u8] {
        let len = len.min(self.0.len());
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        head
    }
}

fn dict(pairs: &[(&str, Value)]) -> Value {
    Value::Dict(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

/// One step of the sequence as a message value, or raw bytes.
enum Step {
    Message(Value),
    Raw(Vec<u8>),
}

fn step(input: &mut Bytes<'_>) -> Option<Step> {
    let list = |items: Vec<Value>| Some(Step::Message(Value::List(items)));
    let uint = Value::UInt;
    match input.byte()? % 15 {
        0 => {
            let realm = input.pick(&REALMS)?;
            let details = dict(&[
                (
                    "roles",
                    if input.byte()? % 2 == 0 {
                        dict(&[("caller", dict(&[])), ("subscriber", dict(&[]))])
                    } else {
                        let features = dict(&[
                            ("call_canceling", Value::Bool(true)),
                            ("progressive_call_invocations", Value::Bool(true)),
                        ]);
                        let role = dict(&[("features", features)]);
                        dict(&[("caller", role.clone()), ("callee", role)])
                    },
                ),
                ("authmethods", Value::List(vec!["ticket".into()])),
            ]);
            list(vec![uint(1), realm.into(), details])
        }
        1 => list(vec![uint(5), "t".into(), dict(&[])]),
        2 => list(vec![uint(6), dict(&[]), "wamp.close.close_realm".into()]),
        3 | 4 => {
            let request = input.id()?;
            let procedure = input.pick(&PROCEDURES)?;
            let progress = input.byte()?;
            let mut options = vec![("receive_progress", Value::Bool(progress % 2 == 0))];
            if progress % 3 == 0 {
                // A chunk of a progressive call invocation.
                options.push(("progress", Value::Bool(true)));
            }
            if input.byte()? % 4 == 0 {
                options.push(("timeout", uint(u64::from(input.byte()?) * 10)));
            }
            let args = Value::List(vec![uint(u64::from(input.byte()?))]);
            list(vec![
                uint(48),
                request,
                dict(&options),
                procedure.into(),
                args,
            ])
        }
        5 => {
            let request = input.id()?;
            let mode = input.pick(&["skip", "kill", "killnowait", "bogus"])?;
            list(vec![uint(49), request, dict(&[("mode", mode.into())])])
        }
        6 => {
            let request = input.id()?;
            let topic = input.pick(&TOPICS)?;
            let policy = input.pick(&["exact", "prefix", "wildcard"])?;
            list(vec![
                uint(32),
                request,
                dict(&[("match", policy.into())]),
                topic.into(),
            ])
        }
        7 => {
            let request = input.id()?;
            // Subscription IDs are router-scope counters: small numbers hit.
            let subscription = input.id()?;
            list(vec![uint(34), request, subscription])
        }
        8 => {
            let request = input.id()?;
            let topic = input.pick(&TOPICS)?;
            let ack = input.byte()? % 2 == 0;
            let options = dict(&[
                ("acknowledge", Value::Bool(ack)),
                ("exclude_me", Value::Bool(false)),
            ]);
            list(vec![
                uint(16),
                request,
                options,
                topic.into(),
                Value::List(vec!["x".into()]),
            ])
        }
        9 => list(vec![uint(3), dict(&[]), "wamp.close.normal".into()]),
        10 => {
            // A message of any type code with a few elements.
            let code = uint(u64::from(input.byte()?));
            let id = input.id()?;
            list(vec![code, id, dict(&[])])
        }
        11 => {
            let len = usize::from(input.byte()?);
            Some(Step::Raw(input.take(len).to_vec()))
        }
        12 => {
            let request = input.id()?;
            let procedure = input.pick(&PROCEDURES)?;
            let policy = input.pick(&["exact", "prefix", "wildcard"])?;
            let invoke = input.pick(&["single", "roundrobin", "random", "first", "last", "x"])?;
            let options = dict(&[("match", policy.into()), ("invoke", invoke.into())]);
            list(vec![uint(64), request, options, procedure.into()])
        }
        13 => {
            let request = input.id()?;
            // Registration IDs are router-scope counters: small numbers hit.
            let registration = input.id()?;
            list(vec![uint(66), request, registration])
        }
        _ => {
            // An answer to an INVOCATION (whose IDs are small counters).
            let request = input.id()?;
            match input.byte()? % 3 {
                0 => list(vec![
                    uint(70),
                    request,
                    dict(&[("progress", Value::Bool(true))]),
                    Value::List(vec![uint(1)]),
                ]),
                1 => list(vec![uint(70), request, dict(&[])]),
                _ => list(vec![
                    uint(8),
                    uint(68),
                    request,
                    dict(&[]),
                    "app.error.x".into(),
                ]),
            }
        }
    }
}

/// Runs one connection as the input says; see the module documentation.
///
/// # Panics
/// When the server panics, hangs, or writes something that is not a valid
/// WAMP message in the connection's codec.
pub fn check_session(data: &[u8]) {
    let mut input = Bytes(data);
    let Some(subprotocol) = input.pick(&Codec::SUBPROTOCOLS) else {
        return;
    };
    let codec = Codec::from_subprotocol(subprotocol).expect("a WAMP subprotocol");
    let mut frames = Vec::new();
    // Batched codecs get several messages per frame now and then.
    let mut pending: Vec<u8> = Vec::new();
    while let Some(step) = step(&mut input) {
        match step {
            Step::Message(value) => {
                let mut frame = Vec::new();
                if codec.encode_frame(&value, &mut frame).is_ok() {
                    pending.extend_from_slice(&frame);
                }
            }
            Step::Raw(bytes) => pending.extend_from_slice(&bytes),
        }
        if !codec.is_batched() || input.0.first().is_some_and(|b| b % 3 == 0) {
            frames.push(std::mem::take(&mut pending));
        }
        if frames.len() >= 64 {
            break;
        }
    }
    if !pending.is_empty() {
        frames.push(pending);
    }
    let written = RUNTIME.with(|runtime| {
        runtime.block_on(async {
            tokio::time::timeout(
                Duration::from_secs(60),
                serverwamp::harness::serve_frames(&APP, subprotocol, frames),
            )
            .await
            .expect("the connection ends: a session must not hang")
        })
    });
    let rules = ValidationRules::default();
    let mut reader = codec;
    for frame in written {
        let mut messages = Vec::new();
        if let Err(error) = reader.decode_frame(&frame, &rules, &mut messages) {
            panic!(
                "{subprotocol}: the server wrote a frame that does not decode: {error}\n{}",
                crate::hex(&frame)
            );
        }
    }
}

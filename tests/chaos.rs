//! Hostile input: random and malformed messages in random order must never
//! panic the server, hang a session, or disturb another session.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value as Json, json};
use serverwamp::Application;
use serverwamp::pubsub::TopicRouteSet;
use serverwamp::rpc::{Args, RpcRouteSet};
use support::{Client, SUBPROTOCOLS};

/// Panics anywhere in the process, caught or not.
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn app() -> Application {
    let mut routes = RpcRouteSet::new();
    routes
        .route(
            "echo",
            |Args(args): Args<Vec<serverwamp::protocol::Value>>| async move {
                serverwamp::rpc::RpcResult {
                    args,
                    kwargs: Default::default(),
                }
            },
        )
        .route("sleep", || async {
            tokio::time::sleep(Duration::from_millis(20)).await;
        });
    let mut topics = TopicRouteSet::new();
    topics.subscribe_prefix("t", || async {});
    let mut app = Application::new();
    app.add_routes(routes);
    app.add_topics(topics);
    app
}

/// A random JSON value, nested a little.
fn random_value(rng: &mut StdRng, depth: u32) -> Json {
    match rng.random_range(0..if depth > 2 { 6 } else { 8 }) {
        0 => Json::Null,
        1 => json!(rng.random::<bool>()),
        2 => json!(rng.random_range(-5i64..1 << 54)),
        3 => json!(rng.random::<f64>() * 1e6),
        4 => json!(
            [
                "echo",
                "sleep",
                "t.x",
                "a..b",
                "",
                "wamp.close.normal",
                "x y"
            ][rng.random_range(0..7)]
        ),
        5 => json!(rng.random_range(0u64..5)),
        6 => Json::Array(
            (0..rng.random_range(0..4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let keys = [
                "mode",
                "receive_progress",
                "timeout",
                "match",
                "acknowledge",
                "exclude_me",
                "_x",
            ];
            let mut map = serde_json::Map::new();
            for _ in 0..rng.random_range(0..3) {
                map.insert(
                    keys[rng.random_range(0..keys.len())].to_owned(),
                    random_value(rng, depth + 1),
                );
            }
            Json::Object(map)
        }
    }
}

fn pick(rng: &mut StdRng, choices: &[&'static str]) -> &'static str {
    choices[rng.random_range(0..choices.len())]
}

/// A random message: a real type code (or not) followed by random elements,
/// often of the right shape.
fn random_message(rng: &mut StdRng, next_request: &mut u64) -> Json {
    *next_request += 1;
    let request = json!(*next_request);
    match rng.random_range(0..80) {
        0 => json!([48, request, {}, "echo", [random_value(rng, 0)]]),
        1 => {
            json!([48, request, {"receive_progress": true, "timeout": rng.random_range(0..50)}, "sleep"])
        }
        2 => {
            json!([49, json!(rng.random_range(1..*next_request + 1)), {"mode": pick(rng, &["skip", "kill", "killnowait"])}])
        }
        3 => {
            json!([32, request, {"match": pick(rng, &["exact", "prefix", "wildcard"])}, "t.x"])
        }
        4 => json!([34, request, json!(rng.random_range(1..5))]),
        5 => json!([16, request, {"acknowledge": rng.random::<bool>()}, "t.x", [1]]),
        6 => json!([64, request, {}, "p"]),
        7 => json!([66, request, 1]),
        8..=77 => json!([
            48,
            request,
            {},
            "echo",
            [random_value(rng, 0), random_value(rng, 0)]
        ]),
        _ => {
            let code =
                [1, 2, 3, 4, 5, 6, 8, 16, 32, 36, 48, 50, 68, 70, 99, 337][rng.random_range(0..16)];
            let mut items = vec![json!(code)];
            for _ in 0..rng.random_range(0..6) {
                items.push(random_value(rng, 0));
            }
            Json::Array(items)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_messages_never_panic_hang_or_disturb_others() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));
    let app = app();
    // A well-behaved session that must be served throughout.
    let mut bystander = Client::connect(&app, "wamp.2.msgpack").await;
    bystander.join("realm1").await;
    let mut rng = StdRng::seed_from_u64(0x5e77_e7a3);
    let (mut answers, mut aborts) = (0usize, 0usize);
    for round in 0..80u64 {
        let sp = SUBPROTOCOLS[usize::try_from(round).expect("small") % SUBPROTOCOLS.len()];
        let mut c = Client::connect(&app, sp).await;
        if rng.random_range(0..4) > 0 {
            c.join("realm1").await;
        }
        let mut request = 0;
        for _ in 0..rng.random_range(1..30) {
            if rng.random_range(0..60) == 0 {
                // Bytes that are no message at all.
                let garbage: Vec<u8> = (0..rng.random_range(0..40)).map(|_| rng.random()).collect();
                if !c.try_send_raw(garbage).await {
                    break;
                }
            } else if !c.try_send(random_message(&mut rng, &mut request)).await {
                break;
            }
        }
        // Whatever happened, the server answers or closes: drain until a
        // quiet moment or the close, never waiting on a hung session.
        let drained = tokio::time::timeout(Duration::from_secs(10), async {
            while let Ok(Some(message)) =
                tokio::time::timeout(Duration::from_millis(300), c.recv()).await
            {
                answers += 1;
                if message
                    .as_list()
                    .and_then(|l| l.first())
                    .and_then(|c| c.as_u64())
                    == Some(3)
                {
                    aborts += 1;
                }
            }
        })
        .await;
        assert!(
            drained.is_ok(),
            "round {round}: the session kept talking for 10 s"
        );
        // The bystander is still served, promptly and correctly.
        bystander
            .send(json!([48, round + 1, {}, "echo", [round]]))
            .await;
        bystander.expect(json!([50, round + 1, {}, [round]])).await;
    }
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "nothing panicked");
    // The input really reached the server: answers and protocol violations.
    assert!(
        answers > 100 && aborts > 5,
        "answers {answers}, aborts {aborts}"
    );
}

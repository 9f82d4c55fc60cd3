//! Transcript tests: send these frames, expect those, through the real
//! WebSocket service, once per serializer and batched variant.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use serverwamp::Application;
use serverwamp::Session;
use serverwamp::protocol::Value;
use serverwamp::rpc::{
    Args, Kwargs, Params, Progress, Progressive, ProgressiveItem, Request, RpcResult, RpcRouteSet,
    State, WampError,
};
use support::{Client, SUBPROTOCOLS};

#[derive(Deserialize)]
struct AddParams {
    number1: f64,
    number2: f64,
}

async fn add(Params(p): Params<AddParams>) -> f64 {
    p.number1 + p.number2
}

#[derive(Deserialize)]
struct Delay {
    ms: u64,
}

async fn sleep(Params(d): Params<Delay>) -> u64 {
    tokio::time::sleep(Duration::from_millis(d.ms)).await;
    d.ms
}

#[derive(Clone, Default)]
struct Counter(Arc<AtomicUsize>);

/// Open sessions, kept by the open/close handlers (its own type: state is
/// one value per type).
#[derive(Clone, Default)]
struct OpenSessions(Counter);

/// Counts handler drops, to see canceled handlers really stop.
struct DropFlag(Counter);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.0.fetch_add(1, Ordering::SeqCst);
    }
}

async fn sleep_forever(State(dropped): State<Counter>) {
    let _flag = DropFlag(dropped);
    std::future::pending::<()>().await;
}

async fn countdown() -> Progressive<impl futures_util::Stream<Item = ProgressiveItem> + Send> {
    Progressive(futures_util::stream::iter([
        ProgressiveItem::Progress(RpcResult::new().kwarg("timeLeft", 2)),
        ProgressiveItem::Progress(RpcResult::new().kwarg("timeLeft", 1)),
        ProgressiveItem::Result(RpcResult::new().kwarg("liftoffStatus", "SUCCESS")),
    ]))
}

async fn report(progress: Progress) -> &'static str {
    progress.send(RpcResult::new().arg("half way")).await;
    "done"
}

async fn fail() -> i32 {
    panic!("on purpose")
}

async fn not_a_number() -> f64 {
    f64::NAN
}

async fn bad_input() -> Result<(), WampError> {
    Err(WampError::new("test.error.bad_input").kwarg("errorCode", "BAD_INPUT"))
}

async fn echo(
    Args(args): Args<Vec<Value>>,
    Kwargs(kwargs): Kwargs<serverwamp::protocol::Dict>,
) -> RpcResult {
    RpcResult { args, kwargs }
}

#[derive(Clone)]
struct Note(String);

async fn remember(session: Session, Args((note,)): Args<(String,)>) {
    session.insert_data(Note(note));
}

async fn recall(session: Session) -> Option<String> {
    session.data::<Note>().map(|n| n.0)
}

async fn which(request: Request) -> String {
    request.procedure().to_owned()
}

/// A result struct: its fields become keyword arguments.
#[derive(serde::Serialize)]
struct Zodiac {
    #[serde(rename = "gregorianYear")]
    gregorian_year: u32,
    #[serde(rename = "生肖")]
    animal: &'static str,
}

fn app() -> (Application, Counter, Counter) {
    let dropped = Counter::default();
    let open = Counter::default();
    let mut routes = RpcRouteSet::new();
    routes
        .route("math.add", add)
        .route("sleep", sleep)
        .route("sleep_forever", sleep_forever)
        .route("countdown", countdown)
        .route("report", report)
        .route("fail", fail)
        .route("nan", not_a_number)
        .route("bad_input", bad_input)
        .route("echo", echo)
        .route("note.remember", remember)
        .route("note.recall", recall)
        .route("scalar", || async { 42 })
        .route("list", || async { vec!["a", "b"] })
        .route("map", || async {
            std::collections::BTreeMap::from([("gregorianYear", 2020)])
        })
        .route("count", || async { 3usize })
        .route("single", || async { ("only",) })
        .route("struct", || async {
            Zodiac {
                gregorian_year: 2020,
                animal: "鼠",
            }
        })
        .route("nothing", || async {})
        .route("none", || async { None::<Zodiac> })
        .route("some_struct", || async {
            Ok::<_, WampError>(Some(Zodiac {
                gregorian_year: 2021,
                animal: "牛",
            }))
        })
        .route_prefix("files", which)
        .route_wildcard("user..get", which);
    let mut app = Application::new();
    app.add_routes(routes);
    app.set_state(dropped.clone());
    app.set_state(OpenSessions(open.clone()));
    app.add_session_open_handler(|State(open): State<OpenSessions>| async move {
        open.0.0.fetch_add(1, Ordering::SeqCst);
    });
    app.add_session_close_handler(|State(open): State<OpenSessions>| async move {
        open.0.0.fetch_sub(1, Ordering::SeqCst);
    });
    app.realm("custom").set_rpc_handler(
        |request: Request, Args(args): Args<Vec<Value>>| async move {
            RpcResult::new()
                .arg(request.procedure())
                .arg(args.len() as u64)
        },
    );
    (app, dropped, open)
}

#[tokio::test]
async fn welcome_announces_the_session_and_the_router_roles() {
    let (app, _, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.send(json!([1, "realm1", {"roles": {"caller": {}}}]))
            .await;
        let welcome = c
            .expect(json!([2, "<id>", {
                "realm": "realm1",
                "authrole": "anonymous",
                "authmethod": "anonymous",
                "authid": "*",
                "authprovider": "*",
                "roles": {"dealer": {"features": {
                    "progressive_call_results": true,
                    "call_canceling": true,
                    "call_timeout": true
                }}}
            }]))
            .await;
        let details = welcome.as_list().unwrap()[2].as_dict().unwrap();
        let roles = details["roles"].as_dict().unwrap();
        let names: Vec<&str> = roles.keys().map(String::as_str).collect();
        assert_eq!(names, ["broker", "dealer"], "[{sp}] the router's roles");
    }
}

#[tokio::test]
async fn results_take_the_shape_of_what_handlers_return() {
    let (app, _, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        c.send(json!([48, 1, {}, "math.add", [1, 2.5]])).await;
        c.expect(json!([50, 1, {}, [3.5]])).await;
        c.send(json!([48, 2, {}, "math.add", [], {"number1": 1, "number2": 2}]))
            .await;
        c.expect(json!([50, 2, {}, [3.0]])).await;
        c.send(json!([48, 3, {}, "scalar"])).await;
        c.expect(json!([50, 3, {}, [42]])).await;
        c.send(json!([48, 4, {}, "list"])).await;
        c.expect(json!([50, 4, {}, ["a", "b"]])).await;
        c.send(json!([48, 5, {}, "map"])).await;
        c.expect(json!([50, 5, {}, [], {"gregorianYear": 2020}]))
            .await;
        c.send(json!([48, 6, {}, "echo", [1, "x", null], {"k": [true]}]))
            .await;
        c.expect(json!([50, 6, {}, [1, "x", null], {"k": [true]}]))
            .await;
        c.send(json!([48, 7, {}, "echo"])).await;
        c.expect(json!([50, 7, {}])).await;
        c.send(json!([48, 8, {}, "bad_input"])).await;
        c.expect(json!([8, 48, 8, {}, "test.error.bad_input", [], {"errorCode": "BAD_INPUT"}]))
            .await;
        c.send(json!([48, 9, {}, "count"])).await;
        c.expect(json!([50, 9, {}, [3]])).await;
        c.send(json!([48, 10, {}, "single"])).await;
        c.expect(json!([50, 10, {}, ["only"]])).await;
        c.send(json!([48, 11, {}, "struct"])).await;
        c.expect(json!([50, 11, {}, [], {"gregorianYear": 2020, "生肖": "鼠"}]))
            .await;
        c.send(json!([48, 12, {}, "nothing"])).await;
        let nothing = c.expect(json!([50, 12, {}])).await;
        assert_eq!(nothing.as_list().unwrap().len(), 3, "[{sp}] no arguments");
        c.send(json!([48, 13, {}, "none"])).await;
        c.expect(json!([50, 13, {}, [null]])).await;
        c.send(json!([48, 14, {}, "some_struct"])).await;
        c.expect(json!([50, 14, {}, [], {"gregorianYear": 2021, "生肖": "牛"}]))
            .await;
    }
}

#[tokio::test]
async fn bad_arguments_say_which_and_why() {
    let (app, _, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        let invalid = "wamp.error.invalid_argument";
        c.send(json!([48, 1, {}, "math.add", [1]])).await;
        c.expect(json!([8, 48, 1, {}, invalid, ["missing field `number2`"]]))
            .await;
        c.send(json!([48, 2, {}, "math.add", [1, 2, 3]])).await;
        c.expect(json!([
            8,
            48,
            2,
            {},
            invalid,
            ["too many positional arguments: 3 given, AddParams takes at most 2"]
        ]))
        .await;
        c.send(json!([48, 3, {}, "math.add", [1, "two"]])).await;
        c.expect(json!([
            8,
            48,
            3,
            {},
            invalid,
            ["argument `number2`: invalid type: string \"two\", expected f64"]
        ]))
        .await;
        c.send(json!([48, 4, {}, "math.add", [1, 2], {"number1": 1}]))
            .await;
        c.expect(json!([
            8,
            48,
            4,
            {},
            invalid,
            ["argument `number1` given both by position and by keyword"]
        ]))
        .await;
        c.send(json!([48, 5, {}, "math.add", [], {"number1": 1, "number2": 2, "x": 0}]))
            .await;
        c.expect(json!([
            8,
            48,
            5,
            {},
            invalid,
            ["unexpected keyword argument `x`"]
        ]))
        .await;
    }
}

#[tokio::test]
async fn unknown_procedures_and_failing_handlers_answer_errors_and_the_session_goes_on() {
    let (app, _, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        c.send(json!([48, 1, {}, "no.such"])).await;
        c.expect(json!([
            8,
            48,
            1,
            {},
            "wamp.error.no_such_procedure",
            ["no procedure is registered for \"no.such\""]
        ]))
        .await;
        c.send(json!([48, 2, {}, "fail"])).await;
        // No internal text: the panic message stays in the server's log.
        c.expect(json!([8, 48, 2, {}, "wamp.error.runtime_error"]))
            .await;
        c.send(json!([48, 3, {}, "scalar"])).await;
        c.expect(json!([50, 3, {}, [42]])).await;
    }
}

#[tokio::test]
async fn a_result_json_cannot_carry_is_a_runtime_error() {
    let (app, _, _) = app();
    let mut c = Client::connect(&app, "wamp.2.json").await;
    c.join("realm1").await;
    c.send(json!([48, 1, {}, "nan"])).await;
    c.expect(json!([8, 48, 1, {}, "wamp.error.runtime_error"]))
        .await;
    let mut c = Client::connect(&app, "wamp.2.msgpack").await;
    c.join("realm1").await;
    c.send(json!([48, 1, {}, "nan"])).await;
    let result = c.expect(json!([50, 1, {}, "*"])).await;
    let args = result.as_list().unwrap()[3].as_list().unwrap().clone();
    assert!(args[0].as_f64().unwrap().is_nan());
}

#[tokio::test]
async fn progressive_results_reach_only_callers_that_asked() {
    let (app, _, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        c.send(json!([48, 1, {"receive_progress": true}, "countdown"]))
            .await;
        c.expect(json!([50, 1, {"progress": true}, [], {"timeLeft": 2}]))
            .await;
        c.expect(json!([50, 1, {"progress": true}, [], {"timeLeft": 1}]))
            .await;
        c.expect(json!([50, 1, {}, [], {"liftoffStatus": "SUCCESS"}]))
            .await;
        c.send(json!([48, 2, {}, "countdown"])).await;
        c.expect(json!([50, 2, {}, [], {"liftoffStatus": "SUCCESS"}]))
            .await;
        c.send(json!([48, 3, {"receive_progress": true}, "report"]))
            .await;
        c.expect(json!([50, 3, {"progress": true}, ["half way"]]))
            .await;
        c.expect(json!([50, 3, {}, ["done"]])).await;
        c.send(json!([48, 4, {}, "report"])).await;
        c.expect(json!([50, 4, {}, ["done"]])).await;
    }
}

#[tokio::test]
async fn slow_calls_do_not_hold_up_fast_ones() {
    let (app, _, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        c.send(json!([48, 1, {}, "sleep", [300]])).await;
        c.send(json!([48, 2, {}, "sleep", [1]])).await;
        c.send(json!([48, 3, {}, "scalar"])).await;
        c.expect(json!([50, 3, {}, [42]])).await;
        c.expect(json!([50, 2, {}, [1]])).await;
        c.expect(json!([50, 1, {}, [300]])).await;
    }
}

#[tokio::test]
async fn cancel_ends_calls_in_every_mode() {
    let (app, dropped, _) = app();
    for sp in SUBPROTOCOLS {
        let before = dropped.0.load(Ordering::SeqCst);
        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        for (request, mode) in [(1, "kill"), (2, "killnowait"), (3, "skip")] {
            c.send(json!([48, request, {}, "sleep_forever"])).await;
            c.send(json!([49, request, {"mode": mode}])).await;
            c.expect(json!([8, 48, request, {}, "wamp.error.canceled"]))
                .await;
        }
        // Default mode is kill.
        c.send(json!([48, 4, {}, "sleep_forever"])).await;
        c.send(json!([49, 4, {}])).await;
        c.expect(json!([8, 48, 4, {}, "wamp.error.canceled"])).await;
        // Canceling a call that is not running is ignored.
        c.send(json!([49, 99, {}])).await;
        c.send(json!([48, 5, {}, "scalar"])).await;
        c.expect(json!([50, 5, {}, [42]])).await;
        // kill, killnowait and the default dropped their handlers; skip
        // lets it run until the session ends.
        assert_eq!(dropped.0.load(Ordering::SeqCst) - before, 3, "[{sp}]");
        c.send(json!([6, {}, "wamp.close.normal"])).await;
        c.expect(json!([6, {}, "wamp.close.goodbye_and_out"])).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            dropped.0.load(Ordering::SeqCst) - before,
            4,
            "[{sp}] session end drops handlers"
        );
    }
}

#[tokio::test]
async fn call_timeouts_are_enforced() {
    let (app, _, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        c.send(json!([48, 1, {"timeout": 20}, "sleep", [5000]]))
            .await;
        c.expect(json!([8, 48, 1, {}, "wamp.error.timeout"])).await;
        c.send(json!([48, 2, {"timeout": 5000}, "sleep", [1]]))
            .await;
        c.expect(json!([50, 2, {}, [1]])).await;
    }
}

#[tokio::test]
async fn goodbye_then_hello_again_on_the_same_connection() {
    let (app, _, open) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        let first = c.join("realm1").await;
        c.send(json!([6, {}, "wamp.close.normal"])).await;
        c.expect(json!([6, {}, "wamp.close.goodbye_and_out"])).await;
        let second = c.join("realm2").await;
        assert_ne!(first, second);
        c.send(json!([48, 1, {}, "scalar"])).await;
        c.expect(json!([50, 1, {}, [42]])).await;
        c.send(json!([6, {}, "wamp.close.normal"])).await;
        c.expect(json!([6, {}, "wamp.close.goodbye_and_out"])).await;
    }
    assert_eq!(
        open.0.load(Ordering::SeqCst),
        0,
        "close handlers ran for every open"
    );
    assert_eq!(app.session_count(), 0);
}

#[tokio::test]
async fn protocol_violations_abort_with_a_message_naming_the_problem() {
    let (app, _, _) = app();
    let violation = "wamp.error.protocol_violation";
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.send(json!([48, 1, {}, "scalar"])).await;
        c.expect(json!([3, {"message": "CALL received before HELLO"}, violation]))
            .await;
        c.expect_closed().await;

        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        c.send(json!([1, "realm1", {}])).await;
        c.expect(json!([3, {"message": "HELLO received while a session is open"}, violation]))
            .await;
        c.expect_closed().await;

        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        c.send(json!([48, 0, {}, "scalar"])).await;
        c.expect(json!([3, {"message": "protocol violation: CALL.Request must be an ID in [1, 2^53], found 0"}, violation]))
            .await;
        c.expect_closed().await;

        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        c.send(json!([50, 1, {}])).await;
        c.expect(json!([3, {"message": "RESULT is sent by routers, not clients"}, violation]))
            .await;
        c.expect_closed().await;
    }
}

#[tokio::test]
async fn malformed_frames_abort() {
    let (app, _, _) = app();
    for sp in ["wamp.2.json", "wamp.2.msgpack", "wamp.2.cbor"] {
        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        let garbage = if sp == "wamp.2.json" {
            b"[48, 1,".to_vec()
        } else {
            vec![0xc1, 0xff]
        };
        c.send_raw(garbage).await;
        let abort = c
            .expect(json!([3, {"message": "*"}, "wamp.error.protocol_violation"]))
            .await;
        let message = abort.as_list().unwrap()[1].as_dict().unwrap()["message"].clone();
        assert!(
            message.as_str().unwrap().starts_with("malformed "),
            "[{sp}] {message}"
        );
        c.expect_closed().await;
    }
}

#[tokio::test]
async fn a_client_abort_closes_quietly() {
    let (app, _, open) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        c.send(json!([3, {}, "wamp.close.normal"])).await;
        c.expect_closed().await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(open.0.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn realms_that_are_not_configured_can_be_refused() {
    let (mut app, _, _) = app();
    app.disable_default_realm();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.send(json!([1, "realm1", {"roles": {"caller": {}}}]))
            .await;
        c.expect(json!([3, {"message": "no realm named \"realm1\""}, "wamp.error.no_such_realm"]))
            .await;
        c.expect_closed().await;
        let mut c = Client::connect(&app, sp).await;
        c.join("custom").await;
    }
}

#[tokio::test]
async fn a_custom_rpc_handler_replaces_routing_in_its_realm() {
    let (app, _, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.join("custom").await;
        c.send(json!([48, 1, {}, "anything.at.all", [1, 2, 3]]))
            .await;
        c.expect(json!([50, 1, {}, ["anything.at.all", 3]])).await;
        c.send(json!([48, 2, {}, "scalar"])).await;
        c.expect(json!([50, 2, {}, ["scalar", 0]])).await;
    }
}

#[tokio::test]
async fn pattern_routes_are_component_aware() {
    let (app, _, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        c.send(json!([48, 1, {}, "files.read"])).await;
        c.expect(json!([50, 1, {}, ["files.read"]])).await;
        c.send(json!([48, 2, {}, "files"])).await;
        c.expect(json!([50, 2, {}, ["files"]])).await;
        c.send(json!([48, 3, {}, "filesystem"])).await;
        c.expect(json!([8, 48, 3, {}, "wamp.error.no_such_procedure", "*"]))
            .await;
        c.send(json!([48, 4, {}, "user.alice.get"])).await;
        c.expect(json!([50, 4, {}, ["user.alice.get"]])).await;
        c.send(json!([48, 5, {}, "user.alice.x.get"])).await;
        c.expect(json!([8, 48, 5, {}, "wamp.error.no_such_procedure", "*"]))
            .await;
    }
}

#[tokio::test]
async fn session_data_belongs_to_one_session() {
    let (app, _, _) = app();
    for sp in SUBPROTOCOLS {
        let mut a = Client::connect(&app, sp).await;
        let mut b = Client::connect(&app, sp).await;
        a.join("realm1").await;
        b.join("realm1").await;
        a.send(json!([48, 1, {}, "note.remember", ["alpha"]])).await;
        a.expect(json!([50, 1, {}])).await;
        a.send(json!([48, 2, {}, "note.recall"])).await;
        a.expect(json!([50, 2, {}, ["alpha"]])).await;
        b.send(json!([48, 1, {}, "note.recall"])).await;
        b.expect(json!([50, 1, {}, [null]])).await;
    }
}

#[tokio::test]
async fn clients_cannot_register_procedures_or_publish_without_a_route() {
    let (app, _, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        c.send(json!([64, 1, {}, "my.proc"])).await;
        c.expect(json!([8, 64, 1, {}, "wamp.error.not_authorized"]))
            .await;
        c.send(json!([66, 2, 123])).await;
        c.expect(json!([8, 66, 2, {}, "wamp.error.no_such_registration"]))
            .await;
        c.send(json!([16, 3, {"acknowledge": true}, "my.topic"]))
            .await;
        c.expect(json!([
            8,
            16,
            3,
            {},
            "wamp.error.not_authorized",
            ["publications to \"my.topic\" are not accepted"]
        ]))
        .await;
    }
}

#[tokio::test]
async fn close_sessions_says_goodbye_and_waits_for_replies() {
    let (app, _, open) = app();
    let mut clients = Vec::new();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        clients.push(c);
    }
    assert_eq!(app.session_count(), SUBPROTOCOLS.len());
    let closing = {
        let app = app.clone();
        tokio::spawn(async move { app.close_sessions(Duration::from_secs(5)).await })
    };
    for c in &mut clients {
        c.expect(
            json!([6, {"message": "the server is shutting down"}, "wamp.close.system_shutdown"]),
        )
        .await;
        c.send(json!([6, {}, "wamp.close.goodbye_and_out"])).await;
        c.expect_closed().await;
    }
    closing.await.unwrap();
    assert_eq!(app.session_count(), 0);
    assert_eq!(open.0.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn close_sessions_closes_clients_that_never_answer() {
    let (app, _, _) = app();
    let mut c = Client::connect(&app, "wamp.2.json").await;
    c.join("realm1").await;
    app.close_sessions(Duration::from_millis(100)).await;
    assert_eq!(app.session_count(), 0);
    c.expect(json!([6, "*", "wamp.close.system_shutdown"]))
        .await;
    c.expect_closed().await;
}

#[tokio::test]
async fn a_batched_json_client_gets_its_own_record_separator_back() {
    let (app, _, _) = app();
    let mut c = Client::connect(&app, "wamp.2.json.batched").await;
    // autobahn-python ends records with 0x18 instead of the spec's 0x1E.
    c.send_raw(b"[1,\"realm1\",{\"roles\":{\"caller\":{}}}]\x18[48,1,{},\"scalar\"]\x18".to_vec())
        .await;
    c.expect(json!([2, "<id>", {}])).await;
    c.expect(json!([50, 1, {}, [42]])).await;
}

#[tokio::test]
async fn incorrect_uris_are_answered_with_invalid_uri() {
    let (app, _, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        c.send(json!([48, 1, {}, "a..b"])).await;
        c.expect(json!([
            8,
            48,
            1,
            {},
            "wamp.error.invalid_uri",
            ["protocol violation: CALL.Procedure: URI \"a..b\" has an empty component"]
        ]))
        .await;
        c.send(json!([32, 2, {}, "a b"])).await;
        c.expect(json!([8, 32, 2, {}, "wamp.error.invalid_uri", "*"]))
            .await;
        // The session goes on.
        c.send(json!([48, 3, {}, "scalar"])).await;
        c.expect(json!([50, 3, {}, [42]])).await;

        let mut c = Client::connect(&app, sp).await;
        c.send(json!([1, "bad realm", {}])).await;
        c.expect(json!([3, {"message": "HELLO.Realm: URI \"bad realm\" has the character ' ' at byte 3, which URIs do not allow"}, "wamp.error.invalid_uri"]))
            .await;
        c.expect_closed().await;
    }
}

#[tokio::test]
async fn application_options_reach_sessions() {
    #[derive(Deserialize)]
    struct Countdown {
        time_left: u32,
    }
    let mut routes = RpcRouteSet::new();
    routes
        .route(
            "left",
            |Params(p): Params<Countdown>| async move { p.time_left },
        )
        .route("kick", |session: Session| async move {
            session.close("app.close.kicked", Some("bye".to_owned()));
        })
        .route("forget", |session: Session| async move {
            session.insert_data(Note("x".into()));
            let removed = session.remove_data::<Note>().map(|n| n.0);
            (removed, session.data::<Note>().is_none())
        });
    let mut app = Application::new();
    app.add_routes(routes);
    app.convert_camel_case_kwargs(true);
    app.set_uri_rules(serverwamp::protocol::UriRules::Strict);
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        let id = c.join("realm1").await;
        assert!(
            app.session(serverwamp::protocol::Id::new(id).unwrap())
                .is_some()
        );
        // camelCase keyword names fill snake_case fields.
        c.send(json!([48, 1, {}, "left", [], {"timeLeft": 3}]))
            .await;
        c.expect(json!([50, 1, {}, [3]])).await;
        c.send(json!([48, 2, {}, "forget"])).await;
        c.expect(json!([50, 2, {}, ["x", true]])).await;
        // Strict URI rules refuse uppercase.
        c.send(json!([48, 3, {}, "Left"])).await;
        c.expect(json!([8, 48, 3, {}, "wamp.error.invalid_uri", "*"]))
            .await;
        // A server-side close with a chosen reason waits for the client's
        // GOODBYE, then closes.
        let session = app
            .session(serverwamp::protocol::Id::new(id).unwrap())
            .unwrap();
        let ended = tokio::spawn(async move { session.closed().await });
        c.send(json!([48, 4, {}, "kick"])).await;
        c.expect(json!([50, 4, {}])).await;
        c.expect(json!([6, {"message": "bye"}, "app.close.kicked"]))
            .await;
        assert!(!ended.is_finished(), "[{sp}] open until the client answers");
        c.send(json!([6, {}, "wamp.close.goodbye_and_out"])).await;
        c.expect_closed().await;
        tokio::time::timeout(Duration::from_secs(2), ended)
            .await
            .expect("Session::closed returns once the session ended")
            .unwrap();
    }
}

#[tokio::test]
async fn every_record_of_a_batched_frame_gets_its_answer() {
    let (app, _, _) = app();
    for sp in ["wamp.2.json.batched", "wamp.2.msgpack.batched"] {
        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        // One frame: a good call, a call with an incorrect URI, a good call.
        let codec = serverwamp::protocol::Codec::from_subprotocol(sp).unwrap();
        let mut frame = Vec::new();
        for message in [
            json!([48, 1, {}, "scalar"]),
            json!([48, 2, {}, "a..b"]),
            json!([48, 3, {}, "scalar"]),
        ] {
            codec
                .encode_frame(&support::value(&message), &mut frame)
                .unwrap();
        }
        c.send_raw(frame).await;
        c.expect(json!([50, 1, {}, [42]])).await;
        c.expect(json!([8, 48, 2, {}, "wamp.error.invalid_uri", "*"]))
            .await;
        c.expect(json!([50, 3, {}, [42]])).await;
    }
}

/// Answers that find the session's outbound queue full wait for room; none
/// is lost, none is sent twice, and the session goes on. (Most handlers
/// answer at their first poll, where there is no task yet: the answer gets
/// one only to wait in.)
#[tokio::test]
async fn answers_wait_for_room_in_a_full_queue() {
    const CALLS: u64 = 120;
    const LEN: usize = 8 * 1024;
    let mut routes = RpcRouteSet::new();
    routes.route("blob", |Args((n,)): Args<(u64,)>| async move {
        let fill = char::from(b'a' + u8::try_from(n % 26).unwrap_or(0));
        std::iter::repeat_n(fill, LEN).collect::<String>()
    });
    let mut app = Application::new();
    app.add_routes(routes).set_outbound_queue_limit(16 * 1024);
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        // About 1 MiB of answers: more than the 256 KiB pipe and the
        // 16 KiB queue take while the client reads nothing.
        for request in 1..=CALLS {
            c.send(json!([48, request, {}, "blob", [request]])).await;
        }
        let mut seen = std::collections::BTreeSet::new();
        for _ in 1..=CALLS {
            let message = c.recv().await.expect("every answer arrives");
            let list = message.as_list().expect("a list");
            assert_eq!(list[0], Value::UInt(50), "[{sp}] a RESULT: {message}");
            let Value::UInt(request) = list[1] else {
                panic!("[{sp}] a request ID: {message}");
            };
            let fill = char::from(b'a' + u8::try_from(request % 26).unwrap());
            let expected = Value::Str(std::iter::repeat_n(fill, LEN).collect());
            assert_eq!(list[3], Value::List(vec![expected]), "[{sp}] {request}");
            assert!(seen.insert(request), "[{sp}] {request} answered twice");
        }
        assert_eq!(seen.len(), usize::try_from(CALLS).unwrap());
        c.send(json!([48, 999, {}, "blob", [0]])).await;
        let message = c.recv().await.expect("the session goes on");
        assert_eq!(message.as_list().unwrap()[1], Value::UInt(999), "[{sp}]");
    }
}

//! Transcript tests of client callees: clients REGISTER procedures that the
//! application's other clients call through INVOCATION and YIELD, once per
//! serializer and batched variant.

mod support;

use serde_json::json;
use serverwamp::auth::Action;
use serverwamp::protocol::Value;
use serverwamp::rpc::RpcRouteSet;
use serverwamp::{Application, Session};
use support::{Client, SUBPROTOCOLS, value};

fn app() -> Application {
    let mut app = Application::new();
    let mut routes = RpcRouteSet::new();
    routes.route(
        "local.echo",
        |serverwamp::rpc::Args(a): serverwamp::rpc::Args<Vec<Value>>| async move { a },
    );
    routes.route("local.ask", |session: Session| async move {
        session
            .call(
                "dev.read",
                vec![Value::from("via session")],
                Default::default(),
            )
            .await
    });
    app.add_routes(routes);
    app.set_limits(serverwamp::Limits::new().max_registrations(8));
    app.realm("devices").set_client_callees(true);
    app.realm("first")
        .set_client_callees(true)
        .set_client_callees_first(true);
    app.realm("guarded")
        .set_client_callees(true)
        .set_authorizer(
            |_s: Session, action: Action, uri: String| async move {
                action != Action::Register || !uri.starts_with("secret.")
            },
            false,
        );
    app
}

/// Receives the next message and asserts it is exactly `expected`.
async fn exact(c: &mut Client, expected: serde_json::Value) {
    let actual = c.recv().await.expect("a message");
    assert_eq!(actual, value(&expected), "[{}]", c.serialization().name());
}

/// Joins `realm` as a callee that understands INTERRUPT; returns the
/// session ID.
async fn join_callee(c: &mut Client, realm: &str) -> u64 {
    c.send(json!([1, realm, {"roles": {"callee": {"features": {"call_canceling": true}}}}]))
        .await;
    let welcome = c.expect(json!([2, "<id>", {"realm": realm}])).await;
    id(&welcome, 1)
}

fn id(message: &Value, index: usize) -> u64 {
    message
        .as_list()
        .and_then(|l| l[index].as_u64())
        .expect("an ID")
}

/// A caller and a callee on `realm`; the callee registered `procedure`
/// with `options`. Returns both and the registration ID.
async fn pair(
    app: &Application,
    sp: &str,
    realm: &str,
    procedure: &str,
    options: serde_json::Value,
) -> (Client, Client, u64) {
    let mut callee = Client::connect(app, sp).await;
    join_callee(&mut callee, realm).await;
    callee.send(json!([64, 1, options, procedure])).await;
    let registered = callee.expect(json!([65, 1, "<id>"])).await;
    let registration = id(&registered, 2);
    let mut caller = Client::connect(app, sp).await;
    caller.join(realm).await;
    (caller, callee, registration)
}

#[tokio::test]
async fn a_call_reaches_a_client_callee_and_its_yield_answers() {
    let app = app();
    for sp in SUBPROTOCOLS {
        let (mut caller, mut callee, reg) = pair(&app, sp, "devices", "dev.add", json!({})).await;
        caller
            .send(json!([48, 7, {}, "dev.add", [2, 3], {"x": 1}]))
            .await;
        let invocation = callee
            .expect(json!([68, "<id>", reg, {}, [2, 3], {"x": 1}]))
            .await;
        let inv = id(&invocation, 1);
        assert_eq!(
            invocation,
            value(&json!([68, inv, reg, {}, [2, 3], {"x": 1}]))
        );
        callee.send(json!([70, inv, {}, [5]])).await;
        exact(&mut caller, json!([50, 7, {}, [5]])).await;
        // The callee's error reaches the caller.
        caller.send(json!([48, 8, {}, "dev.add", [1]])).await;
        let invocation = callee.expect(json!([68, "<id>", reg, {}, [1]])).await;
        callee
            .send(json!([
                8,
                68,
                id(&invocation, 1),
                {},
                "app.error.odd",
                ["odd"]
            ]))
            .await;
        exact(&mut caller, json!([8, 48, 8, {}, "app.error.odd", ["odd"]])).await;
        // Local routes still answer; unknown procedures are refused.
        caller.send(json!([48, 9, {}, "local.echo", [1]])).await;
        exact(&mut caller, json!([50, 9, {}, [1]])).await;
        caller.send(json!([48, 10, {}, "dev.nothing"])).await;
        exact(
            &mut caller,
            json!([
                8,
                48,
                10,
                {},
                "wamp.error.no_such_procedure",
                ["no procedure is registered for \"dev.nothing\""]
            ]),
        )
        .await;
    }
}

#[tokio::test]
async fn the_welcome_announces_the_dealer_features_that_work() {
    let app = app();
    for (realm, callees) in [("devices", true), ("realm1", false)] {
        let mut c = Client::connect(&app, "wamp.2.json").await;
        c.send(json!([1, realm, {"roles": {"caller": {}}}])).await;
        let welcome = c.recv().await.expect("WELCOME");
        let details = &welcome.as_list().expect("a list")[2];
        let Value::Dict(details) = details else {
            panic!("details")
        };
        let mut features = vec!["call_canceling", "call_timeout", "progressive_call_results"];
        if callees {
            features.extend([
                "caller_identification",
                "pattern_based_registration",
                "progressive_call_invocations",
                "shared_registration",
            ]);
            features.sort_unstable();
        }
        let expected: serde_json::Map<String, serde_json::Value> = features
            .iter()
            .map(|f| ((*f).to_owned(), json!(true)))
            .collect();
        let Some(Value::Dict(roles)) = details.get("roles") else {
            panic!("roles")
        };
        assert_eq!(
            roles["dealer"],
            value(&json!({"features": expected})),
            "{realm}"
        );
    }
}

#[tokio::test]
async fn pattern_registrations_tell_the_callee_the_procedure_and_the_caller_when_disclosed() {
    let app = app();
    for sp in SUBPROTOCOLS {
        let mut callee = Client::connect(&app, sp).await;
        let callee_session = join_callee(&mut callee, "devices").await;
        callee
            .send(json!([64, 1, {"match": "prefix"}, "dev.z"]))
            .await;
        let prefix = id(&callee.expect(json!([65, 1, "<id>"])).await, 2);
        callee
            .send(json!([64, 2, {"match": "wildcard"}, "dev..get"]))
            .await;
        let wildcard = id(&callee.expect(json!([65, 2, "<id>"])).await, 2);
        callee
            .send(json!([64, 3, {"disclose_caller": true}, "dev.x.get"]))
            .await;
        let exact_reg = id(&callee.expect(json!([65, 3, "<id>"])).await, 2);
        let mut caller = Client::connect(&app, sp).await;
        let caller_session = caller.join("devices").await;
        assert_ne!(caller_session, callee_session);
        // An exact registration wins, and this one discloses its callers.
        caller.send(json!([48, 1, {}, "dev.x.get"])).await;
        let inv = callee.expect(json!([68, "<id>", exact_reg, {}])).await;
        let details = &inv.as_list().expect("a list")[3];
        let authid = details.as_dict().expect("details")["caller_authid"].clone();
        assert_eq!(
            inv,
            value(&json!([68, id(&inv, 1), exact_reg, {
                "caller": caller_session,
                "caller_authid": authid.as_str().expect("an authid"),
                "caller_authrole": "anonymous",
            }]))
        );
        callee.send(json!([70, id(&inv, 1), {}])).await;
        exact(&mut caller, json!([50, 1, {}])).await;
        // A wildcard; the callee learns the procedure.
        caller.send(json!([48, 2, {}, "dev.y.get"])).await;
        let inv = callee.expect(json!([68, "<id>", wildcard, {}])).await;
        assert_eq!(
            inv,
            value(&json!([68, id(&inv, 1), wildcard, {"procedure": "dev.y.get"}]))
        );
        callee.send(json!([70, id(&inv, 1), {}, ["w"]])).await;
        exact(&mut caller, json!([50, 2, {}, ["w"]])).await;
        // The prefix, with the caller disclosed because it asked.
        caller
            .send(json!([48, 3, {"disclose_me": true}, "dev.z.set", [1]]))
            .await;
        let inv = callee.expect(json!([68, "<id>", prefix, {}, [1]])).await;
        assert_eq!(
            inv,
            value(&json!([68, id(&inv, 1), prefix, {
                "procedure": "dev.z.set",
                "caller": caller_session,
                "caller_authid": authid.as_str().expect("an authid"),
                "caller_authrole": "anonymous",
            }, [1]]))
        );
        callee.send(json!([70, id(&inv, 1), {}, ["p"]])).await;
        exact(&mut caller, json!([50, 3, {}, ["p"]])).await;
    }
}

#[tokio::test]
async fn progressive_yields_reach_a_caller_that_asked_for_progress() {
    let app = app();
    for sp in SUBPROTOCOLS {
        let (mut caller, mut callee, reg) = pair(&app, sp, "devices", "dev.count", json!({})).await;
        caller
            .send(json!([48, 1, {"receive_progress": true}, "dev.count"]))
            .await;
        let inv = callee.expect(json!([68, "<id>", reg, {}])).await;
        let request = id(&inv, 1);
        assert_eq!(
            inv,
            value(&json!([68, request, reg, {"receive_progress": true}]))
        );
        callee
            .send(json!([70, request, {"progress": true}, [1]]))
            .await;
        exact(&mut caller, json!([50, 1, {"progress": true}, [1]])).await;
        callee
            .send(json!([70, request, {"progress": true}, [2]]))
            .await;
        exact(&mut caller, json!([50, 1, {"progress": true}, [2]])).await;
        callee.send(json!([70, request, {}, ["done"]])).await;
        exact(&mut caller, json!([50, 1, {}, ["done"]])).await;
        // A YIELD for an answered invocation is ignored.
        callee.send(json!([70, request, {}, ["late"]])).await;
        // Without receive_progress, only the final result arrives.
        caller.send(json!([48, 2, {}, "dev.count"])).await;
        let inv = callee.expect(json!([68, "<id>", reg, {}])).await;
        assert_eq!(inv, value(&json!([68, id(&inv, 1), reg, {}])));
        callee
            .send(json!([70, id(&inv, 1), {"progress": true}, [1]]))
            .await;
        callee.send(json!([70, id(&inv, 1), {}, [2]])).await;
        exact(&mut caller, json!([50, 2, {}, [2]])).await;
    }
}

#[tokio::test]
async fn cancel_interrupts_the_callee_in_each_mode() {
    let app = app();
    for sp in SUBPROTOCOLS {
        let (mut caller, mut callee, reg) = pair(&app, sp, "devices", "dev.slow", json!({})).await;
        // kill: INTERRUPT, and the callee's answer ends the call.
        caller.send(json!([48, 1, {}, "dev.slow"])).await;
        let inv = id(&callee.expect(json!([68, "<id>", reg, {}])).await, 1);
        caller.send(json!([49, 1, {"mode": "kill"}])).await;
        exact(&mut callee, json!([69, inv, {"mode": "kill"}])).await;
        callee
            .send(json!([8, 68, inv, {}, "wamp.error.canceled", ["stopped"]]))
            .await;
        exact(
            &mut caller,
            json!([8, 48, 1, {}, "wamp.error.canceled", ["stopped"]]),
        )
        .await;
        // killnowait: the caller is answered at once, the callee interrupted.
        caller.send(json!([48, 2, {}, "dev.slow"])).await;
        let inv = id(&callee.expect(json!([68, "<id>", reg, {}])).await, 1);
        caller.send(json!([49, 2, {"mode": "killnowait"}])).await;
        exact(&mut caller, json!([8, 48, 2, {}, "wamp.error.canceled"])).await;
        exact(&mut callee, json!([69, inv, {"mode": "killnowait"}])).await;
        callee.send(json!([70, inv, {}, ["ignored"]])).await;
        // skip: the caller is answered at once, the callee is not told and
        // its result is discarded.
        caller.send(json!([48, 3, {}, "dev.slow"])).await;
        let inv = id(&callee.expect(json!([68, "<id>", reg, {}])).await, 1);
        caller.send(json!([49, 3, {"mode": "skip"}])).await;
        exact(&mut caller, json!([8, 48, 3, {}, "wamp.error.canceled"])).await;
        callee.send(json!([70, inv, {}, ["discarded"]])).await;
        // The next call proves nothing else arrived on either side.
        caller.send(json!([48, 4, {}, "dev.slow"])).await;
        let inv = id(&callee.expect(json!([68, "<id>", reg, {}])).await, 1);
        callee.send(json!([70, inv, {}, [4]])).await;
        exact(&mut caller, json!([50, 4, {}, [4]])).await;
    }
}

#[tokio::test]
async fn a_call_timeout_interrupts_the_callee_and_answers_timeout() {
    let app = app();
    for sp in SUBPROTOCOLS {
        let (mut caller, mut callee, reg) = pair(&app, sp, "devices", "dev.slow", json!({})).await;
        caller
            .send(json!([48, 1, {"timeout": 50}, "dev.slow"]))
            .await;
        let inv = id(&callee.expect(json!([68, "<id>", reg, {}])).await, 1);
        exact(&mut caller, json!([8, 48, 1, {}, "wamp.error.timeout"])).await;
        exact(&mut callee, json!([69, inv, {"mode": "killnowait"}])).await;
    }
}

#[tokio::test]
async fn a_callee_leaving_mid_call_cancels_the_call_and_its_registrations() {
    let app = app();
    for sp in SUBPROTOCOLS {
        let (mut caller, mut callee, reg) = pair(&app, sp, "devices", "dev.slow", json!({})).await;
        caller.send(json!([48, 1, {}, "dev.slow"])).await;
        callee.expect(json!([68, "<id>", reg, {}])).await;
        drop(callee);
        exact(
            &mut caller,
            json!([
                8,
                48,
                1,
                {},
                "wamp.error.canceled",
                ["the callee left before it answered the call"]
            ]),
        )
        .await;
        caller.send(json!([48, 2, {}, "dev.slow"])).await;
        exact(
            &mut caller,
            json!([
                8,
                48,
                2,
                {},
                "wamp.error.no_such_procedure",
                ["no procedure is registered for \"dev.slow\""]
            ]),
        )
        .await;
    }
}

#[tokio::test]
async fn shared_registrations_follow_their_invocation_policy() {
    let app = app();
    for sp in SUBPROTOCOLS {
        for (policy, expected) in [
            ("roundrobin", [0, 1, 2, 0]),
            ("first", [0, 0, 0, 0]),
            ("last", [2, 2, 2, 2]),
        ] {
            let procedure = format!("dev.shared.{policy}");
            let mut callees = Vec::new();
            let mut reg = 0;
            for i in 0..3 {
                let mut c = Client::connect(&app, sp).await;
                c.join("devices").await;
                c.send(json!([64, 1, {"invoke": policy}, procedure])).await;
                let r = id(&c.expect(json!([65, 1, "<id>"])).await, 2);
                if i > 0 {
                    assert_eq!(r, reg, "one registration, shared");
                }
                reg = r;
                callees.push(c);
            }
            let mut caller = Client::connect(&app, sp).await;
            caller.join("devices").await;
            for (n, which) in expected.into_iter().enumerate() {
                caller.send(json!([48, n + 1, {}, procedure])).await;
                let callee = &mut callees[which];
                let inv = id(&callee.expect(json!([68, "<id>", reg, {}])).await, 1);
                callee.send(json!([70, inv, {}, [which]])).await;
                exact(&mut caller, json!([50, n + 1, {}, [which]])).await;
            }
            // The last one leaving ends the registration; random goes on
            // with who is left.
            drop(callees);
        }
        // random: every call reaches one of the two.
        let mut a = Client::connect(&app, sp).await;
        a.join("devices").await;
        a.send(json!([64, 1, {"invoke": "random"}, "dev.random"]))
            .await;
        let reg = id(&a.expect(json!([65, 1, "<id>"])).await, 2);
        let mut caller = Client::connect(&app, sp).await;
        caller.join("devices").await;
        caller.send(json!([48, 1, {}, "dev.random"])).await;
        let inv = id(&a.expect(json!([68, "<id>", reg, {}])).await, 1);
        a.send(json!([70, inv, {}, []])).await;
        exact(&mut caller, json!([50, 1, {}])).await;
    }
}

#[tokio::test]
async fn registering_twice_unregistering_and_refusals_answer_exact_errors() {
    let app = app();
    for sp in SUBPROTOCOLS {
        let (mut other, mut callee, reg) = pair(&app, sp, "devices", "dev.one", json!({})).await;
        // single (the default) cannot be shared, nor can policies mix.
        other.send(json!([64, 1, {}, "dev.one"])).await;
        exact(
            &mut other,
            json!([
                8,
                64,
                1,
                {},
                "wamp.error.procedure_already_exists",
                ["\"dev.one\" is already registered with the single policy"]
            ]),
        )
        .await;
        other
            .send(json!([64, 2, {"invoke": "roundrobin"}, "dev.one"]))
            .await;
        exact(
            &mut other,
            json!([
                8,
                64,
                2,
                {},
                "wamp.error.procedure_already_exists",
                ["\"dev.one\" is already registered with the single policy"]
            ]),
        )
        .await;
        // The same procedure under another match policy is another
        // registration.
        other
            .send(json!([64, 3, {"match": "prefix"}, "dev.one"]))
            .await;
        let prefix = id(&other.expect(json!([65, 3, "<id>"])).await, 2);
        assert_ne!(prefix, reg);
        // The wamp. URIs belong to the protocol.
        other.send(json!([64, 7, {}, "wamp.session.count"])).await;
        exact(
            &mut other,
            json!([
                8,
                64,
                7,
                {},
                "wamp.error.invalid_uri",
                ["\"wamp.session.count\" is reserved: URIs under wamp. belong to the protocol"]
            ]),
        )
        .await;
        // An unknown policy is an invalid argument.
        other
            .send(json!([64, 4, {"invoke": "loudest"}, "dev.two"]))
            .await;
        exact(
            &mut other,
            json!([8, 64, 4, {}, "wamp.error.invalid_argument", ["unknown invocation policy \"loudest\": use single, roundrobin, random, first or last"]]),
        )
        .await;
        // Only its own callee unregisters a registration.
        other.send(json!([66, 5, reg])).await;
        exact(
            &mut other,
            json!([8, 66, 5, {}, "wamp.error.no_such_registration"]),
        )
        .await;
        callee.send(json!([66, 2, reg])).await;
        exact(&mut callee, json!([67, 2])).await;
        callee.send(json!([66, 3, reg])).await;
        exact(
            &mut callee,
            json!([8, 66, 3, {}, "wamp.error.no_such_registration"]),
        )
        .await;
        // Now the prefix registration serves dev.one.
        other.send(json!([48, 6, {}, "dev.one"])).await;
        let inv = other.expect(json!([68, "<id>", prefix, {}])).await;
        assert_eq!(
            inv,
            value(&json!([68, id(&inv, 1), prefix, {"procedure": "dev.one"}]))
        );
        other.send(json!([70, id(&inv, 1), {}, []])).await;
        exact(&mut other, json!([50, 6, {}])).await;
        // A realm without client callees refuses REGISTER.
        let mut plain = Client::connect(&app, sp).await;
        plain.join("realm1").await;
        plain.send(json!([64, 1, {}, "dev.one"])).await;
        exact(
            &mut plain,
            json!([8, 64, 1, {}, "wamp.error.not_authorized"]),
        )
        .await;
    }
}

#[tokio::test]
async fn the_authorizer_decides_who_registers() {
    let app = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.join("guarded").await;
        c.send(json!([64, 1, {}, "secret.proc"])).await;
        exact(
            &mut c,
            json!([
                8,
                64,
                1,
                {},
                "wamp.error.not_authorized",
                ["not authorized to register \"secret.proc\""]
            ]),
        )
        .await;
        c.send(json!([64, 2, {}, "open.proc"])).await;
        c.expect(json!([65, 2, "<id>"])).await;
    }
}

#[tokio::test]
async fn local_routes_win_unless_the_realm_puts_client_callees_first() {
    let app = app();
    for sp in SUBPROTOCOLS {
        for (realm, callee_answers) in [("devices", false), ("first", true)] {
            let (mut caller, mut callee, reg) =
                pair(&app, sp, realm, "local.echo", json!({})).await;
            caller.send(json!([48, 1, {}, "local.echo", ["x"]])).await;
            if callee_answers {
                let inv = id(&callee.expect(json!([68, "<id>", reg, {}, ["x"]])).await, 1);
                callee.send(json!([70, inv, {}, ["from the callee"]])).await;
                exact(&mut caller, json!([50, 1, {}, ["from the callee"]])).await;
            } else {
                exact(&mut caller, json!([50, 1, {}, ["x"]])).await;
            }
        }
    }
}

#[tokio::test]
async fn the_application_and_sessions_call_client_callees_and_local_routes() {
    let app = app();
    for sp in SUBPROTOCOLS {
        let (mut caller, mut callee, reg) = pair(
            &app,
            sp,
            "devices",
            "dev.read",
            json!({"disclose_caller": true}),
        )
        .await;
        // Application::call reaches the client callee; no caller to disclose.
        let app2 = app.clone();
        let call = tokio::spawn(async move {
            app2.call(
                "devices",
                "dev.read",
                vec![Value::from(1u64)],
                Default::default(),
            )
            .await
        });
        let inv = callee.expect(json!([68, "<id>", reg, {}, [1]])).await;
        assert_eq!(inv, value(&json!([68, id(&inv, 1), reg, {}, [1]])));
        callee
            .send(json!([70, id(&inv, 1), {"progress": true}, ["half"]]))
            .await;
        callee
            .send(json!([70, id(&inv, 1), {}, [7], {"unit": "C"}]))
            .await;
        let result = call.await.expect("the task").expect("a result");
        assert_eq!(result.args, vec![Value::from(7u64)]);
        assert_eq!(result.kwargs.get("unit"), Some(&Value::from("C")));
        // The callee's error is the application's error.
        let app2 = app.clone();
        let call = tokio::spawn(async move {
            app2.call("devices", "dev.read", vec![], Default::default())
                .await
        });
        let inv = id(&callee.expect(json!([68, "<id>", reg, {}])).await, 1);
        callee
            .send(json!([8, 68, inv, {}, "app.error.broken"]))
            .await;
        let err = call.await.expect("the task").expect_err("an error");
        assert_eq!(err.uri, "app.error.broken");
        // Session::call from a local route: the callee sees that session.
        caller.send(json!([48, 5, {}, "local.ask"])).await;
        let inv = callee
            .expect(json!([68, "<id>", reg, "*", ["via session"]]))
            .await;
        let details = inv.as_list().expect("a list")[3]
            .as_dict()
            .expect("details")
            .clone();
        assert_eq!(
            details.get("caller_authrole"),
            Some(&Value::from("anonymous"))
        );
        assert!(details.get("caller").and_then(Value::as_u64).is_some());
        callee.send(json!([70, id(&inv, 1), {}, ["reading"]])).await;
        exact(&mut caller, json!([50, 5, {}, ["reading"]])).await;
        // Local routes answer Application::call too; unknown ones do not.
        let result = app
            .call(
                "devices",
                "local.echo",
                vec![Value::from("e")],
                Default::default(),
            )
            .await
            .expect("a result");
        assert_eq!(result.args, vec![Value::from("e")]);
        let err = app
            .call("devices", "dev.none", vec![], Default::default())
            .await
            .expect_err("no such procedure");
        assert_eq!(err.uri, "wamp.error.no_such_procedure");
        // A callee gone: the application's call is canceled.
        let app2 = app.clone();
        let call = tokio::spawn(async move {
            app2.call("devices", "dev.read", vec![], Default::default())
                .await
        });
        callee.expect(json!([68, "<id>", reg, {}])).await;
        drop(callee);
        let err = call.await.expect("the task").expect_err("canceled");
        assert_eq!(err.uri, "wamp.error.canceled");
    }
}

#[tokio::test]
async fn a_callee_without_call_canceling_is_never_interrupted() {
    let app = app();
    for sp in SUBPROTOCOLS {
        let mut callee = Client::connect(&app, sp).await;
        callee.join("devices").await;
        callee.send(json!([64, 1, {}, "dev.plain"])).await;
        let reg = id(&callee.expect(json!([65, 1, "<id>"])).await, 2);
        let mut caller = Client::connect(&app, sp).await;
        caller.join("devices").await;
        // kill falls back to skip: the caller is answered at once.
        caller.send(json!([48, 1, {}, "dev.plain"])).await;
        let first = id(&callee.expect(json!([68, "<id>", reg, {}])).await, 1);
        caller.send(json!([49, 1, {"mode": "kill"}])).await;
        exact(&mut caller, json!([8, 48, 1, {}, "wamp.error.canceled"])).await;
        // A timeout too; then the late answers are discarded.
        caller
            .send(json!([48, 2, {"timeout": 20}, "dev.plain"]))
            .await;
        let second = id(&callee.expect(json!([68, "<id>", reg, {}])).await, 1);
        exact(&mut caller, json!([8, 48, 2, {}, "wamp.error.timeout"])).await;
        callee.send(json!([70, first, {}, ["late"]])).await;
        callee.send(json!([70, second, {}, ["late"]])).await;
        // The next message either side gets is the next call's.
        caller.send(json!([48, 3, {}, "dev.plain"])).await;
        let third = id(&callee.expect(json!([68, "<id>", reg, {}])).await, 1);
        callee.send(json!([70, third, {}, [3]])).await;
        exact(&mut caller, json!([50, 3, {}, [3]])).await;
    }
}

#[tokio::test]
async fn a_session_holds_at_most_max_registrations() {
    let app = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.join("devices").await;
        for n in 1..=8 {
            c.send(json!([64, n, {}, format!("dev.limit.{n}")])).await;
            c.expect(json!([65, n, "<id>"])).await;
        }
        c.send(json!([64, 9, {}, "dev.limit.9"])).await;
        exact(
            &mut c,
            json!([
                8,
                64,
                9,
                {},
                "serverwamp.error.too_many_registrations",
                ["this session already holds 8 registrations, the most it may"]
            ]),
        )
        .await;
    }
}

#[tokio::test]
async fn a_burst_of_progress_arrives_whole_and_in_order() {
    let app = app();
    for sp in SUBPROTOCOLS {
        let (mut caller, mut callee, reg) = pair(&app, sp, "devices", "dev.burst", json!({})).await;
        caller
            .send(json!([48, 1, {"receive_progress": true}, "dev.burst"]))
            .await;
        let inv = id(&callee.expect(json!([68, "<id>", reg, {}])).await, 1);
        // More reports than the dealer holds for a caller at once.
        for i in 0..100 {
            callee.send(json!([70, inv, {"progress": true}, [i]])).await;
        }
        callee.send(json!([70, inv, {}, ["end"]])).await;
        for i in 0..100 {
            exact(&mut caller, json!([50, 1, {"progress": true}, [i]])).await;
        }
        exact(&mut caller, json!([50, 1, {}, ["end"]])).await;
    }
}

#[tokio::test]
async fn a_caller_that_stops_reading_loses_the_call_and_frees_its_callee() {
    let mut app = app();
    app.set_slow_subscriber_timeout(std::time::Duration::from_millis(200));
    let sp = "wamp.2.json";
    let (mut caller, mut callee, reg) = pair(&app, sp, "devices", "dev.flood", json!({})).await;
    caller
        .send(json!([48, 1, {"receive_progress": true}, "dev.flood"]))
        .await;
    let inv = id(&callee.expect(json!([68, "<id>", reg, {}])).await, 1);
    // The caller reads nothing while far more than its connection holds
    // is reported.
    let chunk = "x".repeat(4096);
    for i in 0..400 {
        callee
            .send(json!([70, inv, {"progress": true}, [i, chunk]]))
            .await;
    }
    exact(&mut callee, json!([69, inv, {"mode": "killnowait"}])).await;
    // The callee serves the next call at once.
    let mut other = Client::connect(&app, sp).await;
    other.join("devices").await;
    other.send(json!([48, 2, {}, "dev.flood"])).await;
    let next = id(&callee.expect(json!([68, "<id>", reg, {}])).await, 1);
    callee.send(json!([70, next, {}, ["ok"]])).await;
    exact(&mut other, json!([50, 2, {}, ["ok"]])).await;
    // The caller, reading at last, gets what was queued, then the end.
    let end = loop {
        let message = caller.recv().await.expect("a message");
        if message.as_list().and_then(|l| l[0].as_u64()) != Some(50) {
            break message;
        }
    };
    assert_eq!(
        end,
        value(&json!([
            8,
            48,
            1,
            {},
            "wamp.error.canceled",
            ["the callee's answers could not be delivered: it left, or the caller fell behind"]
        ]))
    );
}

/// Joins `realm` announcing the caller and callee features `features`.
async fn join_with(c: &mut Client, realm: &str, features: serde_json::Value) {
    c.send(json!([1, realm, {"roles": {"caller": {"features": features}, "callee": {"features": features}}}]))
        .await;
    c.expect(json!([2, "<id>", {"realm": realm}])).await;
}

#[tokio::test]
async fn progressive_call_invocations_reach_a_callee_in_chunks() {
    let app = app();
    let both = json!({"progressive_call_invocations": true, "call_canceling": true});
    for sp in SUBPROTOCOLS {
        let mut callee = Client::connect(&app, sp).await;
        join_with(&mut callee, "devices", both.clone()).await;
        callee.send(json!([64, 1, {}, "dev.upload"])).await;
        let reg = id(&callee.expect(json!([65, 1, "<id>"])).await, 2);
        let mut caller = Client::connect(&app, sp).await;
        join_with(&mut caller, "devices", both.clone()).await;
        caller
            .send(json!([48, 5, {"progress": true}, "dev.upload", ["a"]]))
            .await;
        let first = callee.expect(json!([68, "<id>", reg, {}, ["a"]])).await;
        let inv = id(&first, 1);
        assert_eq!(
            first,
            value(&json!([68, inv, reg, {"progress": true}, ["a"]]))
        );
        caller
            .send(json!([48, 5, {"progress": true}, "dev.upload", ["b"]]))
            .await;
        exact(
            &mut callee,
            json!([68, inv, reg, {"progress": true}, ["b"]]),
        )
        .await;
        caller.send(json!([48, 5, {}, "dev.upload", ["c"]])).await;
        exact(&mut callee, json!([68, inv, reg, {}, ["c"]])).await;
        // A chunk after the last is discarded while the call runs...
        caller
            .send(json!([48, 5, {"progress": true}, "dev.upload", ["late"]]))
            .await;
        callee.send(json!([70, inv, {}, ["abc"]])).await;
        exact(&mut caller, json!([50, 5, {}, ["abc"]])).await;
        // ... and once it has ended.
        caller
            .send(json!([48, 5, {}, "dev.upload", ["later"]]))
            .await;
        caller
            .send(json!([48, 6, {}, "dev.upload", ["next"]]))
            .await;
        let next = callee.expect(json!([68, "<id>", reg, {}, ["next"]])).await;
        callee.send(json!([70, id(&next, 1), {}, ["n"]])).await;
        exact(&mut caller, json!([50, 6, {}, ["n"]])).await;
        // Local routes and callees without the feature refuse chunks.
        caller
            .send(json!([48, 7, {"progress": true}, "local.echo", [1]]))
            .await;
        exact(
            &mut caller,
            json!([
                8,
                48,
                7,
                {},
                "wamp.error.feature_not_supported",
                ["\"local.echo\" does not take progressive call invocations"]
            ]),
        )
        .await;
        let mut plain = Client::connect(&app, sp).await;
        plain.join("devices").await;
        plain.send(json!([64, 1, {}, "dev.plain.upload"])).await;
        plain.expect(json!([65, 1, "<id>"])).await;
        caller
            .send(json!([48, 8, {"progress": true}, "dev.plain.upload", [1]]))
            .await;
        exact(
            &mut caller,
            json!([
                8,
                48,
                8,
                {},
                "wamp.error.feature_not_supported",
                ["the callee does not take progressive call invocations"]
            ]),
        )
        .await;
        // A caller that did not announce the feature breaks the protocol.
        let mut rude = Client::connect(&app, sp).await;
        rude.join("devices").await;
        rude.send(json!([48, 1, {"progress": true}, "dev.upload", [1]]))
            .await;
        exact(
            &mut rude,
            json!([3, {"message": "CALL with progress from a caller that did not announce progressive_call_invocations"}, "wamp.error.protocol_violation"]),
        )
        .await;
    }
}

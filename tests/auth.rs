//! Transcript tests of authentication and authorization, once per
//! serializer and batched variant.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use serde_json::json;
use serverwamp::auth::{Action, AuthAbort, Authenticated, Challenger, CraRequirement, NewSession};
use serverwamp::protocol::message::ChallengeExtra;
use serverwamp::protocol::{Dict, Value};
use serverwamp::rpc::{RpcResult, RpcRouteSet};
use serverwamp::{Application, Session};
use support::{Client, SUBPROTOCOLS};

#[derive(Clone, Debug, PartialEq)]
struct User(String);

async fn whoami(session: Session) -> RpcResult {
    RpcResult::new()
        .kwarg("authid", session.authid())
        .kwarg("authrole", session.authrole())
        .kwarg("authmethod", session.auth().authmethod.as_str())
        .kwarg("user", session.identity::<User>().map(|u| u.0.clone()))
}

fn app() -> (Application, Arc<AtomicUsize>) {
    let asked = Arc::new(AtomicUsize::new(0));
    let mut routes = RpcRouteSet::new();
    routes
        .route("whoami", whoami)
        .route("secret.plans", || async { "world domination" })
        .route("public.info", || async { "hello" });
    let mut app = Application::new();
    app.add_routes(routes);
    app.set_authentication_timeout(Duration::from_millis(300));
    app.realm("tickets")
        .set_ticket_authenticator(|s: NewSession, ticket: String| async move {
            (s.authid() == Some("alice") && ticket == "secret123").then(|| {
                Authenticated::new(User("alice".into()))
                    .authid("alice")
                    .authrole("admin")
            })
        });
    app.realm("cra").set_cra_handlers(
        |s: NewSession| async move {
            match s.authid()? {
                "bob" => Some(CraRequirement::new("bobsecret", "RegularUser", "demo_db")),
                "carol" => Some(
                    CraRequirement::new("carolsecret", "RegularUser", "demo_db")
                        .salted("salt123", 1000, 32),
                ),
                _ => None,
            }
        },
        |s: NewSession| async move { s.authid().map(|id| Authenticated::new(User(id.to_owned()))) },
    );
    app.realm("cookies")
        .add_transport_authenticator(|s: NewSession| async move {
            let name = s.transport().cookie("myName")?;
            (name == "Jeff").then(|| Authenticated::new(User(name.to_owned())))
        });
    app.realm("mixed")
        .add_transport_authenticator(|s: NewSession| async move {
            (s.transport().cookie("myName") == Some("Jeff"))
                .then(|| Authenticated::new(User("Jeff".into())))
        })
        .set_ticket_authenticator(|s: NewSession, ticket: String| async move {
            (s.authid() == Some("alice") && ticket == "secret123")
                .then(|| Authenticated::new(User("alice".into())).authid("alice"))
        });
    app.realm("custom")
        .set_auth_handler(|s: NewSession, mut challenger: Challenger| async move {
            match s.authid() {
                Some("panic") => panic!("an authenticator bug"),
                Some("banned") => Err(AuthAbort::new("app.error.banned", "you are banned")),
                _ => {
                    let extra = ChallengeExtra {
                        challenge: Some("what is 6 * 7?".into()),
                        ..ChallengeExtra::default()
                    };
                    let answer = challenger.challenge("x-quiz", extra).await?;
                    if answer.signature == "42" {
                        Ok(Authenticated::new(User("quizzer".into()))
                            .authid("quizzer")
                            .authrole("smart"))
                    } else {
                        Err(AuthAbort::failed())
                    }
                }
            }
        });
    let counter = asked.clone();
    app.realm("guarded").set_authorizer(
        move |_s: Session, action: Action, uri: String| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                !(action == Action::Call && uri.starts_with("secret."))
            }
        },
        true,
    );
    (app, asked)
}

async fn hello(c: &mut Client, realm: &str, authid: &str, methods: &[&str]) {
    c.send(json!([1, realm, {"roles": {"caller": {}}, "authid": authid, "authmethods": methods}]))
        .await;
}

const FAILED: &str = "wamp.error.authentication_failed";

#[tokio::test]
async fn ticket_authentication() {
    let (app, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        hello(&mut c, "tickets", "alice", &["ticket"]).await;
        c.expect(json!([4, "ticket", {}])).await;
        c.send(json!([5, "secret123", {}])).await;
        c.expect(json!([2, "<id>", {"authid": "alice", "authrole": "admin", "authmethod": "ticket", "authprovider": "static"}]))
            .await;
        c.send(json!([48, 1, {}, "whoami"])).await;
        c.expect(json!([50, 1, {}, [], {"authid": "alice", "authrole": "admin", "authmethod": "ticket", "user": "alice"}]))
            .await;

        let mut c = Client::connect(&app, sp).await;
        hello(&mut c, "tickets", "alice", &["ticket"]).await;
        c.expect(json!([4, "ticket", {}])).await;
        c.send(json!([5, "wrong", {}])).await;
        c.expect(json!([3, {"message": "authentication failed"}, FAILED]))
            .await;
        c.expect_closed().await;
    }
}

#[tokio::test]
async fn a_method_the_realm_does_not_offer_is_refused() {
    let (app, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        hello(&mut c, "tickets", "alice", &["wampcra", "anonymous"]).await;
        c.expect(json!([3, {"message": "this realm authenticates with \"ticket\""}, "wamp.error.no_matching_auth_method"]))
            .await;
        c.expect_closed().await;
    }
}

/// The WAMP-CRA signature as a client computes it.
fn sign(key: &[u8], challenge: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    mac.update(challenge.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn challenge_of(message: &Value) -> (String, Dict) {
    let extra = message.as_list().expect("a message")[2]
        .as_dict()
        .expect("CHALLENGE.Extra")
        .clone();
    let challenge = extra["challenge"]
        .as_str()
        .expect("a challenge string")
        .to_owned();
    (challenge, extra)
}

#[tokio::test]
async fn wampcra_with_a_plain_and_a_salted_secret() {
    let (app, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        hello(&mut c, "cra", "bob", &["wampcra"]).await;
        let (challenge, _) =
            challenge_of(&c.expect(json!([4, "wampcra", {"challenge": "*"}])).await);
        let fields: serde_json::Value =
            serde_json::from_str(&challenge).expect("the challenge is JSON");
        assert_eq!(fields["authid"], "bob");
        assert_eq!(fields["authrole"], "RegularUser");
        assert_eq!(fields["authmethod"], "wampcra");
        assert_eq!(fields["authprovider"], "demo_db");
        assert!(fields["nonce"].is_string() && fields["timestamp"].is_string());
        let session = fields["session"].as_u64().expect("the session ID");
        c.send(json!([5, sign(b"bobsecret", &challenge), {}])).await;
        c.expect(json!([2, session, {"authid": "bob", "authrole": "RegularUser", "authmethod": "wampcra", "authprovider": "demo_db"}]))
            .await;

        let mut c = Client::connect(&app, sp).await;
        hello(&mut c, "cra", "carol", &["wampcra"]).await;
        let (challenge, _) = challenge_of(
            &c.expect(json!([4, "wampcra", {"challenge": "*", "salt": "salt123", "iterations": 1000, "keylen": 32}]))
                .await,
        );
        let mut key = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(b"carolsecret", b"salt123", 1000, &mut key);
        // The HMAC key of a salted secret is the base64 text of the derived key.
        let key = base64::engine::general_purpose::STANDARD.encode(key);
        c.send(json!([5, sign(key.as_bytes(), &challenge), {}]))
            .await;
        c.expect(json!([2, "<id>", {"authid": "carol"}])).await;
    }
}

#[tokio::test]
async fn wampcra_failures_look_alike() {
    let (app, _) = app();
    for sp in SUBPROTOCOLS {
        // A wrong secret.
        let mut c = Client::connect(&app, sp).await;
        hello(&mut c, "cra", "bob", &["wampcra"]).await;
        let (challenge, _) =
            challenge_of(&c.expect(json!([4, "wampcra", {"challenge": "*"}])).await);
        c.send(json!([5, sign(b"guess", &challenge), {}])).await;
        c.expect(json!([3, {"message": "authentication failed"}, FAILED]))
            .await;
        // An unknown principal gets a challenge too, and the same answer.
        let mut c = Client::connect(&app, sp).await;
        hello(&mut c, "cra", "mallory", &["wampcra"]).await;
        let (challenge, _) =
            challenge_of(&c.expect(json!([4, "wampcra", {"challenge": "*"}])).await);
        c.send(json!([5, sign(b"guess", &challenge), {}])).await;
        c.expect(json!([3, {"message": "authentication failed"}, FAILED]))
            .await;
        // Garbage for a signature.
        let mut c = Client::connect(&app, sp).await;
        hello(&mut c, "cra", "bob", &["wampcra"]).await;
        c.expect(json!([4, "wampcra", "*"])).await;
        c.send(json!([5, "not base64 !!", {}])).await;
        c.expect(json!([3, {"message": "authentication failed"}, FAILED]))
            .await;
    }
}

#[tokio::test]
async fn transport_authenticators_read_cookies() {
    let (app, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect_with(&app, sp, &[("Cookie", "a=1; myName=Jeff")]).await;
        hello(&mut c, "cookies", "whoever", &[]).await;
        c.expect(json!([2, "<id>", {"authmethod": "transport"}]))
            .await;
        c.send(json!([48, 1, {}, "whoami"])).await;
        c.expect(json!([50, 1, {}, [], {"user": "Jeff"}])).await;

        let mut c = Client::connect_with(&app, sp, &[("Cookie", "myName=Jim")]).await;
        hello(&mut c, "cookies", "whoever", &[]).await;
        c.expect(json!([3, {"message": "authentication failed"}, FAILED]))
            .await;
    }
}

#[tokio::test]
async fn mixed_realms_fall_back_from_cookies_to_tickets() {
    let (app, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect_with(&app, sp, &[("Cookie", "myName=Jeff")]).await;
        hello(&mut c, "mixed", "alice", &["ticket"]).await;
        c.expect(json!([2, "<id>", {"authmethod": "transport"}]))
            .await;

        let mut c = Client::connect(&app, sp).await;
        hello(&mut c, "mixed", "alice", &["ticket"]).await;
        c.expect(json!([4, "ticket", {}])).await;
        c.send(json!([5, "secret123", {}])).await;
        c.expect(json!([2, "<id>", {"authid": "alice", "authmethod": "ticket"}]))
            .await;
    }
}

#[tokio::test]
async fn a_client_that_never_answers_is_closed() {
    let (app, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        hello(&mut c, "tickets", "alice", &["ticket"]).await;
        c.expect(json!([4, "ticket", {}])).await;
        c.expect(json!([3, {"message": "authentication timed out"}, FAILED]))
            .await;
        c.expect_closed().await;
    }
}

#[tokio::test]
async fn messages_out_of_place_in_authentication_are_protocol_violations() {
    let (app, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        c.join("realm1").await;
        c.send(json!([5, "ticket?", {}])).await;
        c.expect(json!([3, {"message": "AUTHENTICATE received without a pending CHALLENGE"}, "wamp.error.protocol_violation"]))
            .await;
        let mut c = Client::connect(&app, sp).await;
        hello(&mut c, "tickets", "alice", &["ticket"]).await;
        c.expect(json!([4, "ticket", {}])).await;
        c.send(json!([48, 1, {}, "whoami"])).await;
        c.expect(json!([3, {"message": "CALL received during authentication"}, "wamp.error.protocol_violation"]))
            .await;
        c.expect_closed().await;
    }
}

#[tokio::test]
async fn a_custom_handler_replaces_the_flow() {
    let (app, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        hello(&mut c, "custom", "anyone", &[]).await;
        c.expect(json!([4, "x-quiz", {"challenge": "what is 6 * 7?"}]))
            .await;
        c.send(json!([5, "42", {}])).await;
        c.expect(
            json!([2, "<id>", {"authid": "quizzer", "authrole": "smart", "authmethod": "custom"}]),
        )
        .await;

        let mut c = Client::connect(&app, sp).await;
        hello(&mut c, "custom", "banned", &[]).await;
        c.expect(json!([3, {"message": "you are banned"}, "app.error.banned"]))
            .await;

        let mut c = Client::connect(&app, sp).await;
        hello(&mut c, "custom", "panic", &[]).await;
        c.expect(json!([3, {"message": "authentication failed"}, FAILED]))
            .await;
        c.expect_closed().await;
    }
}

#[tokio::test]
async fn the_authorizer_is_asked_and_its_answers_cached() {
    let (app, asked) = app();
    for sp in SUBPROTOCOLS {
        let before = asked.load(Ordering::SeqCst);
        let mut c = Client::connect(&app, sp).await;
        c.join("guarded").await;
        c.send(json!([48, 1, {}, "secret.plans"])).await;
        c.expect(json!([
            8,
            48,
            1,
            {},
            "wamp.error.not_authorized",
            ["not authorized to call \"secret.plans\""]
        ]))
        .await;
        c.send(json!([48, 2, {}, "public.info"])).await;
        c.expect(json!([50, 2, {}, ["hello"]])).await;
        c.send(json!([48, 3, {}, "public.info"])).await;
        c.expect(json!([50, 3, {}, ["hello"]])).await;
        c.send(json!([32, 4, {}, "news"])).await;
        c.expect(json!([8, 32, 4, {}, "wamp.error.not_authorized", "*"]))
            .await;
        assert_eq!(
            asked.load(Ordering::SeqCst) - before,
            3,
            "[{sp}] one question per action and URI"
        );
    }
}

#[tokio::test]
async fn realms_without_authenticators_admit_anonymous_sessions() {
    let (app, _) = app();
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(&app, sp).await;
        hello(&mut c, "realm1", "someone", &["ticket"]).await;
        c.expect(json!([2, "<id>", {"authrole": "anonymous", "authmethod": "anonymous"}]))
            .await;
        c.send(json!([48, 1, {}, "whoami"])).await;
        c.expect(json!([50, 1, {}, [], {"user": null}])).await;
    }
}

/// The CHALLENGE.Extra and challenge fields of a WAMP-CRA HELLO for `authid`.
async fn cra_challenge(app: &Application, sp: &str, authid: &str) -> (serde_json::Value, Dict) {
    let mut c = Client::connect(app, sp).await;
    hello(&mut c, "cra", authid, &["wampcra"]).await;
    let (challenge, extra) = challenge_of(&c.expect(json!([4, "wampcra", "*"])).await);
    let fields = serde_json::from_str(&challenge).expect("the challenge is JSON");
    (fields, extra)
}

/// The parts of a WAMP-CRA challenge that would tell a known name from an
/// unknown one: every key, and the values that are not per-session.
fn cra_shape(
    fields: &serde_json::Value,
    extra: &Dict,
) -> (Vec<String>, Vec<String>, String, String) {
    let mut field_keys: Vec<String> = fields
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect();
    field_keys.sort();
    let mut extra_keys: Vec<String> = extra.keys().cloned().collect();
    extra_keys.sort();
    let role = fields["authrole"].as_str().expect("a role").to_owned();
    let provider = fields["authprovider"]
        .as_str()
        .expect("a provider")
        .to_owned();
    (field_keys, extra_keys, role, provider)
}

#[tokio::test]
async fn wampcra_challenges_for_unknown_authids_look_like_real_ones() {
    let (app, _) = app();
    let sp = "wamp.2.json";
    // After a plain principal: the same fields, role and provider.
    let (bob, bob_extra) = cra_challenge(&app, sp, "bob").await;
    let (mallory, mallory_extra) = cra_challenge(&app, sp, "mallory").await;
    assert_eq!(
        cra_shape(&bob, &bob_extra),
        cra_shape(&mallory, &mallory_extra)
    );
    assert_eq!(mallory["authid"], "mallory");
    // Once salted secrets are in use: salted, with the same parameters, a
    // salt of the same length that stays the same for the same name, and
    // differs between names.
    let (carol, carol_extra) = cra_challenge(&app, sp, "carol").await;
    let (mallory, mallory_extra) = cra_challenge(&app, sp, "mallory").await;
    assert_eq!(
        cra_shape(&carol, &carol_extra),
        cra_shape(&mallory, &mallory_extra)
    );
    assert_eq!(mallory_extra["iterations"], carol_extra["iterations"]);
    assert_eq!(mallory_extra["keylen"], carol_extra["keylen"]);
    let salt = mallory_extra["salt"].as_str().unwrap().to_owned();
    assert_eq!(salt.len(), "salt123".len());
    let (_, again) = cra_challenge(&app, sp, "mallory").await;
    assert_eq!(again["salt"].as_str(), Some(salt.as_str()));
    let (_, other) = cra_challenge(&app, sp, "trudy").await;
    assert_ne!(other["salt"].as_str(), Some(salt.as_str()));
}

#[tokio::test]
async fn an_authid_the_authenticator_did_not_vouch_for_is_not_kept() {
    let (app, _) = app();
    for sp in SUBPROTOCOLS {
        // Anonymous: the session ID, whatever HELLO claimed.
        let mut c = Client::connect(&app, sp).await;
        hello(&mut c, "realm1", "admin", &["anonymous"]).await;
        let welcome = c
            .expect(json!([2, "<id>", {"authmethod": "anonymous"}]))
            .await;
        let list = welcome.as_list().unwrap();
        let id = list[1].as_u64().unwrap();
        assert_eq!(
            list[2].as_dict().unwrap()["authid"],
            Value::from(id.to_string())
        );
        // A transport authenticator that names nobody: the session ID too.
        let mut c = Client::connect_with(&app, sp, &[("Cookie", "myName=Jeff")]).await;
        hello(&mut c, "cookies", "admin", &[]).await;
        let welcome = c
            .expect(json!([2, "<id>", {"authmethod": "transport"}]))
            .await;
        let list = welcome.as_list().unwrap();
        let id = list[1].as_u64().unwrap();
        assert_eq!(
            list[2].as_dict().unwrap()["authid"],
            Value::from(id.to_string())
        );
        // A ticket check that names the principal: that name.
        let mut c = Client::connect(&app, sp).await;
        hello(&mut c, "tickets", "alice", &["ticket"]).await;
        c.expect(json!([4, "ticket", {}])).await;
        c.send(json!([5, "secret123", {}])).await;
        c.expect(json!([2, "<id>", {"authid": "alice"}])).await;
        // WAMP-CRA proves the authid itself: it stays.
        let mut c = Client::connect(&app, sp).await;
        hello(&mut c, "cra", "bob", &["wampcra"]).await;
        let (challenge, _) = challenge_of(&c.expect(json!([4, "wampcra", "*"])).await);
        c.send(json!([5, sign(b"bobsecret", &challenge), {}])).await;
        c.expect(json!([2, "<id>", {"authid": "bob"}])).await;
    }
}

#[tokio::test]
async fn realms_inherit_the_applications_authentication_and_authorizer() {
    let mut routes = RpcRouteSet::new();
    routes
        .route("whoami", whoami)
        .route("secret.plans", || async { "world domination" });
    let mut app = Application::new();
    app.add_routes(routes.clone());
    app.set_ticket_authenticator(|_s: NewSession, ticket: String| async move {
        (ticket == "secret123").then(|| Authenticated::new(User("alice".into())).authid("alice"))
    });
    app.set_authorizer(
        |_s: Session, action: Action, uri: String| async move {
            !(action == Action::Call && uri.starts_with("secret."))
        },
        false,
    );
    // Adding routes to a realm keeps the application's authentication and
    // authorizer.
    app.realm("admin").add_routes(RpcRouteSet::new());
    // A realm that sets its own authentication replaces the application's.
    app.realm("cookies")
        .add_transport_authenticator(|s: NewSession| async move {
            (s.transport().cookie("myName") == Some("Jeff"))
                .then(|| Authenticated::new(User("Jeff".into())).authid("Jeff"))
        });
    // Anonymous on purpose, and with an authorizer of its own.
    app.realm("lobby")
        .allow_anonymous()
        .set_authorizer(|_s: Session, _a: Action, _u: String| async { true }, false);
    for sp in SUBPROTOCOLS {
        for realm in ["admin", "some.other.realm"] {
            let mut c = Client::connect(&app, sp).await;
            hello(&mut c, realm, "alice", &["ticket", "anonymous"]).await;
            c.expect(json!([4, "ticket", {}])).await;
            c.send(json!([5, "secret123", {}])).await;
            c.expect(json!([2, "<id>", {"authid": "alice", "authmethod": "ticket"}]))
                .await;
            c.send(json!([48, 1, {}, "secret.plans"])).await;
            c.expect(json!([8, 48, 1, {}, "wamp.error.not_authorized", "*"]))
                .await;
        }
        let mut c = Client::connect_with(&app, sp, &[("Cookie", "myName=Jeff")]).await;
        hello(&mut c, "cookies", "x", &["ticket"]).await;
        c.expect(json!([2, "<id>", {"authid": "Jeff", "authmethod": "transport"}]))
            .await;
        // ... and keeps the application's authorizer.
        c.send(json!([48, 1, {}, "secret.plans"])).await;
        c.expect(json!([8, 48, 1, {}, "wamp.error.not_authorized", "*"]))
            .await;
        let mut c = Client::connect(&app, sp).await;
        hello(&mut c, "lobby", "x", &["anonymous"]).await;
        c.expect(json!([2, "<id>", {"authmethod": "anonymous"}]))
            .await;
        c.send(json!([48, 1, {}, "secret.plans"])).await;
        c.expect(json!([50, 1, {}, ["world domination"]])).await;
    }
}

//! Realms made on demand by the realm factory: made at HELLO, shared by
//! their sessions, torn down when the last one leaves, made anew after.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use serverwamp::rpc::RpcRouteSet;
use serverwamp::{Application, Realm};
use support::{Client, SUBPROTOCOLS};

#[derive(Default)]
struct Counts {
    made: AtomicUsize,
    torn_down: AtomicUsize,
}

fn app(counts: &Arc<Counts>, default_realm: bool) -> Application {
    let mut app = Application::new();
    if !default_realm {
        app.disable_default_realm();
    }
    let counts = counts.clone();
    app.set_realm_factory(move |name: &str| {
        let tenant = name.strip_prefix("tenant.")?.to_owned();
        counts.made.fetch_add(1, Ordering::SeqCst);
        let mut routes = RpcRouteSet::new();
        routes.route("tenant.name", move || std::future::ready(tenant.clone()));
        let counts = counts.clone();
        let mut realm = Realm::new();
        realm.add_routes(routes);
        realm.on_teardown(move |_| {
            counts.torn_down.fetch_add(1, Ordering::SeqCst);
        });
        Some(realm)
    });
    app
}

/// Waits (briefly) until `check` holds: a session ends just after its
/// GOODBYE is answered.
async fn eventually(check: impl Fn() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(check(), "the condition never held");
}

async fn leave(client: &mut Client) {
    client.send(json!([6, {}, "wamp.close.close_realm"])).await;
    client
        .expect(json!([6, {}, "wamp.close.goodbye_and_out"]))
        .await;
}

#[tokio::test]
async fn a_tenant_realm_lives_while_it_has_sessions() {
    for subprotocol in SUBPROTOCOLS {
        let counts = Arc::new(Counts::default());
        let app = app(&counts, false);

        let mut first = Client::connect(&app, subprotocol).await;
        first.join("tenant.acme").await;
        first.send(json!([48, 1, {}, "tenant.name"])).await;
        first.expect(json!([50, 1, {}, ["acme"]])).await;
        let mut second = Client::connect(&app, subprotocol).await;
        second.join("tenant.acme").await;
        // Shared: the factory ran once.
        assert_eq!(counts.made.load(Ordering::SeqCst), 1);
        assert_eq!(app.dynamic_realm_count(), 1);

        // Another tenant has its own realm and procedure.
        let mut other = Client::connect(&app, subprotocol).await;
        other.join("tenant.globex").await;
        other.send(json!([48, 2, {}, "tenant.name"])).await;
        other.expect(json!([50, 2, {}, ["globex"]])).await;
        assert_eq!(counts.made.load(Ordering::SeqCst), 2);

        leave(&mut first).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            counts.torn_down.load(Ordering::SeqCst),
            0,
            "one session left"
        );
        leave(&mut second).await;
        eventually(|| counts.torn_down.load(Ordering::SeqCst) == 1).await;
        assert_eq!(app.dynamic_realm_count(), 1, "globex is still in use");

        // A later HELLO makes it anew, on the same connection too.
        first.join("tenant.acme").await;
        assert_eq!(counts.made.load(Ordering::SeqCst), 3);
        first.send(json!([48, 3, {}, "tenant.name"])).await;
        first.expect(json!([50, 3, {}, ["acme"]])).await;

        drop(other);
        eventually(|| counts.torn_down.load(Ordering::SeqCst) == 2).await;
        leave(&mut first).await;
        eventually(|| counts.torn_down.load(Ordering::SeqCst) == 3).await;
        assert_eq!(app.dynamic_realm_count(), 0);
    }
}

#[tokio::test]
async fn names_the_factory_declines_fall_back() {
    let counts = Arc::new(Counts::default());
    // Without the default realm: ABORT no_such_realm.
    let app_strict = app(&counts, false);
    let mut client = Client::connect(&app_strict, "wamp.2.json").await;
    client
        .send(json!([1, "somewhere", {"roles": {"caller": {}}}]))
        .await;
    client
        .expect(json!([3, {}, "wamp.error.no_such_realm"]))
        .await;
    // With it: the default realm, without the tenant's procedure.
    let app_open = app(&counts, true);
    let mut client = Client::connect(&app_open, "wamp.2.json").await;
    client.join("somewhere").await;
    client.send(json!([48, 1, {}, "tenant.name"])).await;
    client
        .expect(json!([8, 48, 1, {}, "wamp.error.no_such_procedure", "*"]))
        .await;
    assert_eq!(counts.made.load(Ordering::SeqCst), 0);
    // A configured realm is never asked of the factory.
    let mut configured = app(&counts, false);
    configured.realm("tenant.fixed");
    let mut client = Client::connect(&configured, "wamp.2.json").await;
    client.join("tenant.fixed").await;
    assert_eq!(counts.made.load(Ordering::SeqCst), 0);
}

//! Keepalive: peers that answer pings stay, peers that fall silent go, and
//! their sessions are cleaned up at once.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use serverwamp::Application;
use serverwamp::rpc::RpcRouteSet;
use support::{Client, SUBPROTOCOLS};

fn app(closed: &Arc<AtomicUsize>) -> Application {
    let mut routes = RpcRouteSet::new();
    routes.route("ping", || async { "pong" });
    let mut app = Application::new();
    app.add_routes(routes);
    app.set_keepalive(Duration::from_millis(50), Duration::from_millis(250));
    let closed = closed.clone();
    app.add_session_close_handler(move || {
        let closed = closed.clone();
        async move {
            closed.fetch_add(1, Ordering::SeqCst);
        }
    });
    app
}

/// On every subprotocol: joins, CALLs `ping` every 50 ms for 600 ms (well
/// over the 250 ms silence timeout), reading each answer as it comes (which
/// answers the server's pings too) or only at the end (so no ping is ever
/// answered); checks that the session is still open, then says GOODBYE.
async fn keep_calling(app: &Application, read_as_it_goes: bool) {
    for sp in SUBPROTOCOLS {
        let mut c = Client::connect(app, sp).await;
        c.join("realm1").await;
        for request in 1..=12u64 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            c.send(json!([48, request, {}, "ping"])).await;
            if read_as_it_goes {
                c.expect(json!([50, request, {}, ["pong"]])).await;
            }
        }
        assert_eq!(app.session_count(), 1, "[{sp}] still open after 600 ms");
        if !read_as_it_goes {
            // The answers all came, in order, behind the unanswered pings.
            for request in 1..=12u64 {
                c.expect(json!([50, request, {}, ["pong"]])).await;
            }
        }
        c.send(json!([6, {}, "wamp.close.normal"])).await;
        c.expect(json!([6, {}, "wamp.close.goodbye_and_out"])).await;
    }
}

#[tokio::test]
async fn a_peer_that_answers_pings_stays() {
    let closed = Arc::new(AtomicUsize::new(0));
    keep_calling(&app(&closed), true).await;
}

/// Any frame counts as being heard from, not only a pong: a peer that
/// keeps sending but never reads (so never answers a ping) stays.
#[tokio::test]
async fn a_peer_that_sends_without_reading_stays() {
    let closed = Arc::new(AtomicUsize::new(0));
    keep_calling(&app(&closed), false).await;
    assert_eq!(closed.load(Ordering::SeqCst), SUBPROTOCOLS.len());
}

#[tokio::test]
async fn a_silent_peer_is_closed_and_its_session_cleaned_up() {
    let closed = Arc::new(AtomicUsize::new(0));
    let app = app(&closed);
    for (n, sp) in SUBPROTOCOLS.iter().enumerate() {
        let c = Client::connect(&app, sp).await;
        let mut c = c;
        c.join("realm1").await;
        assert_eq!(app.session_count(), 1);
        // The client reads nothing, so it never answers a ping.
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(app.session_count(), 0, "[{sp}] the silent session ended");
        assert_eq!(
            closed.load(Ordering::SeqCst),
            n + 1,
            "[{sp}] its close handler ran"
        );
        drop(c);
    }
}

/// The connection handles a waiting frame before its timers, so a peer
/// that never stops sending must not keep it from its deadlines: here the
/// server says GOODBYE and the client, instead of answering, floods CALLs,
/// which a closing session ignores. The GOODBYE deadline (5 s) still ends
/// the connection.
#[tokio::test]
async fn a_peer_that_never_stops_sending_still_meets_the_goodbye_deadline() {
    let closed = Arc::new(AtomicUsize::new(0));
    let app = app(&closed);
    let mut c = Client::connect(&app, "wamp.2.json").await;
    c.join("realm1").await;
    let closing = {
        let app = app.clone();
        tokio::spawn(async move { app.close_sessions(Duration::from_secs(30)).await })
    };
    let started = tokio::time::Instant::now();
    let flood = async {
        let mut request = 1u64;
        while c.try_send(json!([48, request, {}, "ping"])).await {
            request += 1;
        }
        request
    };
    let sent = tokio::time::timeout(Duration::from_secs(20), flood)
        .await
        .expect("the server closed the connection");
    let took = started.elapsed();
    assert!(sent > 100, "the client kept sending ({sent} CALLs)");
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(10),
        "closed after {took:?}"
    );
    closing.await.unwrap();
    assert_eq!(app.session_count(), 0);
    assert_eq!(closed.load(Ordering::SeqCst), 1);
}

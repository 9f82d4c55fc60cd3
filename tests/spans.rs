//! The `tracing` spans: a `session` span per connection with the realm,
//! session ID and authid, and a `call` span per call, its child, with the
//! procedure and request ID.

mod support;

use std::sync::{Arc, Mutex};

use serde_json::json;
use serverwamp::Application;
use serverwamp::rpc::RpcRouteSet;
use support::Client;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// What the spans recorded: (span name, field, value), and each event with
/// the names of the spans it was in.
#[derive(Clone, Default)]
struct Captured {
    fields: Arc<Mutex<Vec<(String, String, String)>>>,
    events: Arc<Mutex<Vec<Vec<String>>>>,
}

struct Fields<'a>(&'a str, &'a Mutex<Vec<(String, String, String)>>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.1.lock().expect("lock").push((
            self.0.to_owned(),
            field.name().to_owned(),
            format!("{value:?}"),
        ));
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Captured {
    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        attrs.record(&mut Fields(attrs.metadata().name(), &self.fields));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            values.record(&mut Fields(span.name(), &self.fields));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != "handler" {
            return;
        }
        let scope = ctx
            .event_scope(event)
            .map(|scope| scope.from_root().map(|s| s.name().to_owned()).collect())
            .unwrap_or_default();
        self.events.lock().expect("lock").push(scope);
    }
}

#[tokio::test]
async fn sessions_and_calls_have_spans() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::registry().with(captured.clone());
    let _default = tracing::subscriber::set_default(subscriber);

    let mut routes = RpcRouteSet::new();
    routes.route("math.add", || async {
        tracing::info!(target: "handler", "adding");
        3
    });
    let mut app = Application::new();
    app.add_routes(routes);
    let mut client = Client::connect(&app, "wamp.2.json").await;
    let session = client.join("realm1").await;
    client.send(json!([48, 7, {}, "math.add"])).await;
    client.expect(json!([50, 7, {}, [3]])).await;

    let fields = captured.fields.lock().expect("lock").clone();
    let has = |span: &str, field: &str, value: &str| {
        fields
            .iter()
            .any(|(s, f, v)| s == span && f == field && v == value)
    };
    assert!(has("session", "realm", "\"realm1\""), "{fields:?}");
    assert!(
        has("session", "session", &session.to_string()),
        "{fields:?}"
    );
    assert!(
        has("session", "authid", &format!("\"{session}\"")),
        "{fields:?}"
    );
    assert!(has("call", "procedure", "math.add"), "{fields:?}");
    assert!(has("call", "request", "7"), "{fields:?}");
    let events = captured.events.lock().expect("lock").clone();
    assert_eq!(events, vec![vec!["session".to_owned(), "call".to_owned()]]);
}

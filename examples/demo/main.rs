//! The serverwamp demo app: every feature of the library at once, with the
//! behaviour fixed by the project's demo contract.
//!
//! ```text
//! cargo run --release --example demo -- --listen 127.0.0.1:8080 [--rawsocket 127.0.0.1:8081]
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use clap::Parser;
use serde::{Deserialize, Serialize};
use serverwamp::auth::{Authenticated, CraRequirement, NewSession, ScramKdf, ScramRequirement};
use serverwamp::protocol::{Dict, Value};
use serverwamp::pubsub::{Teardown, Topic, TopicRouteSet};
use serverwamp::rpc::{
    Args, Kwargs, Params, Progressive, ProgressiveItem, Request, RpcResult, RpcRouteSet, State,
    WampError,
};
use serverwamp::transport::listener::{ServeOptions, Server};
use serverwamp::{Application, Session};

/// Command line of the demo.
#[derive(Parser, Debug)]
#[command(about = "The serverwamp demo WAMP application")]
struct Options {
    /// Address to serve HTTP and WebSocket (`/ws`) on; port 0 picks one.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Refuse realms that are not configured (ABORT wamp.error.no_such_realm).
    #[arg(long)]
    no_default_realm: bool,
    /// Also serve WAMP over RawSocket on this TCP address; port 0 picks one.
    #[arg(long, value_name = "ADDR")]
    rawsocket: Option<SocketAddr>,
    /// Join a cluster of demo nodes on this NATS server (`nats://host:port`;
    /// needs the `nats` feature).
    #[arg(long, value_name = "URL", conflicts_with = "redis")]
    nats: Option<String>,
    /// Join a cluster of demo nodes on this Redis server
    /// (`redis://host:port/`; needs the `redis` feature).
    #[arg(long, value_name = "URL")]
    redis: Option<String>,
}

/// The application as finally configured, for handlers that ask about the
/// cluster (set once the backplane is in place).
#[derive(Clone, Default)]
struct Cluster(Arc<std::sync::OnceLock<Application>>);

/// Tenant realms (`tenant.<name>`, beyond the contract) torn down so far,
/// counted by their teardown.
#[derive(Clone, Default)]
struct Tenants(Arc<std::sync::atomic::AtomicU64>);

/// The count of open sessions, kept by session open/close handlers.
#[derive(Clone, Default)]
struct ActiveSessions(Arc<AtomicUsize>);

#[derive(Deserialize)]
struct AddParams {
    number1: f64,
    number2: f64,
}

async fn add(Params(p): Params<AddParams>) -> f64 {
    p.number1 + p.number2
}

async fn ingredients() -> Vec<&'static str> {
    vec!["Peanut Butter", "Jelly", "Bread"]
}

async fn zodiac() -> RpcResult {
    RpcResult::new()
        .kwarg("gregorianYear", 2020)
        .kwarg("生肖", "鼠")
}

async fn playlist() -> RpcResult {
    RpcResult::new()
        .arg("Rock & Roll")
        .arg("Blues")
        .arg("Jazz")
        .kwarg("playlistLength", 6432)
        .kwarg("playlistSubscribers", 51)
}

#[derive(Deserialize)]
struct CheckParams {
    value: Value,
}

async fn check_input(Params(p): Params<CheckParams>) -> Result<Value, WampError> {
    match p.value {
        number @ (Value::Int(_) | Value::UInt(_) | Value::Float(_)) => Ok(number),
        _ => Err(WampError::new("demo.error.bad_input")
            .kwarg("errorCode", "BAD_INPUT")
            .kwarg(
                "errorMessage",
                "You should have supplied a number instead of a string.",
            )),
    }
}

#[derive(Deserialize)]
struct CountdownParams {
    #[serde(default = "one_second")]
    interval: f64,
}

fn one_second() -> f64 {
    1.0
}

async fn countdown(
    Params(p): Params<CountdownParams>,
) -> Result<Progressive<impl futures_util::Stream<Item = ProgressiveItem> + Send>, WampError> {
    let interval = Duration::try_from_secs_f64(p.interval).map_err(|_| {
        WampError::invalid_argument("interval must be a non-negative number of seconds")
    })?;
    Ok(Progressive(async_stream::stream! {
        for time_left in [3, 2, 1] {
            yield ProgressiveItem::Progress(RpcResult::new().kwarg("timeLeft", time_left));
            tokio::time::sleep(interval).await;
        }
        yield ProgressiveItem::Result(RpcResult::new().kwarg("liftoffStatus", "SUCCESS"));
    }))
}

/// Who a demo session is, as its authenticator says.
#[derive(Clone, Serialize)]
struct DemoIdentity {
    name: String,
}

/// The identity of `name`, who is also the session's authid (an
/// authenticator vouches for the authid it sets; one it leaves unset
/// becomes the session ID, never the name a client claimed in HELLO).
fn identity(name: &str) -> Authenticated {
    Authenticated::new(DemoIdentity {
        name: name.to_owned(),
    })
    .authid(name)
}

/// `tickets` and `mixed`: alice with ticket secret123.
async fn check_ticket(session: NewSession, ticket: String) -> Option<Authenticated> {
    (session.authid() == Some("alice") && ticket == "secret123").then(|| identity("alice"))
}

/// `cra`: bob's plain secret and carol's salted one.
async fn cra_requirement(session: NewSession) -> Option<CraRequirement> {
    match session.authid()? {
        "bob" => Some(CraRequirement::new("bobsecret", "RegularUser", "demo_db")),
        "carol" => Some(
            CraRequirement::new("carolsecret", "RegularUser", "demo_db")
                .salted("salt123", 1000, 32),
        ),
        _ => None,
    }
}

async fn cra_identity(session: NewSession) -> Option<Authenticated> {
    session.authid().map(identity)
}

/// `scram` (beyond the contract): dave, password davesecret, Argon2id.
async fn scram_requirement(session: NewSession) -> Option<ScramRequirement> {
    (session.authid()? == "dave").then(|| ScramRequirement {
        password: "davesecret".to_owned(),
        salt: b"serverwamp-demo!".to_vec(),
        kdf: ScramKdf::Argon2id13 {
            memory_kib: 1024,
            iterations: 2,
        },
        authrole: "RegularUser".to_owned(),
        authprovider: "demo_db".to_owned(),
    })
}

/// The public key of `erin` in the `cryptosign` realm (beyond the contract).
/// Its private seed, for clients of the demo, is
/// e5b1d6b7c2a9f0e3d4c5b6a7980112233445566778899aabbccddeeff0011223.
const ERIN_PUBLIC_KEY: &str = "47e034885aa937f5448cdefe72d68a03774d6c148cfea46e374725cbd096ed36";

async fn cryptosign_principal(_session: NewSession, public_key: String) -> Option<Authenticated> {
    (public_key == ERIN_PUBLIC_KEY).then(|| identity("erin"))
}

/// `cookies` and `mixed`: the cookie myName=Jeff.
async fn cookie_authenticator(session: NewSession) -> Option<Authenticated> {
    let name = session.transport().cookie("myName")?;
    (name == "Jeff").then(|| identity(name))
}

async fn whoami(session: Session) -> RpcResult {
    let identity = session
        .identity::<DemoIdentity>()
        .and_then(|i| serverwamp::protocol::value::to_value(i).ok())
        .unwrap_or(Value::Null);
    RpcResult::new()
        .kwarg("session", session.id().get())
        .kwarg("realm", session.realm())
        .kwarg("authid", session.authid())
        .kwarg("authrole", session.authrole())
        .kwarg("authmethod", session.auth().authmethod.as_str())
        .kwarg("identity", identity)
        .kwarg(
            "peer_address",
            session.transport().peer_address().to_string(),
        )
}

/// The name stored by `session.set_name`.
#[derive(Clone)]
struct Name(String);

#[derive(Deserialize)]
struct NameParams {
    name: String,
}

async fn set_name(session: Session, Params(p): Params<NameParams>) {
    session.insert_data(Name(p.name));
}

async fn get_name(session: Session) -> Option<String> {
    session.data::<Name>().map(|n| n.0)
}

async fn stats(State(active): State<ActiveSessions>) -> RpcResult {
    RpcResult::new().kwarg("activeSessions", active.0.load(Ordering::SeqCst) as u64)
}

/// `cluster.stats` (beyond the contract): the nodes of the cluster and the
/// open sessions of the caller's realm on all of them.
async fn cluster_stats(session: Session, State(cluster): State<Cluster>) -> RpcResult {
    let (nodes, sessions) = match cluster.0.get() {
        Some(app) => (
            app.cluster_node_count(),
            app.cluster_session_count(session.realm()),
        ),
        None => (1, 0),
    };
    RpcResult::new()
        .kwarg("nodes", nodes as u64)
        .kwarg("sessions", sessions as u64)
}

async fn fail() -> i32 {
    panic!("app.fail fails on purpose")
}

#[derive(Deserialize)]
struct SlowParams {
    delay: f64,
}

async fn slow(Params(p): Params<SlowParams>) -> Result<f64, WampError> {
    let delay = Duration::try_from_secs_f64(p.delay).map_err(|_| {
        WampError::invalid_argument("delay must be a non-negative number of seconds")
    })?;
    tokio::time::sleep(delay).await;
    Ok(p.delay)
}

async fn echo(Args(args): Args<Vec<Value>>, Kwargs(kwargs): Kwargs<Dict>) -> RpcResult {
    RpcResult { args, kwargs }
}

/// The sessions subscribed to `hourly_updates`, kept by its subscribe
/// handler and teardown (the Python serverwamp library's `UpdatesWorker`).
#[derive(Clone, Default)]
struct UpdateList(Arc<std::sync::Mutex<std::collections::HashSet<u64>>>);

async fn join_updates(session: Session, State(list): State<UpdateList>) -> Teardown {
    let id = session.id().get();
    list.0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(id);
    Teardown::new(move || async move {
        list.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&id);
    })
}

async fn thank_subscriber(session: Session, topic: Topic) {
    session.send_event(
        topic.uri(),
        vec!["Thanks for subscribing!".into()],
        Dict::new(),
    );
}

async fn refuse_private() -> Result<(), WampError> {
    Err(WampError::new("wamp.error.not_authorized")
        .arg("private topics are not open to subscribers"))
}

#[derive(Deserialize)]
struct MessageParams {
    message: Value,
}

async fn publish_update(session: Session, Params(p): Params<MessageParams>) -> u64 {
    let report = session.publish("hourly_updates", vec![p.message], Dict::new());
    report.delivered as u64
}

#[derive(Deserialize)]
struct FanoutParams {
    count: u64,
    payload: Value,
}

/// Waits for room in the subscribers' outbound queues, so a subscriber that
/// reads gets the whole burst, in order.
async fn fanout(session: Session, Params(p): Params<FanoutParams>) -> u64 {
    let mut delivered = 0;
    for i in 0..p.count {
        let report = session
            .publish_wait(
                "bench.events",
                vec![i.into(), p.payload.clone()],
                Dict::new(),
            )
            .await;
        delivered += report.delivered as u64;
    }
    delivered
}

/// The `custom` realm's handler: answers every procedure itself.
async fn add_stuff(
    request: Request,
    Args(args): Args<Vec<Value>>,
) -> Progressive<impl futures_util::Stream<Item = ProgressiveItem> + Send> {
    let procedure = request.procedure().to_owned();
    Progressive(async_stream::stream! {
        if procedure != "add_stuff" {
            yield ProgressiveItem::Error(WampError::new("wamp.error.no_such_procedure"));
            return;
        }
        let mut sum = 0.0;
        for arg in &args {
            let Some(n) = arg.as_f64().filter(|_| !matches!(arg, Value::Bool(_))) else {
                yield ProgressiveItem::Error(WampError::new("wamp.error.invalid_argument").arg("Numbers only!"));
                return;
            };
            sum += n;
            yield ProgressiveItem::Progress(RpcResult::new().arg(format!("Added {arg}")));
        }
        yield ProgressiveItem::Result(RpcResult::new().arg(sum));
    })
}

/// `open.ask(procedure, *args)`: calls `procedure` as the calling session
/// (a procedure another client registered, or a local route) and answers
/// with its result.
async fn ask(
    session: Session,
    Args(args): Args<Vec<Value>>,
    Kwargs(kwargs): Kwargs<Dict>,
) -> Result<RpcResult, WampError> {
    let mut args = args.into_iter();
    let Some(Value::Str(procedure)) = args.next() else {
        return Err(WampError::invalid_argument(
            "the first argument names the procedure to call",
        ));
    };
    session.call(&procedure, args.collect(), kwargs).await
}

/// `tenant.info` (beyond the contract, in `tenant.<name>` realms): the
/// tenant's name and the open sessions of its realm on this node.
async fn tenant_info(session: Session, State(cluster): State<Cluster>) -> RpcResult {
    let tenant = session
        .realm()
        .strip_prefix("tenant.")
        .unwrap_or_default()
        .to_owned();
    let sessions = cluster.0.get().map_or(0, |app| {
        app.sessions()
            .iter()
            .filter(|s| s.realm() == session.realm())
            .count()
    });
    RpcResult::new()
        .kwarg("tenant", tenant)
        .kwarg("sessions", sessions as u64)
}

/// Whether `name` is a tenant's name: 1 to 64 ASCII letters, digits, `-`
/// or `_`.
fn is_tenant_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The realm factory (beyond the contract): `tenant.<name>` realms, made
/// at their first HELLO with the procedure `tenant.info` beside the
/// contract's, and torn down when their last session leaves. Every other
/// name falls back to the default realm, as the contract says.
fn tenant_realm(name: &str, tenants: &Tenants) -> Option<serverwamp::Realm> {
    if !is_tenant_name(name.strip_prefix("tenant.")?) {
        return None;
    }
    let mut routes = RpcRouteSet::new();
    routes.route("tenant.info", tenant_info);
    let mut realm = serverwamp::Realm::new();
    realm.add_routes(routes);
    let torn_down = tenants.clone();
    realm.on_teardown(move |name| {
        torn_down.0.fetch_add(1, Ordering::SeqCst);
        tracing::info!(realm = name, "tenant realm torn down");
    });
    Some(realm)
}

fn application(no_default_realm: bool, cluster: &Cluster, tenants: &Tenants) -> Application {
    let mut routes = RpcRouteSet::new();
    routes
        .route("math.add", add)
        .route("sandwich.ingredients", ingredients)
        .route("calendar.zodiac", zodiac)
        .route("music.playlist", playlist)
        .route("input.check", check_input)
        .route("countdown.liftoff", countdown)
        .route("session.whoami", whoami)
        .route("session.set_name", set_name)
        .route("session.get_name", get_name)
        .route("app.stats", stats)
        .route("cluster.stats", cluster_stats)
        .route("app.fail", fail)
        .route("app.slow", slow)
        .route("bench.echo", echo)
        .route("updates.publish", publish_update)
        .route("bench.fanout", fanout);

    let mut topics = TopicRouteSet::new();
    topics
        .subscribe("hourly_updates", join_updates)
        .subscribe("docs.changes", thank_subscriber)
        .subscribe("bench.events", || async {})
        .subscribe_prefix("private", refuse_private);

    let mut app = Application::new();
    app.add_routes(routes);
    app.add_topics(topics);
    app.set_state(ActiveSessions::default());
    app.set_state(UpdateList::default());
    app.set_state(cluster.clone());
    app.add_session_open_handler(|State(active): State<ActiveSessions>| async move {
        active.0.fetch_add(1, Ordering::SeqCst);
    });
    app.add_session_close_handler(|State(active): State<ActiveSessions>| async move {
        active.0.fetch_sub(1, Ordering::SeqCst);
    });
    app.realm("custom").set_rpc_handler(add_stuff);
    app.realm("tickets").set_ticket_authenticator(check_ticket);
    app.realm("cra")
        .set_cra_handlers(cra_requirement, cra_identity);
    app.realm("cookies")
        .add_transport_authenticator(cookie_authenticator);
    app.realm("scram")
        .set_scram_handlers(scram_requirement, cra_identity);
    app.realm("cryptosign")
        .set_cryptosign_authenticator(cryptosign_principal);
    app.realm("mixed")
        .add_transport_authenticator(cookie_authenticator)
        .set_ticket_authenticator(check_ticket);
    // Beyond the contract: a realm where clients publish to each other and
    // register procedures that the others (and `open.ask`, through
    // `Session::call`) call, to show (and test) the open-broker and dealer
    // features, with the WAMP meta API (sessions, subscriptions,
    // registrations, testaments), which tells every client of the realm about the others:
    // fine for a demo realm, not for a realm of strangers without an
    // authorizer. Local routes win, so the contract's procedures answer
    // here as everywhere.
    let mut open_routes = RpcRouteSet::new();
    open_routes.route("open.ask", ask);
    app.realm("open")
        .set_open_broker(true)
        .enable_meta_api()
        .set_client_callees(true)
        .add_routes(open_routes);
    let tenants = tenants.clone();
    app.set_realm_factory(move |name: &str| tenant_realm(name, &tenants));
    if no_default_realm {
        app.disable_default_realm();
    }
    app
}

/// The browser demo page (`GET /`): one self-contained HTML file with a
/// small WAMP client in plain JavaScript that talks to `/ws` on the same host.
async fn page() -> axum::response::Html<&'static str> {
    axum::response::Html(include_str!("page.html"))
}

/// `GET /stats` (beyond the contract): open sessions, live tokio tasks and
/// what the connections ran into, as JSON, for the soak scripts; the tenant
/// realms in use and torn down so far.
async fn http_stats(app: Application, tenants: Tenants) -> axum::response::Response {
    let hit = app.stats();
    let body = serde_json::json!({
        "sessions": app.session_count(),
        "tasks": tokio::runtime::Handle::current().metrics().num_alive_tasks(),
        "hello_timeouts": hit.hello_timeouts,
        "idle_timeouts": hit.idle_timeouts,
        "keepalive_timeouts": hit.keepalive_timeouts,
        "refused": hit.refused,
        "tenant_realms": app.dynamic_realm_count(),
        "tenant_realms_torn_down": tenants.0.load(Ordering::SeqCst),
    });
    axum::response::IntoResponse::into_response((
        [(http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    ))
}

/// `GET /metrics` (beyond the contract): the library's metrics (built with
/// the `metrics` feature) in Prometheus' text format, rendered from the
/// recorder installed at start; no listener of the exporter's own. The
/// outbound queues' gauges are sampled first.
async fn http_metrics(
    app: Application,
    handle: metrics_exporter_prometheus::PrometheusHandle,
) -> axum::response::Response {
    app.outbound_queues();
    axum::response::IntoResponse::into_response((
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    ))
}

/// Joins the cluster the command line names, if any.
async fn join_cluster(app: &mut Application, options: &Options) -> std::io::Result<()> {
    if let Some(url) = &options.nats {
        join_nats(app, url).await?;
    }
    if let Some(url) = &options.redis {
        join_redis(app, url).await?;
    }
    Ok(())
}

#[cfg(feature = "nats")]
async fn join_nats(app: &mut Application, url: &str) -> std::io::Result<()> {
    let backplane = serverwamp::backplane::NatsBackplane::connect(url)
        .await
        .map_err(std::io::Error::other)?;
    app.set_backplane(backplane);
    Ok(())
}

#[cfg(not(feature = "nats"))]
async fn join_nats(_: &mut Application, _: &str) -> std::io::Result<()> {
    Err(built_without("nats"))
}

#[cfg(feature = "redis")]
async fn join_redis(app: &mut Application, url: &str) -> std::io::Result<()> {
    let backplane = serverwamp::backplane::RedisBackplane::connect(url)
        .await
        .map_err(std::io::Error::other)?;
    app.set_backplane(backplane);
    Ok(())
}

#[cfg(not(feature = "redis"))]
async fn join_redis(_: &mut Application, _: &str) -> std::io::Result<()> {
    Err(built_without("redis"))
}

#[cfg(not(all(feature = "nats", feature = "redis")))]
fn built_without(feature: &str) -> std::io::Error {
    std::io::Error::other(format!(
        "this demo was built without the `{feature}` feature: \
         cargo run --release --features {feature} --example demo -- ..."
    ))
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        () = terminate => {}
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let options = Options::parse();
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(std::io::Error::other)?;
    let cluster = Cluster::default();
    let tenants = Tenants::default();
    let mut app = application(options.no_default_realm, &cluster, &tenants);
    if let Err(error) = join_cluster(&mut app, &options).await {
        tracing::error!("cannot join the cluster: {error}");
        std::process::exit(1);
    }
    let _ = cluster.0.set(app.clone());

    // WebSocket at /ws, RawSocket and plain HTTP on one port, with every
    // deadline a server on the open internet needs (first byte, request
    // headers, HELLO); HTTP requests for other paths go to an axum router.
    let stats_app = app.clone();
    let metrics_app = app.clone();
    let router = Router::new()
        .route("/", get(page))
        .route("/health", get(|| async { "ok" }))
        .route(
            "/stats",
            get(move || http_stats(stats_app.clone(), tenants.clone())),
        )
        .route(
            "/metrics",
            get(move || http_metrics(metrics_app.clone(), metrics.clone())),
        )
        // Beyond the contract: calls and publications over plain HTTP POST.
        .nest(
            "/bridge",
            serverwamp::bridge::HttpBridge::new(&app).router(),
        );
    let server = Server::new(app.clone(), ServeOptions::new().fallback(router));
    let listener = tokio::net::TcpListener::bind(options.listen).await?;
    let addr = listener.local_addr()?;
    let rawsocket = match options.rawsocket {
        Some(rawsocket_addr) => Some(tokio::net::TcpListener::bind(rawsocket_addr).await?),
        None => None,
    };
    // The contract's first line (and the RawSocket one): tests and users
    // wait for them.
    #[allow(clippy::print_stdout)]
    {
        println!("listening on ws://{addr}/ws");
        if let Some(rawsocket) = &rawsocket {
            println!("rawsocket on tcp://{}", rawsocket.local_addr()?);
        }
    }
    use std::io::Write as _;
    std::io::stdout().flush()?;

    // RawSocket sessions belong to the same application: `close_sessions`
    // below says GOODBYE to them too. Accepting stops first.
    let rawsocket = rawsocket.map(|listener| {
        let server = serverwamp::transport::rawsocket::serve(
            app.clone(),
            listener,
            serverwamp::transport::rawsocket::RawSocketSettings::new(),
        );
        tokio::spawn(async move {
            if let Err(error) = server.await {
                tracing::error!(%error, "RawSocket server stopped");
            }
        })
        .abort_handle()
    });

    tokio::select! {
        served = server.serve(listener) => served?,
        () = shutdown_signal() => {}
    }
    if let Some(rawsocket) = rawsocket {
        rawsocket.abort();
    }
    tracing::info!("shutting down: closing every session");
    app.close_sessions(Duration::from_secs(3)).await;
    Ok(())
}

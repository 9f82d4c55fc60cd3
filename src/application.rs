//! The application: the public face that configures realms, routes and
//! handlers, and makes the services that serve them.

use std::sync::Arc;
use std::time::Duration;

use serverwamp_protocol::{Id, UriRules};

use crate::auth::RealmAuth;
use crate::auth::config::auth_builder_methods;
use crate::broker::Publication;
use crate::engine::ConnectionStats;
use crate::engine::Engine;
use crate::handler::{BoxedHandler, Handler};
use crate::lifecycle::OnSession;
use crate::pubsub::{
    OnSubscribe, OnUnsubscribe, PublishReport, SlowSubscriberPolicy, TopicRouteSet,
};
use crate::realm::{AppConfig, Limits, Realm};
use crate::rpc::RpcRouteSet;
use crate::session::{Control, Session};
use crate::transport::websocket::WebSocketService;

/// A WAMP application: its realms, procedures and handlers, and the
/// sessions it serves.
///
/// Configure it, then hand [`Application::websocket_service`] to your HTTP
/// server. Clones share the live sessions; configuration changed after a
/// service was made applies to services made afterwards.
///
/// ```
/// use serde::Deserialize;
/// use serverwamp::Application;
/// use serverwamp::rpc::{Params, RpcRouteSet};
///
/// #[derive(Deserialize)]
/// struct AddParams { number1: f64, number2: f64 }
///
/// async fn add(Params(p): Params<AddParams>) -> f64 {
///     p.number1 + p.number2
/// }
///
/// let mut math = RpcRouteSet::new();
/// math.route("math.add", add);
///
/// let mut app = Application::new();
/// app.add_routes(math);
/// let service = app.websocket_service(); // mount it at /ws
/// # let _ = service;
/// ```
#[derive(Clone, Default)]
pub struct Application {
    engine: Engine,
}

/// The engine that serves the application's connections, for a transport.
impl From<Application> for Engine {
    fn from(app: Application) -> Self {
        app.engine.join_cluster();
        app.engine
    }
}

impl From<&Application> for Engine {
    fn from(app: &Application) -> Self {
        app.engine.join_cluster();
        app.engine.clone()
    }
}

impl Application {
    /// A new application with an open default realm and no procedures.
    pub fn new() -> Self {
        Self::default()
    }

    fn config_mut(&mut self) -> &mut AppConfig {
        Arc::make_mut(&mut self.engine.config)
    }

    fn auth_mut(&mut self) -> &mut RealmAuth {
        &mut self.config_mut().auth
    }

    // Authentication and authorization of every realm, the default realm
    // and those made with `Application::realm`, unless a realm sets its own.
    auth_builder_methods!(auth_mut);

    /// Adds procedures served in every realm.
    pub fn add_routes(&mut self, routes: RpcRouteSet) -> &mut Self {
        self.config_mut().routes.add(routes);
        self
    }

    /// Adds topics served in every realm.
    pub fn add_topics(&mut self, topics: TopicRouteSet) -> &mut Self {
        self.config_mut().topics.add(topics);
        self
    }

    /// Runs `handler` whenever a client subscribes, in any realm and to any
    /// topic (the Python serverwamp library's `add_subscribe_handler`).
    ///
    /// The handler admits the subscription (returning `()`, or a
    /// [`Teardown`](crate::pubsub::Teardown) that runs when the
    /// subscription ends) or refuses it (`Err(WampError)`), as a topic
    /// route's handler does. With at least one such handler, a client may
    /// subscribe to topics that have no route: the handlers decide. A topic
    /// route, where there is one, runs first; handlers run in the order
    /// added, and all must admit.
    ///
    /// ```
    /// use std::collections::HashSet;
    /// use std::sync::{Arc, Mutex};
    /// use serverwamp::{Application, Session};
    /// use serverwamp::pubsub::{Teardown, Topic};
    /// use serverwamp::handler::State;
    ///
    /// /// The sessions to send the hourly updates to.
    /// #[derive(Clone, Default)]
    /// struct UpdatesWorker(Arc<Mutex<HashSet<u64>>>);
    ///
    /// async fn handle_subscribe(topic: Topic, session: Session, State(worker): State<UpdatesWorker>) -> Option<Teardown> {
    ///     if topic != "hourly_updates" {
    ///         return None;
    ///     }
    ///     let id = session.id().get();
    ///     worker.0.lock().unwrap().insert(id);
    ///     Some(Teardown::new(move || async move {
    ///         worker.0.lock().unwrap().remove(&id);
    ///     }))
    /// }
    ///
    /// let mut app = Application::new();
    /// app.set_state(UpdatesWorker::default());
    /// app.add_subscribe_handler(handle_subscribe);
    /// ```
    pub fn add_subscribe_handler<H: Handler<OnSubscribe, T>, T: 'static>(
        &mut self,
        handler: H,
    ) -> &mut Self {
        let boxed = BoxedHandler::new(handler);
        self.config_mut().subscribe_handlers.push(boxed);
        self
    }

    /// Runs `handler` whenever a subscription ends: the client unsubscribed
    /// or its session ended (the Python serverwamp library's `add_unsubscribe_handler`).
    pub fn add_unsubscribe_handler<H: Handler<OnUnsubscribe, T>, T: 'static>(
        &mut self,
        handler: H,
    ) -> &mut Self {
        let boxed = BoxedHandler::new(handler);
        self.config_mut().unsubscribe_handlers.push(boxed);
        self
    }

    /// Chooses what happens to a slow subscriber, one whose outbound queue
    /// has stayed full for the slow-subscriber timeout (default: its events
    /// are dropped and counted; see [`SlowSubscriberPolicy`]).
    pub fn set_slow_subscriber_policy(&mut self, policy: SlowSubscriberPolicy) -> &mut Self {
        self.config_mut().slow_subscribers.policy = policy;
        self
    }

    /// How long a subscriber's outbound queue may stay full before the
    /// subscriber counts as slow (default 10 s): waiting publishers wait
    /// for it that long, and then the [`SlowSubscriberPolicy`] applies.
    pub fn set_slow_subscriber_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.config_mut().slow_subscribers.timeout = timeout;
        self
    }

    /// Bounds each session's outbound queue to `bytes` of encoded messages
    /// (default 1 MiB): what a client that reads slowly can hold in server
    /// memory. A message larger than the bound still goes through, alone.
    /// Results wait for room; events follow the publisher's choice
    /// ([`Session::publish`] drops, [`Session::publish_wait`] waits).
    pub fn set_outbound_queue_limit(&mut self, bytes: usize) -> &mut Self {
        self.config_mut().outbound_bytes = bytes;
        self
    }

    /// Calls `procedure` in `realm` and waits for its final result: a local
    /// route, or a procedure a client of the realm registered (see the
    /// [client callees guide](crate::guide::client_callees)), by the same
    /// rules as a client's CALL. Progress reports are skipped; the callee is
    /// not told of a caller (there is no caller session).
    ///
    /// A local route's handler gets a stand-in [`Session`] of its own
    /// (authid and authrole `application`, transport
    /// [`TransportKind::Application`](crate::transport::TransportKind::Application)).
    /// A procedure nobody serves is `wamp.error.no_such_procedure`, as is a
    /// realm that does not exist; a callee that leaves before it answers,
    /// `wamp.error.canceled`. The call has no deadline of its own: bound it
    /// with `tokio::time::timeout`; a call dropped before its answer sends
    /// its callee INTERRUPT.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use serverwamp::Application;
    /// use serverwamp::rpc::RpcRouteSet;
    ///
    /// let mut app = Application::new();
    /// let mut routes = RpcRouteSet::new();
    /// routes.route("math.double", |serverwamp::rpc::Args((n,)): serverwamp::rpc::Args<(i64,)>| async move { n * 2 });
    /// app.add_routes(routes);
    /// let result = app.call("realm1", "math.double", vec![21.into()], Default::default()).await;
    /// assert_eq!(result.unwrap().args, vec![42.into()]);
    /// # });
    /// ```
    pub async fn call(
        &self,
        realm: &str,
        procedure: &str,
        args: serverwamp_protocol::List,
        kwargs: serverwamp_protocol::Dict,
    ) -> Result<crate::rpc::RpcResult, crate::WampError> {
        let config = &self.engine.config;
        let Some(view) = crate::realm::RealmView::resolve(config, realm) else {
            return Err(crate::WampError::new(
                serverwamp_protocol::well_known::error::NO_SUCH_PROCEDURE,
            )
            .arg(format!("there is no realm {realm:?}")));
        };
        let dealer = self.engine.dealers.get(realm);
        let stand_in = || {
            let codec =
                serverwamp_protocol::Codec::new(serverwamp_protocol::Serialization::MsgPack);
            let (outbound, _) = crate::outbound::Outbound::channel(codec, None, 64 * 1024);
            let broker = self.engine.brokers.get_or_create(
                realm,
                config.slow_subscribers,
                config.relay.as_ref(),
            );
            let session = Session::new(
                crate::session::SessionParts {
                    id: serverwamp_protocol::id::random_id(),
                    realm: realm.to_owned(),
                    auth: crate::session::AuthDetails {
                        authid: "application".to_owned(),
                        authrole: "application".to_owned(),
                        authmethod: "application".to_owned(),
                        authprovider: "application".to_owned(),
                    },
                    identity: None,
                    transport: Arc::new(crate::link::TransportInfo::new(
                        crate::link::TransportKind::Application,
                        crate::link::PeerAddress::Unknown,
                    )),
                    outbound,
                    control: Arc::default(),
                },
                &broker,
            );
            let _ = session.inner.router.set((view.clone(), dealer.clone()));
            session
        };
        crate::realm::call(
            &view,
            dealer.as_ref(),
            None,
            stand_in,
            procedure,
            args,
            kwargs,
        )
        .await
    }

    /// Publishes an event to every subscriber of `topic` in `realm`, from a
    /// handler, a background task or a feed from an external broker.
    ///
    /// Never waits: a subscriber whose outbound queue is full loses the
    /// event (counted). [`Application::publish_wait`] waits for room.
    pub fn publish(
        &self,
        realm: &str,
        topic: &str,
        args: serverwamp_protocol::List,
        kwargs: serverwamp_protocol::Dict,
    ) -> PublishReport {
        let payload = serverwamp_protocol::message::Payload::new(args, kwargs);
        match self.engine.brokers.get(realm) {
            Some(broker) => broker.publish(Publication::new(topic, payload)),
            None => {
                let (report, relayed) = self.for_other_nodes(realm, topic, payload, false);
                if let Some((relay, envelope)) = relayed {
                    relay.send_now(envelope);
                }
                report
            }
        }
    }

    /// Publishes an event to every subscriber of `topic` in `realm`, as
    /// [`Application::publish`] does, and keeps it as the topic's retained
    /// event: a client that subscribes later with `get_retained: true`
    /// gets it right after its SUBSCRIBED, marked `retained: true` (spec,
    /// "Event Retention"). Each topic keeps its latest retained event, in
    /// this node's memory (other nodes of a cluster get the event, not
    /// the retention), until the application ends.
    ///
    /// ```
    /// use serverwamp::Application;
    ///
    /// let app = Application::new();
    /// // Whoever subscribes to `sensor.temperature` with `get_retained`
    /// // learns the last reading at once.
    /// app.publish_retained("realm1", "sensor.temperature", vec![21.5.into()], Default::default());
    /// ```
    pub fn publish_retained(
        &self,
        realm: &str,
        topic: &str,
        args: serverwamp_protocol::List,
        kwargs: serverwamp_protocol::Dict,
    ) -> PublishReport {
        let config = &self.engine.config;
        let broker = self.engine.brokers.get_or_create(
            realm,
            config.slow_subscribers,
            config.relay.as_ref(),
        );
        let payload = serverwamp_protocol::message::Payload::new(args, kwargs);
        broker.retain(topic, payload.clone(), Default::default(), None);
        self.engine.brokers.pin(&broker);
        broker.publish(Publication::new(topic, payload))
    }

    /// A publication to a realm with no session on this node: its report
    /// (nobody here got it) and, in a cluster, its envelope for the other
    /// nodes.
    fn for_other_nodes(
        &self,
        realm: &str,
        topic: &str,
        payload: serverwamp_protocol::message::Payload,
        wait: bool,
    ) -> (
        PublishReport,
        Option<(&Arc<crate::broker::Relay>, crate::broker::relay::Envelope)>,
    ) {
        let report = PublishReport::nobody();
        let publication = Publication::new(topic, payload);
        let relayed = self.engine.config.relay.as_ref().and_then(|relay| {
            relay.start();
            Some((
                relay,
                relay.envelope(realm, &publication, report.publication, wait)?,
            ))
        });
        (report, relayed)
    }

    /// Publishes an event to every subscriber of `topic` in `realm`,
    /// waiting for room in full outbound queues as
    /// [`Session::publish_wait`] does.
    pub async fn publish_wait(
        &self,
        realm: &str,
        topic: &str,
        args: serverwamp_protocol::List,
        kwargs: serverwamp_protocol::Dict,
    ) -> PublishReport {
        let payload = serverwamp_protocol::message::Payload::new(args, kwargs);
        match self.engine.brokers.get(realm) {
            Some(broker) => broker.publish_wait(Publication::new(topic, payload)).await,
            None => {
                let (report, relayed) = self.for_other_nodes(realm, topic, payload, true);
                if let Some((relay, envelope)) = relayed {
                    let limit = self.engine.config.slow_subscribers.timeout;
                    relay.send_waiting(envelope, limit).await;
                }
                report
            }
        }
    }

    /// Makes this application one node of a cluster: publications to its
    /// realms reach the subscribers of every node that shares `backplane`,
    /// and theirs reach this node's (see [`backplane`](crate::backplane)
    /// for what crosses and how).
    ///
    /// Call it inside a tokio runtime (connecting a backplane needs one
    /// anyway); otherwise the node joins when it serves its first
    /// connection.
    ///
    /// ```no_run
    /// # #[cfg(feature = "redis")]
    /// # async fn node() -> Result<(), serverwamp::backplane::BackplaneError> {
    /// use serverwamp::Application;
    /// use serverwamp::backplane::RedisBackplane;
    ///
    /// let mut app = Application::new();
    /// app.set_backplane(RedisBackplane::connect("redis://127.0.0.1:6379").await?);
    /// // Reaches the subscribers of `hourly_updates` on every node.
    /// app.publish("realm1", "hourly_updates", vec!["tea time".into()], Default::default());
    /// # Ok(()) }
    /// ```
    pub fn set_backplane(&mut self, backplane: impl crate::backplane::Backplane) -> &mut Self {
        self.join(Arc::new(backplane));
        self
    }

    /// Sets the first token of every backplane subject (default
    /// `serverwamp`): clusters that share one NATS or Redis server each
    /// need their own. Every byte outside ASCII letters, digits, `_` and
    /// `-` is escaped, as in realm names.
    pub fn set_backplane_prefix(&mut self, prefix: &str) -> &mut Self {
        self.config_mut().backplane_prefix = crate::backplane::subject::token(prefix);
        if let Some(relay) = self.engine.config.relay.clone() {
            self.join(relay.backplane());
        }
        self
    }

    /// Serves `procedure` to the other nodes of the cluster as well: a
    /// node where a client calls it without a route of its own sends the
    /// call to a node that shares it (taking turns among them), with
    /// progressive results, CANCEL and the call timeout as for a local
    /// call. The URI is exact; the serving node resolves it in the
    /// caller's realm as for its own clients.
    ///
    /// A node learns which procedures the others share from their
    /// announcements (once a second); a call whose serving node leaves
    /// before answering gets ERROR `serverwamp.error.node_unavailable`.
    ///
    /// ```
    /// use serverwamp::Application;
    /// use serverwamp::rpc::RpcRouteSet;
    ///
    /// let mut reports = RpcRouteSet::new();
    /// reports.route("report.generate", || async { "done" });
    /// let mut app = Application::new();
    /// app.add_routes(reports);
    /// app.share_procedure("report.generate");
    /// ```
    pub fn share_procedure(&mut self, procedure: impl Into<String>) -> &mut Self {
        let config = self.config_mut();
        config.shared_procedures.push(procedure.into());
        if let Some(relay) = &config.relay {
            relay.share(&config.shared_procedures);
        }
        self
    }

    fn join(&mut self, backplane: Arc<dyn crate::backplane::Backplane>) {
        let registry = Arc::downgrade(&self.engine.registry);
        let counts: crate::broker::relay::LocalCounts = Arc::new(move || {
            registry
                .upgrade()
                .map(|r| r.count_by_realm())
                .unwrap_or_default()
        });
        let prefix = self.engine.config.backplane_prefix.clone();
        let relay = crate::broker::Relay::new(backplane, &prefix, counts);
        relay.share(&self.engine.config.shared_procedures);
        self.config_mut().relay = Some(relay);
    }

    /// The open sessions of `realm` in the whole cluster: this node's, and
    /// those every other node announced within the last 3 seconds (nodes
    /// announce once a second, so the count is eventually consistent). On
    /// a node without a backplane, this node's alone.
    pub fn cluster_session_count(&self, realm: &str) -> usize {
        match &self.engine.config.relay {
            Some(relay) => relay.session_count(realm),
            None => self
                .engine
                .registry
                .count_by_realm()
                .get(realm)
                .copied()
                .unwrap_or(0),
        }
    }

    /// How many nodes the cluster has: this one and every other heard from
    /// within the last 3 seconds (1 without a backplane).
    pub fn cluster_node_count(&self) -> usize {
        self.engine
            .config
            .relay
            .as_ref()
            .map_or(1, |r| r.node_count())
    }

    /// The realm named `name`, created on first use. A realm that is not
    /// configured is served by the default realm unless that is disabled.
    ///
    /// A realm inherits what it does not set itself: it serves the
    /// application's procedures and topics beside its own, authenticates as
    /// the application does unless it sets authentication of its own (any
    /// authenticator, an auth handler, or
    /// [`allow_anonymous`](Realm::allow_anonymous)), and asks the
    /// application's authorizer unless it sets one. So adding routes to a
    /// realm never opens it to anonymous sessions:
    ///
    /// ```
    /// use serverwamp::Application;
    /// use serverwamp::auth::{Authenticated, NewSession};
    /// use serverwamp::rpc::RpcRouteSet;
    ///
    /// let mut app = Application::new();
    /// app.set_ticket_authenticator(|session: NewSession, ticket: String| async move {
    ///     (ticket == "secret123").then(|| Authenticated::anonymous().authid("alice"))
    /// });
    /// let mut admin = RpcRouteSet::new();
    /// admin.route("admin.stats", || async { 42 });
    /// // Still ticket-authenticated, like every realm of `app`.
    /// app.realm("admin").add_routes(admin);
    /// // Open to anyone, on purpose.
    /// app.realm("lobby").allow_anonymous();
    /// ```
    pub fn realm(&mut self, name: impl Into<String>) -> &mut Realm {
        Arc::make_mut(self.config_mut().realms.entry(name.into()).or_default())
    }

    /// Serves the WAMP meta API in every realm that does not turn it off
    /// ([`Realm::disable_meta_api`]): `wamp.session.*` (count, list, get,
    /// kill, testaments), `wamp.subscription.*` and their meta events.
    ///
    /// Off by default: the meta procedures tell a client about other
    /// sessions and can close them. Every meta call and meta subscription
    /// is asked of the realm's authorizer (as [`Action::Call`] or
    /// [`Action::Subscribe`] on its `wamp.` URI), so give realms whose
    /// clients are not all trusted an authorizer. See the
    /// [meta API chapter](crate::guide::meta_api) of the guide.
    ///
    /// [`Action::Call`]: crate::auth::Action::Call
    /// [`Action::Subscribe`]: crate::auth::Action::Subscribe
    pub fn enable_meta_api(&mut self) -> &mut Self {
        self.config_mut().meta_api = true;
        self
    }

    /// Makes realms on demand: a HELLO (or an HTTP bridge request) for a
    /// realm that was not configured with [`Application::realm`] asks
    /// `factory` first, before the default realm applies. A realm it
    /// returns is served, and shared by every session that names it, while
    /// it has sessions; once the last one has ended it is dropped (its
    /// [`Realm::on_teardown`] runs), and a later HELLO asks the factory
    /// again. `None` falls back to the default realm, or ABORT
    /// `wamp.error.no_such_realm` when that is disabled.
    ///
    /// The realm inherits the application's procedures, topics,
    /// authentication and authorizer as a configured realm does. The
    /// factory runs during HELLO, so it must be quick: look tenants up in
    /// memory (a panicking factory counts as `None`).
    ///
    /// ```
    /// use serverwamp::{Application, Realm};
    /// use serverwamp::rpc::RpcRouteSet;
    ///
    /// let mut app = Application::new();
    /// app.disable_default_realm();
    /// app.set_realm_factory(|name: &str| {
    ///     let tenant = name.strip_prefix("tenant.")?.to_owned();
    ///     let mut routes = RpcRouteSet::new();
    ///     let who = tenant.clone();
    ///     routes.route("tenant.name", move || std::future::ready(who.clone()));
    ///     let mut realm = Realm::default();
    ///     realm.add_routes(routes);
    ///     realm.on_teardown(move |_| println!("tenant {tenant} has no sessions left"));
    ///     Some(realm)
    /// });
    /// ```
    pub fn set_realm_factory(
        &mut self,
        factory: impl Fn(&str) -> Option<Realm> + Send + Sync + 'static,
    ) -> &mut Self {
        self.config_mut().realm_factory = Some(Arc::new(factory));
        self
    }

    /// How many realms made by the [realm factory](Application::set_realm_factory)
    /// are in use now.
    pub fn dynamic_realm_count(&self) -> usize {
        self.engine.dynamic.len()
    }

    /// Refuses realms that were not configured with [`Application::realm`]:
    /// their HELLO gets ABORT `wamp.error.no_such_realm`.
    pub fn disable_default_realm(&mut self) -> &mut Self {
        self.config_mut().default_realm = false;
        self
    }

    /// Makes `value` available to handlers as [`State<T>`](crate::handler::State)
    /// (the Python serverwamp library's `set_default_arg`). One value per type.
    pub fn set_state<T: std::any::Any + Send + Sync + Clone>(&mut self, value: T) -> &mut Self {
        Arc::make_mut(&mut self.config_mut().state).insert(value);
        self
    }

    /// How long a client has from HELLO to finish authenticating (10 s by
    /// default); a client that does not answer its CHALLENGE in time gets
    /// ABORT `wamp.error.authentication_failed` and is disconnected.
    pub fn set_authentication_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.config_mut().auth_timeout = timeout;
        self
    }

    /// Pings every connection each `interval` (WebSocket pings; RawSocket
    /// PINGs only where its settings enable them, since autobahn-python's
    /// RawSocket client cannot take one), and closes one whose peer has
    /// sent nothing, not even a pong, for `timeout`; its session ends at
    /// once (subscriptions, running calls and close handlers included).
    /// Silence is checked at each ping, so a silent peer goes between
    /// `timeout` and `timeout + interval` after it last spoke. By default
    /// every 30 s, closing after 75 s of silence.
    pub fn set_keepalive(&mut self, interval: Duration, timeout: Duration) -> &mut Self {
        self.config_mut().keepalive = Some((interval, timeout));
        self
    }

    /// Sets the limits on what one client may hold and the deadlines it
    /// must meet (see [`Limits`] for each default and outcome).
    pub fn set_limits(&mut self, limits: Limits) -> &mut Self {
        self.config_mut().limits = limits;
        self
    }

    /// Which web pages may open WebSocket sessions that carry the
    /// browser's cookies (see [`OriginPolicy`](crate::transport::OriginPolicy);
    /// by default only the server's own origin).
    pub fn set_origin_policy(&mut self, policy: crate::transport::OriginPolicy) -> &mut Self {
        self.config_mut().origin_policy = policy;
        self
    }

    /// What the application's connections have run into so far: deadlines
    /// missed and limits hit.
    pub fn stats(&self) -> ConnectionStats {
        self.engine.stats.snapshot()
    }

    /// Sends no keepalive pings and never closes a silent peer.
    pub fn disable_keepalive(&mut self) -> &mut Self {
        self.config_mut().keepalive = None;
        self
    }

    /// Chooses the URI rules received URIs must follow (loose by default).
    pub fn set_uri_rules(&mut self, rules: UriRules) -> &mut Self {
        self.config_mut().rules.uris = rules;
        self
    }

    /// Matches camelCase keyword arguments (`timeLeft`) to snake_case
    /// parameter names (`time_left`) in [`Params`](crate::rpc::Params).
    pub fn convert_camel_case_kwargs(&mut self, convert: bool) -> &mut Self {
        self.config_mut().snake_case_kwargs = convert;
        self
    }

    /// Runs `handler` when a session has opened (after authentication,
    /// before WELCOME is sent). Handlers run in the order they were added.
    pub fn add_session_open_handler<H: Handler<OnSession, T>, T: 'static>(
        &mut self,
        handler: H,
    ) -> &mut Self {
        self.config_mut()
            .open_handlers
            .push(BoxedHandler::new(handler));
        self
    }

    /// Runs `handler` when a session ends, however it ends. Close handlers
    /// run in the reverse of the order they were added, like teardown.
    pub fn add_session_close_handler<H: Handler<OnSession, T>, T: 'static>(
        &mut self,
        handler: H,
    ) -> &mut Self {
        self.config_mut()
            .close_handlers
            .push(BoxedHandler::new(handler));
        self
    }

    /// A tower service that serves this application over WebSocket; mount it
    /// in axum with `route_service("/ws", app.websocket_service())`.
    pub fn websocket_service(&self) -> WebSocketService {
        WebSocketService::new(self)
    }

    /// Every open session.
    pub fn sessions(&self) -> Vec<Session> {
        self.engine.registry.snapshot()
    }

    /// The open session with this ID.
    pub fn session(&self, id: Id) -> Option<Session> {
        self.engine.registry.get(id)
    }

    /// How many bytes wait in the open sessions' outbound queues now: in
    /// all of them and in the fullest one. Computed on demand from each
    /// queue's free budget (nothing is counted per message), so call it
    /// when you report: with the `metrics` feature each call also sets the
    /// gauges `serverwamp_outbound_queue_bytes` and
    /// `serverwamp_outbound_queue_max_bytes`, so a Prometheus handler calls
    /// it before rendering.
    ///
    /// ```
    /// use serverwamp::Application;
    ///
    /// let app = Application::new();
    /// let queues = app.outbound_queues();
    /// println!("{} bytes queued, {} at most for one session", queues.total_bytes, queues.max_bytes);
    /// ```
    pub fn outbound_queues(&self) -> crate::OutboundQueues {
        let queues = self.engine.registry.outbound_queues();
        crate::observe::outbound_queues(&queues);
        queues
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        self.engine.registry.len()
    }

    /// Closes every session for shutdown: sends GOODBYE
    /// `wamp.close.system_shutdown`, waits up to `timeout` for the clients'
    /// replies, then closes the connections that are left. Returns when
    /// every session has ended.
    pub async fn close_sessions(&self, timeout: Duration) {
        for session in self.engine.registry.snapshot() {
            session.inner.control.request(Control::Close {
                reason: serverwamp_protocol::well_known::close::SYSTEM_SHUTDOWN.to_owned(),
                message: Some("the server is shutting down".to_owned()),
            });
        }
        if self.engine.registry.wait_empty(timeout).await {
            return;
        }
        for session in self.engine.registry.snapshot() {
            session.inner.control.request(Control::Kill);
        }
        self.engine
            .registry
            .wait_empty(Duration::from_secs(1))
            .await;
    }
}

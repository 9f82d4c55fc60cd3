//! What an application and its realms are configured with: plain data that
//! every new session reads once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serverwamp_protocol::message::ValidationRules;

use crate::auth::RealmAuth;
use crate::auth::config::auth_builder_methods;
use crate::broker::SlowSubscribers;
use crate::handler::{BoxedHandler, Handler, StateMap};
use crate::lifecycle::OnSession;
use crate::pubsub::{OnSubscribe, OnUnsubscribe, TopicRouteSet, TopicTable};
use crate::rpc::{OnCall, RouteTable, RpcRouteSet};

/// The configuration every new session reads once, when it opens.
#[derive(Clone)]
pub(crate) struct AppConfig {
    /// Procedures of every realm.
    pub(crate) routes: RouteTable,
    /// Topics of every realm.
    pub(crate) topics: TopicTable,
    pub(crate) subscribe_handlers: Vec<BoxedHandler<OnSubscribe>>,
    pub(crate) unsubscribe_handlers: Vec<BoxedHandler<OnUnsubscribe>>,
    pub(crate) slow_subscribers: SlowSubscribers,
    /// The byte budget of each session's outbound queue.
    pub(crate) outbound_bytes: usize,
    pub(crate) realms: HashMap<String, Arc<Realm>>,
    pub(crate) default_realm: bool,
    pub(crate) state: Arc<StateMap>,
    pub(crate) rules: ValidationRules,
    pub(crate) snake_case_kwargs: bool,
    pub(crate) open_handlers: Vec<BoxedHandler<OnSession>>,
    pub(crate) close_handlers: Vec<BoxedHandler<OnSession>>,
    /// Authentication and authorization of every realm that does not set
    /// its own.
    pub(crate) auth: RealmAuth,
    /// How long a client has from HELLO to WELCOME.
    pub(crate) auth_timeout: Duration,
    /// Transport pings: how often, and how long a peer may stay silent.
    pub(crate) keepalive: Option<(Duration, Duration)>,
    /// What one client may hold, and the deadlines it must meet.
    pub(crate) limits: super::Limits,
    /// Which web pages may open sessions with the browser's cookies.
    pub(crate) origin_policy: crate::link::OriginPolicy,
    /// The backplane link of a node in a cluster.
    pub(crate) relay: Option<Arc<crate::broker::Relay>>,
    /// The subject prefix on the backplane.
    pub(crate) backplane_prefix: String,
    /// The procedures this node serves to the others of its cluster.
    pub(crate) shared_procedures: Vec<String>,
    /// Whether realms that do not decide serve the WAMP meta API.
    pub(crate) meta_api: bool,
    /// Makes realms that are not configured, on demand.
    pub(crate) realm_factory: Option<super::RealmFactory>,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            routes: RouteTable::default(),
            topics: TopicTable::default(),
            subscribe_handlers: Vec::new(),
            unsubscribe_handlers: Vec::new(),
            slow_subscribers: SlowSubscribers::default(),
            outbound_bytes: crate::outbound::DEFAULT_OUTBOUND_BYTES,
            realms: HashMap::new(),
            default_realm: true,
            state: Arc::default(),
            rules: ValidationRules::default(),
            snake_case_kwargs: false,
            open_handlers: Vec::new(),
            close_handlers: Vec::new(),
            auth: RealmAuth::default(),
            auth_timeout: Duration::from_secs(10),
            keepalive: Some((Duration::from_secs(30), Duration::from_secs(75))),
            limits: super::Limits::default(),
            origin_policy: crate::link::OriginPolicy::default(),
            relay: None,
            backplane_prefix: crate::backplane::subject::DEFAULT_PREFIX.to_owned(),
            shared_procedures: Vec::new(),
            meta_api: false,
            realm_factory: None,
        }
    }
}

/// One configured realm: procedures of its own, or a handler that answers
/// every call in it.
#[derive(Clone, Default)]
pub struct Realm {
    pub(crate) routes: RouteTable,
    pub(crate) rpc_handler: Option<BoxedHandler<OnCall>>,
    pub(crate) topics: TopicTable,
    pub(crate) open_broker: bool,
    /// Whether this realm serves the WAMP meta API (`None`: as the
    /// application decides).
    pub(crate) meta_api: Option<bool>,
    /// Whether clients may register procedures.
    pub(crate) client_callees: bool,
    /// Whether client registrations win over the application's routes.
    pub(crate) client_callees_first: bool,
    /// What this realm sets itself; the rest it inherits.
    pub(crate) auth: RealmAuth,
    /// What runs when a realm made by the realm factory is torn down.
    pub(crate) teardown: Option<super::dynamic::RealmTeardown>,
}

impl Realm {
    fn auth_mut(&mut self) -> &mut RealmAuth {
        &mut self.auth
    }

    auth_builder_methods!(auth_mut);

    /// An empty realm, for a [realm factory](crate::Application::set_realm_factory)
    /// to fill; configured realms come from [`Application::realm`](crate::Application::realm).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds procedures that only this realm serves (besides the
    /// application's).
    pub fn add_routes(&mut self, routes: RpcRouteSet) -> &mut Self {
        self.routes.add(routes);
        self
    }

    /// Adds topics that only this realm serves (besides the application's).
    pub fn add_topics(&mut self, topics: TopicRouteSet) -> &mut Self {
        self.topics.add(topics);
        self
    }

    /// Makes this realm an open broker: clients may subscribe to any topic,
    /// also without a route, and their publications reach the other
    /// subscribers, with publisher exclusion (on unless `exclude_me` is
    /// false), publisher identification (`disclose_me`) and subscriber
    /// black/white listing as the spec defines them.
    pub fn set_open_broker(&mut self, open: bool) -> &mut Self {
        self.open_broker = open;
        self
    }

    /// Serves the WAMP meta API in this realm: the session, subscription
    /// and testament meta procedures and the session and subscription meta
    /// events, each call and subscription asked of the realm's authorizer
    /// first. Off unless enabled here or for every realm with
    /// [`Application::enable_meta_api`](crate::Application::enable_meta_api).
    /// See the [meta API chapter](crate::guide::meta_api) of the guide.
    pub fn enable_meta_api(&mut self) -> &mut Self {
        self.meta_api = Some(true);
        self
    }

    /// Keeps the meta API off in this realm even when
    /// [`Application::enable_meta_api`](crate::Application::enable_meta_api)
    /// turned it on for every realm.
    pub fn disable_meta_api(&mut self) -> &mut Self {
        self.meta_api = Some(false);
        self
    }

    /// Runs `teardown` with the realm's name when this realm, made by the
    /// application's [realm factory](crate::Application::set_realm_factory),
    /// is torn down: once its last session has ended. It runs where that
    /// session ended, so it must not block; spawn a task for slow work.
    /// Realms configured with [`Application::realm`](crate::Application::realm)
    /// live as long as the application and never run it.
    pub fn on_teardown(&mut self, teardown: impl Fn(&str) + Send + Sync + 'static) -> &mut Self {
        self.teardown = Some(std::sync::Arc::new(teardown));
        self
    }

    /// Lets this realm's clients register procedures (exact, prefix and
    /// wildcard, shared with the `single`, `roundrobin`, `random`, `first`
    /// and `last` policies) that the application and other clients call;
    /// see the [client callees guide](crate::guide::client_callees). The
    /// realm's authorizer is asked for every REGISTER
    /// ([`Action::Register`](crate::auth::Action::Register)). Off by
    /// default: REGISTER is answered `wamp.error.not_authorized`.
    ///
    /// ```
    /// let mut app = serverwamp::Application::new();
    /// app.realm("devices").set_client_callees(true);
    /// ```
    pub fn set_client_callees(&mut self, allow: bool) -> &mut Self {
        self.client_callees = allow;
        self
    }

    /// Lets client registrations win over the application's and the
    /// realm's routes for the same procedure. Off by default: a local
    /// route answers, and a client registration only serves procedures
    /// without one.
    ///
    /// ```
    /// let mut app = serverwamp::Application::new();
    /// app.realm("devices")
    ///     .set_client_callees(true)
    ///     .set_client_callees_first(true);
    /// ```
    pub fn set_client_callees_first(&mut self, first: bool) -> &mut Self {
        self.client_callees_first = first;
        self
    }

    /// Answers every call in this realm with `handler`, replacing routing
    /// (the Python serverwamp library's `set_rpc_handler`). The handler reads the procedure from
    /// its [`Request`](crate::rpc::Request) argument; its results are
    /// normalised exactly like a routed handler's, progressive ones too.
    pub fn set_rpc_handler<H: Handler<OnCall, T>, T: 'static>(&mut self, handler: H) -> &mut Self {
        self.rpc_handler = Some(BoxedHandler::new(handler));
        self
    }
}

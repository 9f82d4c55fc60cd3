//! One realm as a session sees it.

use std::sync::Arc;

use super::{AppConfig, Realm};
use crate::auth::{Authentication, Authorization};
use crate::handler::BoxedHandler;
use crate::pubsub::{OnPublish, OnSubscribe};
use crate::rpc::OnCall;

/// A realm resolved for one session: its own settings over the
/// application's.
#[derive(Clone)]
pub(crate) struct RealmView {
    /// The realm's name, as the client asked for it.
    name: Arc<str>,
    config: Arc<AppConfig>,
    /// The configured realm, or `None` for the default realm.
    realm: Option<Arc<Realm>>,
    /// A realm made by the factory: kept alive by the sessions that use it.
    _lease: Option<Arc<super::dynamic::RealmLease>>,
    authentication: Arc<Authentication>,
    authorization: Option<Authorization>,
    /// Whether the realm serves the meta API.
    meta_api: bool,
}

impl RealmView {
    /// The realm named `name`, or `None` if it is not configured and the
    /// default realm is disabled.
    pub(crate) fn resolve(config: &Arc<AppConfig>, name: &str) -> Option<Self> {
        Self::resolve_with(config, name, None)
    }

    /// The realm named `name`: a configured one, else one the realm
    /// factory makes (or already made and is in use), else the default
    /// realm, else `None`.
    pub(crate) fn resolve_with(
        config: &Arc<AppConfig>,
        name: &str,
        dynamic: Option<&Arc<super::DynamicRealms>>,
    ) -> Option<Self> {
        let lease = match (config.realms.get(name), &config.realm_factory, dynamic) {
            (None, Some(factory), Some(dynamic)) => dynamic.lease(name, factory),
            _ => None,
        };
        let realm = match (config.realms.get(name), &lease) {
            (Some(realm), _) => Some(realm.clone()),
            (None, Some(lease)) => Some(lease.realm.clone()),
            (None, None) if config.default_realm => None,
            (None, None) => return None,
        };
        // A realm inherits the application's authentication and
        // authorizer unless it sets its own.
        let auth = match &realm {
            Some(realm) => realm.auth.over(&config.auth),
            None => config.auth.clone(),
        };
        let meta_api = realm
            .as_ref()
            .and_then(|r| r.meta_api)
            .unwrap_or(config.meta_api);
        Some(RealmView {
            name: Arc::from(name),
            config: config.clone(),
            realm,
            _lease: lease,
            authentication: auth.authentication.unwrap_or_default(),
            authorization: auth.authorization,
            meta_api,
        })
    }

    /// The application's configuration.
    pub(crate) fn config(&self) -> &Arc<AppConfig> {
        &self.config
    }

    /// The realm's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// How the realm's sessions authenticate.
    pub(crate) fn authentication(&self) -> &Arc<Authentication> {
        &self.authentication
    }

    /// Who decides what the realm's sessions may do, if anybody.
    pub(crate) fn authorization(&self) -> Option<&Authorization> {
        self.authorization.as_ref()
    }

    /// The handler of a call to `procedure`: the realm's RPC handler if it
    /// has one (it replaces routing), else the realm's route, else the
    /// application's.
    pub(crate) fn procedure(&self, procedure: &str) -> Option<&BoxedHandler<OnCall>> {
        if let Some(realm) = &self.realm {
            if let Some(handler) = &realm.rpc_handler {
                return Some(handler);
            }
            if let Some(handler) = realm.routes.lookup(procedure) {
                return Some(handler);
            }
        }
        self.config.routes.lookup(procedure)
    }

    /// The route of a subscription to `topic`: the realm's, else the
    /// application's.
    pub(crate) fn subscribe_route(&self, topic: &str) -> Option<&BoxedHandler<OnSubscribe>> {
        self.realm
            .as_ref()
            .and_then(|r| r.topics.subscribe.lookup(topic))
            .or_else(|| self.config.topics.subscribe.lookup(topic))
    }

    /// The route of a client publication to `topic`: the realm's, else the
    /// application's.
    pub(crate) fn publish_route(&self, topic: &str) -> Option<&BoxedHandler<OnPublish>> {
        self.realm
            .as_ref()
            .and_then(|r| r.topics.publish.lookup(topic))
            .or_else(|| self.config.topics.publish.lookup(topic))
    }

    /// Whether the realm serves the WAMP meta API.
    pub(crate) fn meta_api(&self) -> bool {
        self.meta_api
    }

    /// Whether clients may register procedures.
    pub(crate) fn allows_client_callees(&self) -> bool {
        self.realm.as_ref().is_some_and(|r| r.client_callees)
    }

    /// Whether client registrations win over local routes.
    pub(crate) fn client_callees_first(&self) -> bool {
        self.realm.as_ref().is_some_and(|r| r.client_callees_first)
    }

    /// Whether clients may subscribe to any topic and publish to each
    /// other.
    pub(crate) fn is_open_broker(&self) -> bool {
        self.realm.as_ref().is_some_and(|r| r.open_broker)
    }
}

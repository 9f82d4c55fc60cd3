//! HELLO, the authentication phase and WELCOME.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::FutureExt;
use serverwamp_protocol::id::random_id;
use serverwamp_protocol::message::{Hello, Message, Welcome, WelcomeDetails};
use serverwamp_protocol::well_known::{close, error};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{AGENT, Connection, Flow, OpenSession, Phase, router_roles};
use crate::auth::{AuthAbort, AuthOutcome, Authorization, Challenger, NewSession, authenticate};
use crate::engine::Counters;
use crate::lifecycle::SessionContext;
use crate::realm::RealmView;
use crate::session::Control;
use crate::session::{AuthDetails, ControlSlot, Session, SessionParts};

/// A session being authenticated.
pub(super) struct PendingAuth {
    /// The realm's authentication running: the flow or a custom handler.
    future: Pin<Box<dyn Future<Output = Result<AuthOutcome, AuthAbort>> + Send>>,
    /// Where AUTHENTICATE messages go.
    answers: mpsc::Sender<serverwamp_protocol::message::Authenticate>,
    /// Whether a CHALLENGE awaits its AUTHENTICATE.
    pending: Arc<AtomicBool>,
    pub(super) deadline: Instant,
    session: NewSession,
    realm: RealmView,
}

impl PendingAuth {
    /// Waits for the running authentication to end.
    pub(super) async fn outcome(&mut self) -> Result<AuthOutcome, AuthAbort> {
        (&mut self.future).await
    }
}

impl Connection {
    pub(super) async fn on_hello(&mut self, hello: Hello) -> Flow {
        self.hello_deadline = None;
        tracing::Span::current().record("realm", hello.realm.as_str());
        let Some(realm) = self.engine.resolve_realm(&hello.realm) else {
            let message = format!("no realm named {:?}", hello.realm);
            self.abort(error::NO_SUCH_REALM, message).await;
            return Flow::Stop;
        };
        let authentication = realm.authentication().clone();
        let details = hello.details;
        let features = crate::dealer::PeerFeatures::from_roles(details.roles.as_ref());
        let session = NewSession {
            realm: hello.realm,
            session: random_id(),
            authid: details.authid,
            authrole: details.authrole,
            authmethods: details.authmethods.unwrap_or_default(),
            authextra: details.authextra.unwrap_or_default(),
            transport: self.transport.clone(),
            features,
        };
        if authentication.is_open() {
            // No authenticator: skip the machinery, admit anonymously.
            let challenger = self.challenger().0;
            let outcome = authenticate(&authentication, session.clone(), challenger).await;
            return match outcome {
                Ok(outcome) => self.open_session(session, realm, outcome).await,
                Err(abort) => self.refuse_session(abort).await,
            };
        }
        let (challenger, answers, pending) = self.challenger();
        let flow_session = session.clone();
        let future = async move {
            let running = authenticate(&authentication, flow_session, challenger);
            match AssertUnwindSafe(running).catch_unwind().await {
                Ok(outcome) => outcome,
                Err(_) => {
                    tracing::error!("an authenticator panicked");
                    Err(AuthAbort::failed())
                }
            }
        };
        self.phase = Phase::Authenticating(Box::new(PendingAuth {
            future: Box::pin(future),
            answers,
            pending,
            deadline: Instant::now() + self.config.auth_timeout,
            session,
            realm,
        }));
        Flow::Continue
    }

    fn challenger(
        &self,
    ) -> (
        Challenger,
        mpsc::Sender<serverwamp_protocol::message::Authenticate>,
        Arc<AtomicBool>,
    ) {
        let (answers, receiver) = mpsc::channel(1);
        let pending = Arc::new(AtomicBool::new(false));
        let challenger = Challenger {
            outbound: self.outbound.clone(),
            answers: receiver,
            pending: pending.clone(),
        };
        (challenger, answers, pending)
    }

    /// Messages while authenticating: only AUTHENTICATE answering a
    /// CHALLENGE, or ABORT.
    pub(super) async fn on_authentication_message(&mut self, message: Message) -> Flow {
        let Phase::Authenticating(auth) = &self.phase else {
            return Flow::Continue;
        };
        match message {
            Message::Authenticate(answer) => {
                if !auth.pending.swap(false, Ordering::AcqRel) {
                    return self
                        .protocol_violation("AUTHENTICATE received without a pending CHALLENGE")
                        .await;
                }
                let _ = auth.answers.try_send(answer);
                Flow::Continue
            }
            Message::Abort(_) => Flow::Stop,
            other => {
                let name = other.message_type();
                self.protocol_violation(&format!("{name} received during authentication"))
                    .await
            }
        }
    }

    pub(super) async fn on_authenticated(
        &mut self,
        outcome: Result<AuthOutcome, AuthAbort>,
    ) -> Flow {
        let Phase::Authenticating(auth) = std::mem::replace(&mut self.phase, Phase::NoSession)
        else {
            return Flow::Continue;
        };
        let PendingAuth { session, realm, .. } = *auth;
        match outcome {
            Ok(outcome) => self.open_session(session, realm, outcome).await,
            Err(abort) => self.refuse_session(abort).await,
        }
    }

    /// A deadline passed: the wait for HELLO, the authentication phase's,
    /// an open session's idle deadline, or the wait for the client's
    /// GOODBYE.
    pub(super) async fn on_deadline(&mut self) -> Flow {
        match &self.phase {
            Phase::NoSession => {
                tracing::debug!("closing a connection that sent no HELLO in time");
                Counters::count(&self.engine.stats.hello_timeouts);
                Flow::Stop
            }
            Phase::Authenticating(_) => {
                self.phase = Phase::NoSession;
                Counters::count(&self.engine.stats.auth_timeouts);
                crate::observe::auth_failure();
                self.abort(
                    error::AUTHENTICATION_FAILED,
                    "authentication timed out".to_owned(),
                )
                .await;
                Flow::Stop
            }
            Phase::Open(_) => self.on_idle_deadline(),
            Phase::Closing(..) => Flow::Stop,
        }
    }

    /// The idle deadline of an open session: closed if nothing arrived and
    /// no call ran since the deadline was set, else the deadline moves on.
    fn on_idle_deadline(&mut self) -> Flow {
        let (Some((_, seen)), Some(idle)) = (self.idle, self.config.limits.idle_timeout) else {
            return Flow::Continue;
        };
        if self.frames != seen || self.calls.running() > 0 {
            self.idle = Some((Instant::now() + idle, self.frames));
            return Flow::Continue;
        }
        self.idle = None;
        Counters::count(&self.engine.stats.idle_timeouts);
        tracing::debug!(?idle, "closing an idle session");
        let message = format!("the session was idle for {idle:?}");
        self.control(Control::Close {
            reason: close::KILLED.to_owned(),
            message: Some(message),
        })
    }

    async fn refuse_session(&mut self, abort: AuthAbort) -> Flow {
        tracing::debug!(reason = %abort.uri, "authentication refused");
        crate::observe::auth_failure();
        self.abort(&abort.uri, abort.message).await;
        Flow::Stop
    }

    /// Opens the session: registry, open handlers, WELCOME.
    async fn open_session(
        &mut self,
        hello: NewSession,
        realm: RealmView,
        outcome: AuthOutcome,
    ) -> Flow {
        let id = hello.session;
        let details = AuthDetails {
            authid: outcome.authid,
            authrole: outcome.authrole,
            authmethod: outcome.authmethod,
            authprovider: outcome.authprovider,
        };
        let control = Arc::new(ControlSlot::default());
        let broker = self.engine.brokers.get_or_create(
            realm.name(),
            self.config.slow_subscribers,
            self.config.relay.as_ref(),
        );
        let dealer = realm
            .allows_client_callees()
            .then(|| self.engine.dealers.get_or_create(realm.name()));
        let authextra = outcome.authenticated.authextra;
        let session = Session::new(
            SessionParts {
                id,
                realm: hello.realm.clone(),
                auth: details.clone(),
                identity: outcome.authenticated.identity,
                transport: self.transport.clone(),
                outbound: self.outbound.clone(),
                control: control.clone(),
            },
            &broker,
        );
        let _ = session.inner.router.set((realm.clone(), dealer.clone()));
        self.engine.registry.insert(session.clone());
        crate::observe::session_opened();
        let current = tracing::Span::current();
        current.record("session", id.get());
        current.record("authid", details.authid.as_str());
        let cx = SessionContext {
            session: session.clone(),
            state: self.config.state.clone(),
        };
        for handler in &self.config.open_handlers {
            handler.call(cx.clone(), "session open").await;
        }
        let welcome = Message::Welcome(Welcome {
            session: id,
            details: WelcomeDetails {
                realm: Some(hello.realm),
                roles: Some(router_roles(realm.meta_api(), dealer.is_some())),
                agent: Some(AGENT.to_owned()),
                authid: Some(details.authid),
                authrole: Some(details.authrole),
                authmethod: Some(details.authmethod),
                authprovider: Some(details.authprovider),
                authextra: (!authextra.is_empty()).then_some(authextra),
                ..WelcomeDetails::default()
            },
        });
        self.outbound.send_message(&welcome).await;
        if realm.meta_api() {
            let details = super::meta::session_details(&session);
            super::meta::meta_event(
                &broker,
                "wamp.session.on_join",
                vec![serverwamp_protocol::Value::Dict(details)],
            );
        }
        self.arm_idle();
        self.phase = Phase::Open(OpenSession {
            session,
            realm,
            control,
            broker,
            dealer,
            features: hello.features,
            progressive_done: std::collections::VecDeque::new(),
            registrations: 0,
            subscriptions: HashMap::new(),
            authorized: Decisions::default(),
            testaments: Vec::new(),
        });
        Flow::Continue
    }
}

impl Connection {
    /// Asks the realm's authorizer whether the open session may perform
    /// `action` on `uri` (always yes without one). A failing or panicking
    /// authorizer denies.
    pub(super) async fn authorize(&mut self, action: crate::auth::Action, uri: &str) -> bool {
        let Phase::Open(open) = &mut self.phase else {
            return false;
        };
        let Some(Authorization { authorizer, cache }) = open.realm.authorization().cloned() else {
            return true;
        };
        if cache && let Some(allowed) = open.authorized.get(action, uri) {
            return allowed;
        }
        let decision = authorizer.authorize(open.session.clone(), action, uri.to_owned());
        let allowed = AssertUnwindSafe(decision)
            .catch_unwind()
            .await
            .unwrap_or_else(|_| {
                tracing::error!(%action, uri, "an authorizer panicked; denying");
                false
            });
        if let Phase::Open(open) = &mut self.phase
            && cache
        {
            open.authorized.insert(action, uri, allowed);
        }
        allowed
    }
}

/// The authorizer's decision on `action` for `uri` when it is known
/// without asking: yes in a realm without an authorizer, the cached answer
/// in one whose decisions are cached; `None` when the authorizer must be
/// asked.
pub(super) fn known_decision(
    open: &OpenSession,
    action: crate::auth::Action,
    uri: &str,
) -> Option<bool> {
    match open.realm.authorization() {
        None => Some(true),
        Some(Authorization { cache: true, .. }) => open.authorized.get(action, uri),
        Some(_) => None,
    }
}

/// Authorization decisions cached for one session: per URI, one per
/// action. Looked up by `&str`, without allocating.
#[derive(Default)]
pub(super) struct Decisions(HashMap<String, [Option<bool>; 4]>);

impl Decisions {
    fn get(&self, action: crate::auth::Action, uri: &str) -> Option<bool> {
        self.0.get(uri)?[Self::slot(action)]
    }

    fn insert(&mut self, action: crate::auth::Action, uri: &str, allowed: bool) {
        let slot = Self::slot(action);
        match self.0.get_mut(uri) {
            Some(decisions) => decisions[slot] = Some(allowed),
            None => {
                let mut decisions = [None; 4];
                decisions[slot] = Some(allowed);
                self.0.insert(uri.to_owned(), decisions);
            }
        }
    }

    fn slot(action: crate::auth::Action) -> usize {
        use crate::auth::Action;
        match action {
            Action::Call => 0,
            Action::Subscribe => 1,
            Action::Publish => 2,
            Action::Register => 3,
        }
    }
}

/// The error a denied action answers.
pub(super) fn not_authorized(action: crate::auth::Action, uri: &str) -> crate::WampError {
    crate::WampError::new(error::NOT_AUTHORIZED).arg(format!("not authorized to {action} {uri:?}"))
}

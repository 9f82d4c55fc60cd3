//! Authentication and authorization of sessions.
//!
//! A realm authenticates a new session as the Python serverwamp library does: its transport
//! authenticators run in order, each given the [`NewSession`] (the HELLO's
//! authid and authmethods, the transport's cookies, headers and peer
//! address) and each answering an identity or nothing; if none accepts, the
//! realm's one challenge-based method runs (ticket, WAMP-CRA, WAMP-SCRAM or
//! cryptosign); if nothing yields an identity the session gets ABORT
//! `wamp.error.authentication_failed`. A realm without authenticators admits
//! anonymous sessions. A custom [`AuthHandler`] can replace all of it.
//!
//! Once open, a realm's [`Authorizer`] may allow or deny each call,
//! subscription, publication and registration.

pub(crate) mod config;
mod cra;
mod cryptosign;
mod flow;
mod scram;

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serverwamp_protocol::message::{Authenticate, Challenge, ChallengeExtra, Message};
use serverwamp_protocol::{Dict, Id};
use tokio::sync::mpsc;

pub(crate) use config::{Authentication, Authorization, RealmAuth};
pub use config::{Authorizer, CraRequirement, CraSalt, ScramKdf, ScramRequirement};
pub(crate) use flow::{AuthOutcome, authenticate};

use crate::link::TransportInfo;
use crate::outbound::Outbound;

/// A session being opened, as authenticators see it.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub(crate) realm: String,
    pub(crate) session: Id,
    pub(crate) authid: Option<String>,
    pub(crate) authrole: Option<String>,
    pub(crate) authmethods: Vec<String>,
    pub(crate) authextra: Dict,
    pub(crate) transport: Arc<TransportInfo>,
    /// The dealer features the client's HELLO announces.
    pub(crate) features: crate::dealer::PeerFeatures,
}

impl NewSession {
    /// The realm the client asked for.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The ID the session will have once it opens.
    pub fn session_id(&self) -> Id {
        self.session
    }

    /// The authentication ID the client asked for (`HELLO.Details.authid`).
    pub fn authid(&self) -> Option<&str> {
        self.authid.as_deref()
    }

    /// The authentication role the client asked for, if any.
    pub fn authrole(&self) -> Option<&str> {
        self.authrole.as_deref()
    }

    /// The authentication methods the client offered, in its order.
    pub fn authmethods(&self) -> &[String] {
        &self.authmethods
    }

    /// `HELLO.Details.authextra` (a cryptosign public key, a SCRAM nonce…).
    pub fn authextra(&self) -> &Dict {
        &self.authextra
    }

    /// The connection: peer address, HTTP headers, cookies.
    pub fn transport(&self) -> &TransportInfo {
        &self.transport
    }
}

/// A successful authentication: who the session is.
///
/// `identity` is any value the application chooses; handlers read it back
/// typed with [`Session::identity`](crate::Session::identity).
///
/// The authid announced in WELCOME is the one set here with
/// [`Authenticated::authid`]. Left unset, it is the HELLO's authid only
/// where the method itself proved it (WAMP-CRA and WAMP-SCRAM, whose
/// credentials are looked up by it), and the session ID everywhere else
/// (anonymous, transport, ticket, cryptosign and custom authentication): an
/// authid a client merely claims is never kept. So a ticket or transport
/// authenticator that knows who the client is says so:
/// `Authenticated::new(user).authid("alice")`. Unset role and provider come
/// from the method's requirement, or are `"user"` and the method's name.
///
/// ```
/// use serverwamp::auth::Authenticated;
///
/// #[derive(Clone)]
/// struct User { name: String }
///
/// let who = Authenticated::new(User { name: "alice".into() }).authrole("admin");
/// # let _ = who;
/// ```
#[derive(Clone, Default)]
pub struct Authenticated {
    pub(crate) authid: Option<String>,
    pub(crate) authrole: Option<String>,
    pub(crate) authprovider: Option<String>,
    pub(crate) authextra: Dict,
    pub(crate) identity: Option<Arc<dyn Any + Send + Sync>>,
}

impl Authenticated {
    /// Authenticated as `identity`.
    pub fn new<T: Any + Send + Sync>(identity: T) -> Self {
        Authenticated {
            identity: Some(Arc::new(identity)),
            ..Default::default()
        }
    }

    /// Authenticated with no application identity.
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// Sets the authentication ID announced in WELCOME.
    #[must_use]
    pub fn authid(mut self, authid: impl Into<String>) -> Self {
        self.authid = Some(authid.into());
        self
    }

    /// Sets the authentication role announced in WELCOME.
    #[must_use]
    pub fn authrole(mut self, authrole: impl Into<String>) -> Self {
        self.authrole = Some(authrole.into());
        self
    }

    /// Sets who vouched for the identity, announced in WELCOME.
    #[must_use]
    pub fn authprovider(mut self, authprovider: impl Into<String>) -> Self {
        self.authprovider = Some(authprovider.into());
        self
    }

    /// Adds `WELCOME.Details.authextra` entries.
    #[must_use]
    pub fn authextra(mut self, authextra: Dict) -> Self {
        self.authextra.extend(authextra);
        self
    }
}

impl fmt::Debug for Authenticated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticated")
            .field("authid", &self.authid)
            .field("authrole", &self.authrole)
            .field("authprovider", &self.authprovider)
            .field("has_identity", &self.identity.is_some())
            .finish_non_exhaustive()
    }
}

/// An authentication refused: the ABORT the client gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthAbort {
    /// The ABORT reason URI, e.g. `wamp.error.authentication_failed`.
    pub uri: String,
    /// The ABORT message.
    pub message: String,
}

impl AuthAbort {
    /// An ABORT with this reason and message.
    pub fn new(uri: impl Into<String>, message: impl Into<String>) -> Self {
        AuthAbort {
            uri: uri.into(),
            message: message.into(),
        }
    }

    /// `wamp.error.authentication_failed`, saying nothing of what failed.
    pub fn failed() -> Self {
        AuthAbort::new(
            serverwamp_protocol::well_known::error::AUTHENTICATION_FAILED,
            "authentication failed",
        )
    }
}

/// How an authentication ended, for a custom [`AuthHandler`].
pub type AuthResult = Result<Authenticated, AuthAbort>;

/// The boxed future of an authenticator.
pub(crate) type AuthFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Sends CHALLENGEs and receives the client's AUTHENTICATE answers; given
/// to a custom [`AuthHandler`].
pub struct Challenger {
    pub(crate) outbound: Outbound,
    pub(crate) answers: mpsc::Receiver<Authenticate>,
    /// Whether the client may send AUTHENTICATE now.
    pub(crate) pending: Arc<AtomicBool>,
}

impl Challenger {
    /// Sends `[CHALLENGE, method, extra]` and waits for the client's
    /// AUTHENTICATE. The authentication phase's deadline bounds the wait.
    ///
    /// # Errors
    /// [`AuthAbort::failed`] when the connection ends first.
    pub async fn challenge(
        &mut self,
        method: &str,
        extra: ChallengeExtra,
    ) -> Result<Authenticate, AuthAbort> {
        let message = Message::Challenge(Challenge {
            method: method.to_owned(),
            extra,
        });
        self.pending.store(true, Ordering::Release);
        if !self.outbound.send_message(&message).await {
            return Err(AuthAbort::failed());
        }
        self.answers.recv().await.ok_or_else(AuthAbort::failed)
    }
}

/// A custom authentication that replaces a realm's whole flow: it decides
/// from the [`NewSession`] and any CHALLENGE rounds it makes through the
/// [`Challenger`]. A handler that panics gets the session ABORT
/// `wamp.error.authentication_failed`.
pub trait AuthHandler: Send + Sync + 'static {
    /// Authenticates one session.
    fn authenticate(&self, session: NewSession, challenger: Challenger) -> AuthFuture<AuthResult>;
}

impl<F, Fut> AuthHandler for F
where
    F: Fn(NewSession, Challenger) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = AuthResult> + Send + 'static,
{
    fn authenticate(&self, session: NewSession, challenger: Challenger) -> AuthFuture<AuthResult> {
        Box::pin(self(session, challenger))
    }
}

/// What a session asks to do, for an [`Authorizer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// Call a procedure.
    Call,
    /// Subscribe to a topic.
    Subscribe,
    /// Publish to a topic.
    Publish,
    /// Register a procedure.
    Register,
}

impl Action {
    /// The action's name: `call`, `subscribe`, `publish`, `register`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Call => "call",
            Action::Subscribe => "subscribe",
            Action::Publish => "publish",
            Action::Register => "register",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

//! How a realm authenticates and authorizes: the hooks the application sets.

use std::future::Future;
use std::sync::Arc;

use super::{Action, AuthFuture, AuthHandler, Authenticated, NewSession};
use crate::session::Session;

/// A transport authenticator, ticket check or identity provider, erased.
pub(crate) type Authenticator<A> =
    Arc<dyn Fn(A) -> AuthFuture<Option<Authenticated>> + Send + Sync>;

/// What the application says about a WAMP-CRA principal: the shared secret
/// and what a successful authentication is announced as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CraRequirement {
    /// The shared secret (or, when salted, the password the key is derived
    /// from).
    pub secret: String,
    /// The role announced in the challenge and WELCOME.
    pub authrole: String,
    /// The provider announced in the challenge and WELCOME.
    pub authprovider: String,
    /// The salting of the secret, if it is salted.
    pub salt: Option<CraSalt>,
}

/// PBKDF2-SHA256 salting of a WAMP-CRA secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CraSalt {
    /// The salt.
    pub salt: String,
    /// PBKDF2 iterations.
    pub iterations: u32,
    /// Derived key length in bytes.
    pub keylen: u32,
}

impl CraRequirement {
    /// A requirement for an unsalted secret.
    pub fn new(
        secret: impl Into<String>,
        authrole: impl Into<String>,
        authprovider: impl Into<String>,
    ) -> Self {
        CraRequirement {
            secret: secret.into(),
            authrole: authrole.into(),
            authprovider: authprovider.into(),
            salt: None,
        }
    }

    /// Marks the secret as salted: the client derives its key with
    /// PBKDF2-SHA256 from the secret and `salt`.
    #[must_use]
    pub fn salted(mut self, salt: impl Into<String>, iterations: u32, keylen: u32) -> Self {
        self.salt = Some(CraSalt {
            salt: salt.into(),
            iterations,
            keylen,
        });
        self
    }
}

/// What the WAMP-CRA challenges of a realm's real principals look like: the
/// latest one's role and provider, and the salting in use (the latest salted
/// principal's), if any principal has a salted secret.
#[derive(Debug, Clone, Default)]
pub(crate) struct CraShape {
    pub(crate) authrole: Option<String>,
    pub(crate) authprovider: Option<String>,
    /// Salt length, iterations and key length.
    pub(crate) salting: Option<(usize, u32, u32)>,
}

impl CraShape {
    /// Learns from a real principal's requirement.
    pub(crate) fn learn(&mut self, requirement: &CraRequirement) {
        self.authrole = Some(requirement.authrole.clone());
        self.authprovider = Some(requirement.authprovider.clone());
        if let Some(salt) = &requirement.salt {
            self.salting = Some((salt.salt.len(), salt.iterations, salt.keylen));
        }
    }
}

/// Provides a WAMP-CRA requirement for a session (`None`: unknown principal).
pub(crate) type CraRequirementProvider =
    Arc<dyn Fn(NewSession) -> AuthFuture<Option<CraRequirement>> + Send + Sync>;

/// The key derivation function of a WAMP-SCRAM credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScramKdf {
    /// Argon2id version 1.3 (the spec's `argon2id13`).
    Argon2id13 {
        /// Memory cost in KiB.
        memory_kib: u32,
        /// Passes over the memory.
        iterations: u32,
    },
    /// PBKDF2-HMAC-SHA256 (`pbkdf2`; the spec's dialect only).
    Pbkdf2 {
        /// Iterations.
        iterations: u32,
    },
}

/// What the application says about a WAMP-SCRAM principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramRequirement {
    /// The principal's password.
    pub password: String,
    /// The principal's salt.
    pub salt: Vec<u8>,
    /// How the password is stretched.
    pub kdf: ScramKdf,
    /// The role announced in WELCOME.
    pub authrole: String,
    /// The provider announced in WELCOME.
    pub authprovider: String,
}

/// Provides a WAMP-SCRAM requirement for a session (`None`: unknown principal).
pub(crate) type ScramRequirementProvider =
    Arc<dyn Fn(NewSession) -> AuthFuture<Option<ScramRequirement>> + Send + Sync>;

/// A realm's challenge-based method.
#[derive(Clone)]
pub(crate) enum ChallengeMethod {
    Ticket(Authenticator<(NewSession, String)>),
    Cra {
        requirement: CraRequirementProvider,
        identity: Authenticator<NewSession>,
        /// What real principals' challenges look like, so that challenges
        /// for unknown principals look the same.
        typical: Arc<std::sync::Mutex<CraShape>>,
    },
    Scram {
        requirement: ScramRequirementProvider,
        identity: Authenticator<NewSession>,
        /// The KDF of the latest real principal, so that challenges for
        /// unknown principals look like real ones.
        typical_kdf: Arc<std::sync::Mutex<Option<ScramKdf>>>,
    },
    Cryptosign(Authenticator<(NewSession, String)>),
}

impl ChallengeMethod {
    /// The first of the client's authmethods this method answers to.
    pub(crate) fn pick<'a>(&self, offered: &'a [String]) -> Option<&'a str> {
        let names: &[&str] = match self {
            ChallengeMethod::Ticket(_) => &["ticket"],
            ChallengeMethod::Cra { .. } => &["wampcra"],
            // autobahn-python and Crossbar call their SCRAM dialect `scram`.
            ChallengeMethod::Scram { .. } => &["wamp-scram", "scram"],
            ChallengeMethod::Cryptosign(_) => &["cryptosign"],
        };
        offered
            .iter()
            .map(String::as_str)
            .find(|m| names.contains(m))
    }

    /// The method's name, for messages.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            ChallengeMethod::Ticket(_) => "ticket",
            ChallengeMethod::Cra { .. } => "wampcra",
            ChallengeMethod::Scram { .. } => "wamp-scram",
            ChallengeMethod::Cryptosign(_) => "cryptosign",
        }
    }
}

/// Decides whether a session may perform an action on a URI.
///
/// Implemented for every `async fn(Session, Action, String) -> bool`.
pub trait Authorizer: Send + Sync + 'static {
    /// Whether `session` may perform `action` on `uri`.
    fn authorize(&self, session: Session, action: Action, uri: String) -> AuthFuture<bool>;
}

impl<F, Fut> Authorizer for F
where
    F: Fn(Session, Action, String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    fn authorize(&self, session: Session, action: Action, uri: String) -> AuthFuture<bool> {
        Box::pin(self(session, action, uri))
    }
}

/// How sessions of a realm authenticate: transport authenticators, one
/// challenge-based method, or a custom handler; nothing at all admits
/// anonymous sessions.
#[derive(Clone, Default)]
pub(crate) struct Authentication {
    pub(crate) transport: Vec<Authenticator<NewSession>>,
    pub(crate) challenge: Option<ChallengeMethod>,
    pub(crate) custom: Option<Arc<dyn AuthHandler>>,
}

impl Authentication {
    /// Whether sessions are admitted anonymously (no authenticator set).
    pub(crate) fn is_open(&self) -> bool {
        self.transport.is_empty() && self.challenge.is_none() && self.custom.is_none()
    }
}

/// Who decides what a realm's sessions may do.
#[derive(Clone)]
pub(crate) struct Authorization {
    pub(crate) authorizer: Arc<dyn Authorizer>,
    /// Whether each session asks once per action and URI.
    pub(crate) cache: bool,
}

/// What an application or a realm says about authentication and
/// authorization. `None` says nothing: a realm then inherits the
/// application's setting, and the application's default is anonymous
/// sessions that may do anything.
#[derive(Clone, Default)]
pub(crate) struct RealmAuth {
    pub(crate) authentication: Option<Arc<Authentication>>,
    pub(crate) authorization: Option<Authorization>,
}

impl RealmAuth {
    /// The authentication to change: this level's own, made on first use
    /// (from nothing: a realm's first authenticator replaces the
    /// application's whole authentication, never adds to it).
    pub(crate) fn authentication_mut(&mut self) -> &mut Authentication {
        Arc::make_mut(self.authentication.get_or_insert_with(Arc::default))
    }

    /// This realm's settings where it has them, the application's
    /// (`inherited`) where it has none.
    pub(crate) fn over(&self, inherited: &RealmAuth) -> RealmAuth {
        RealmAuth {
            authentication: self
                .authentication
                .clone()
                .or_else(|| inherited.authentication.clone()),
            authorization: self
                .authorization
                .clone()
                .or_else(|| inherited.authorization.clone()),
        }
    }
}

/// Boxes an async function of one argument as an authenticator.
pub(crate) fn boxed<A, F, Fut>(f: F) -> Authenticator<A>
where
    F: Fn(A) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<Authenticated>> + Send + 'static,
{
    Arc::new(move |a| Box::pin(f(a)))
}

/// The authentication settings shared by [`Application`](crate::Application)
/// (for every realm) and [`Realm`](crate::Realm) (for one, in place of the
/// application's).
macro_rules! auth_builder_methods {
    ($auth:ident) => {
        /// Admits sessions anonymously, without authentication. On a
        /// [`Realm`](crate::Realm), in place of the application's
        /// authentication, which the realm would otherwise inherit.
        pub fn allow_anonymous(&mut self) -> &mut Self {
            self.$auth().authentication = Some(std::sync::Arc::default());
            self
        }

        /// Adds a transport authenticator: an async function given the new
        /// session (its HELLO and transport: cookies, headers, peer
        /// address) that returns an identity, or `None` to leave the
        /// decision to the next authenticator. They run in the order added.
        pub fn add_transport_authenticator<F, Fut>(&mut self, authenticator: F) -> &mut Self
        where
            F: Fn($crate::auth::NewSession) -> Fut + Send + Sync + 'static,
            Fut: std::future::Future<Output = Option<$crate::auth::Authenticated>> + Send + 'static,
        {
            self.$auth()
                .authentication_mut()
                .transport
                .push($crate::auth::config::boxed(authenticator));
            self
        }

        /// Sets ticket authentication (`CHALLENGE ticket`): `check` gets
        /// the session and the client's ticket and returns an identity or
        /// `None`. One challenge-based method per realm.
        pub fn set_ticket_authenticator<F, Fut>(&mut self, check: F) -> &mut Self
        where
            F: Fn($crate::auth::NewSession, String) -> Fut + Send + Sync + 'static,
            Fut: std::future::Future<Output = Option<$crate::auth::Authenticated>> + Send + 'static,
        {
            let check = std::sync::Arc::new(check);
            let boxed =
                $crate::auth::config::boxed(move |(session, ticket)| check(session, ticket));
            self.$auth().authentication_mut().challenge =
                Some($crate::auth::config::ChallengeMethod::Ticket(boxed));
            self
        }

        /// Sets WAMP-CRA: `requirement` gives a principal's secret, role,
        /// provider and salting (or `None` for an unknown principal);
        /// `identity` is called after a correct signature and returns the
        /// identity. One challenge-based method per realm.
        pub fn set_cra_handlers<R, RFut, I, IFut>(
            &mut self,
            requirement: R,
            identity: I,
        ) -> &mut Self
        where
            R: Fn($crate::auth::NewSession) -> RFut + Send + Sync + 'static,
            RFut:
                std::future::Future<Output = Option<$crate::auth::CraRequirement>> + Send + 'static,
            I: Fn($crate::auth::NewSession) -> IFut + Send + Sync + 'static,
            IFut:
                std::future::Future<Output = Option<$crate::auth::Authenticated>> + Send + 'static,
        {
            let requirement: $crate::auth::config::CraRequirementProvider =
                std::sync::Arc::new(move |s| Box::pin(requirement(s)));
            self.$auth().authentication_mut().challenge =
                Some($crate::auth::config::ChallengeMethod::Cra {
                    requirement,
                    identity: $crate::auth::config::boxed(identity),
                    typical: std::sync::Arc::default(),
                });
            self
        }

        /// Sets WAMP-SCRAM (`wamp-scram`, and the `scram` dialect of
        /// autobahn-python and Crossbar): `requirement` gives a principal's
        /// password, salt, KDF, role and provider (or `None` for an unknown
        /// principal); `identity` is called after a correct proof.
        pub fn set_scram_handlers<R, RFut, I, IFut>(
            &mut self,
            requirement: R,
            identity: I,
        ) -> &mut Self
        where
            R: Fn($crate::auth::NewSession) -> RFut + Send + Sync + 'static,
            RFut: std::future::Future<Output = Option<$crate::auth::ScramRequirement>>
                + Send
                + 'static,
            I: Fn($crate::auth::NewSession) -> IFut + Send + Sync + 'static,
            IFut:
                std::future::Future<Output = Option<$crate::auth::Authenticated>> + Send + 'static,
        {
            let requirement: $crate::auth::config::ScramRequirementProvider =
                std::sync::Arc::new(move |s| Box::pin(requirement(s)));
            self.$auth().authentication_mut().challenge =
                Some($crate::auth::config::ChallengeMethod::Scram {
                    requirement,
                    identity: $crate::auth::config::boxed(identity),
                    typical_kdf: std::sync::Arc::default(),
                });
            self
        }

        /// Sets WAMP-Cryptosign (Ed25519): `check` gets the session and the
        /// client's public key (hex, from `HELLO.Details.authextra.pubkey`)
        /// and returns the identity that key stands for, or `None`. The
        /// client must then sign a fresh challenge with the matching key.
        pub fn set_cryptosign_authenticator<F, Fut>(&mut self, check: F) -> &mut Self
        where
            F: Fn($crate::auth::NewSession, String) -> Fut + Send + Sync + 'static,
            Fut: std::future::Future<Output = Option<$crate::auth::Authenticated>> + Send + 'static,
        {
            let check = std::sync::Arc::new(check);
            let boxed = $crate::auth::config::boxed(move |(session, key)| check(session, key));
            self.$auth().authentication_mut().challenge =
                Some($crate::auth::config::ChallengeMethod::Cryptosign(boxed));
            self
        }

        /// Replaces the whole authentication flow with `handler`.
        pub fn set_auth_handler<H: $crate::auth::AuthHandler>(&mut self, handler: H) -> &mut Self {
            self.$auth().authentication_mut().custom = Some(std::sync::Arc::new(handler));
            self
        }

        /// Asks `authorizer` before every call, subscription, publication
        /// and registration of the realm's sessions; a denial answers
        /// `wamp.error.not_authorized`. With `cache`, each session asks once
        /// per action and URI.
        pub fn set_authorizer<A: $crate::auth::Authorizer>(
            &mut self,
            authorizer: A,
            cache: bool,
        ) -> &mut Self {
            self.$auth().authorization = Some($crate::auth::config::Authorization {
                authorizer: std::sync::Arc::new(authorizer),
                cache,
            });
            self
        }
    };
}

pub(crate) use auth_builder_methods;

//! The built-in authentication flow of a realm.

use serverwamp_protocol::message::ChallengeExtra;
use serverwamp_protocol::well_known::error;

use super::config::{ChallengeMethod, CraRequirement, RealmAuth};
use super::{AuthAbort, Authenticated, Challenger, NewSession, cra};

/// Who a session turned out to be, with every WELCOME field decided.
#[derive(Debug)]
pub(crate) struct AuthOutcome {
    pub(crate) authenticated: Authenticated,
    pub(crate) authid: String,
    pub(crate) authrole: String,
    pub(crate) authmethod: String,
    pub(crate) authprovider: String,
}

impl AuthOutcome {
    /// Fills what the authenticator left open.
    fn decide(
        authenticated: Authenticated,
        session: &NewSession,
        authmethod: &str,
        default_role: &str,
        default_provider: &str,
    ) -> Self {
        AuthOutcome {
            authid: authenticated
                .authid
                .clone()
                .or_else(|| session.authid.clone())
                .unwrap_or_else(|| session.session.to_string()),
            authrole: authenticated
                .authrole
                .clone()
                .unwrap_or_else(|| default_role.to_owned()),
            authprovider: authenticated
                .authprovider
                .clone()
                .unwrap_or_else(|| default_provider.to_owned()),
            authmethod: authmethod.to_owned(),
            authenticated,
        }
    }
}

/// Runs a realm's authentication: a custom handler if set; else transport
/// authenticators in order, then the challenge-based method; anonymous
/// when the realm has no authenticator at all.
pub(crate) async fn authenticate(
    auth: &RealmAuth,
    session: NewSession,
    challenger: Challenger,
) -> Result<AuthOutcome, AuthAbort> {
    if let Some(custom) = &auth.custom {
        let authenticated = custom.authenticate(session.clone(), challenger).await?;
        return Ok(AuthOutcome::decide(
            authenticated,
            &session,
            "custom",
            "user",
            "custom",
        ));
    }
    if auth.is_open() {
        return Ok(AuthOutcome::decide(
            Authenticated::anonymous(),
            &session,
            "anonymous",
            "anonymous",
            "static",
        ));
    }
    for authenticator in &auth.transport {
        if let Some(authenticated) = authenticator(session.clone()).await {
            return Ok(AuthOutcome::decide(
                authenticated,
                &session,
                "transport",
                "user",
                "transport",
            ));
        }
    }
    let Some(method) = &auth.challenge else {
        return Err(AuthAbort::failed());
    };
    // Spec, "Authentication Methods": the client lists the methods it can
    // do; a realm offers one challenge-based method.
    if !session.authmethods.iter().any(|m| m == method.name()) {
        let message = if auth.transport.is_empty() {
            format!("this realm authenticates with {:?}", method.name())
        } else {
            "authentication failed".to_owned()
        };
        let uri = if auth.transport.is_empty() {
            error::NO_MATCHING_AUTH_METHOD
        } else {
            error::AUTHENTICATION_FAILED
        };
        return Err(AuthAbort::new(uri, message));
    }
    match method {
        ChallengeMethod::Ticket(check) => ticket(check, session, challenger).await,
        ChallengeMethod::Cra {
            requirement,
            identity,
        } => {
            let requirement = requirement(session.clone()).await;
            wampcra(requirement, identity, session, challenger).await
        }
    }
}

async fn ticket(
    check: &super::config::Authenticator<(NewSession, String)>,
    session: NewSession,
    mut challenger: Challenger,
) -> Result<AuthOutcome, AuthAbort> {
    let answer = challenger
        .challenge("ticket", ChallengeExtra::default())
        .await?;
    let authenticated = check((session.clone(), answer.signature))
        .await
        .ok_or_else(AuthAbort::failed)?;
    Ok(AuthOutcome::decide(
        authenticated,
        &session,
        "ticket",
        "user",
        "static",
    ))
}

/// WAMP-CRA. An unknown principal still gets a challenge (with a key
/// nobody knows), so a client cannot tell unknown names from wrong
/// secrets.
async fn wampcra(
    requirement: Option<CraRequirement>,
    identity: &super::config::Authenticator<NewSession>,
    session: NewSession,
    mut challenger: Challenger,
) -> Result<AuthOutcome, AuthAbort> {
    let known = requirement.is_some();
    let requirement = requirement.unwrap_or_else(|| {
        let mut secret = [0u8; 32];
        rand::fill(&mut secret);
        use base64::Engine as _;
        let secret = base64::engine::general_purpose::STANDARD.encode(secret);
        CraRequirement::new(secret, "user", "unknown")
    });
    let authid = session.authid.clone().unwrap_or_default();
    let mut nonce = [0u8; 16];
    rand::fill(&mut nonce);
    let challenge = cra::challenge(
        &authid,
        &requirement.authrole,
        &requirement.authprovider,
        session.session.get(),
        &nonce,
        &cra::utc_timestamp(std::time::SystemTime::now()),
    );
    let mut extra = ChallengeExtra {
        challenge: Some(challenge.clone()),
        ..ChallengeExtra::default()
    };
    let key = match &requirement.salt {
        Some(salt) => {
            extra.salt = Some(salt.salt.clone());
            extra.iterations = Some(u64::from(salt.iterations));
            extra.keylen = Some(u64::from(salt.keylen));
            let keylen = usize::try_from(salt.keylen).map_err(|_| AuthAbort::failed())?;
            cra::derive_key(&requirement.secret, &salt.salt, salt.iterations, keylen)
        }
        None => requirement.secret.clone(),
    };
    let answer = challenger.challenge("wampcra", extra).await?;
    if !known || authid.is_empty() || !cra::verify(key.as_bytes(), &challenge, &answer.signature) {
        return Err(AuthAbort::failed());
    }
    let authenticated = identity(session.clone())
        .await
        .ok_or_else(AuthAbort::failed)?;
    Ok(AuthOutcome::decide(
        authenticated,
        &session,
        "wampcra",
        &requirement.authrole,
        &requirement.authprovider,
    ))
}

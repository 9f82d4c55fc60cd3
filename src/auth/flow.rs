//! The built-in authentication flow of a realm.

use serverwamp_protocol::message::ChallengeExtra;
use serverwamp_protocol::well_known::error;

use super::config::{
    Authentication, ChallengeMethod, CraRequirement, CraShape, ScramKdf, ScramRequirement,
};
use super::scram::{self, ScramDialect};
use super::{AuthAbort, Authenticated, Challenger, NewSession, cra, cryptosign};

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
    /// Fills what the authenticator left open. The authid is the one the
    /// authenticator set; else `proven_authid`, the HELLO's authid when the
    /// method itself proved it (WAMP-CRA and WAMP-SCRAM look the credential
    /// up by it); else the session ID. An authid a client only claimed in
    /// HELLO is never kept.
    fn decide(
        authenticated: Authenticated,
        session: &NewSession,
        proven_authid: Option<&str>,
        authmethod: &str,
        (default_role, default_provider): (&str, &str),
    ) -> Self {
        AuthOutcome {
            authid: authenticated
                .authid
                .clone()
                .or_else(|| proven_authid.map(str::to_owned))
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
    auth: &Authentication,
    session: NewSession,
    challenger: Challenger,
) -> Result<AuthOutcome, AuthAbort> {
    if let Some(custom) = &auth.custom {
        let authenticated = custom.authenticate(session.clone(), challenger).await?;
        return Ok(AuthOutcome::decide(
            authenticated,
            &session,
            None,
            "custom",
            ("user", "custom"),
        ));
    }
    if auth.is_open() {
        return Ok(AuthOutcome::decide(
            Authenticated::anonymous(),
            &session,
            None,
            "anonymous",
            ("anonymous", "static"),
        ));
    }
    // Ambient credentials (cookies, headers) of a page of another origin
    // are the browser's, not the page's: cross-site WebSocket hijacking.
    let transport = if session.transport.is_cross_origin() {
        if !auth.transport.is_empty() {
            tracing::debug!(
                origin = session.transport.origin(),
                "cross-origin upgrade: transport authenticators skipped"
            );
        }
        &[][..]
    } else {
        &auth.transport[..]
    };
    for authenticator in transport {
        if let Some(authenticated) = authenticator(session.clone()).await {
            return Ok(AuthOutcome::decide(
                authenticated,
                &session,
                None,
                "transport",
                ("user", "transport"),
            ));
        }
    }
    let Some(method) = &auth.challenge else {
        return Err(AuthAbort::failed());
    };
    // Spec, "Authentication Methods": the client lists the methods it can
    // do; a realm offers one challenge-based method.
    let Some(chosen) = method.pick(&session.authmethods).map(str::to_owned) else {
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
    };
    match method {
        ChallengeMethod::Ticket(check) => ticket(check, session, challenger).await,
        ChallengeMethod::Cra {
            requirement,
            identity,
            typical,
        } => {
            let requirement = requirement(session.clone()).await;
            let shape = {
                let mut typical = typical
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(known) = &requirement {
                    typical.learn(known);
                }
                typical.clone()
            };
            let known = requirement.is_some();
            let requirement =
                requirement.unwrap_or_else(|| unknown_cra_principal(&session, &shape));
            wampcra((requirement, known), identity, session, challenger).await
        }
        ChallengeMethod::Scram {
            requirement,
            identity,
            typical_kdf,
        } => {
            let dialect = if chosen == "scram" {
                ScramDialect::Crossbar
            } else {
                ScramDialect::Wamp
            };
            let requirement = requirement(session.clone()).await;
            let typical = {
                let mut typical = typical_kdf
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(known) = &requirement {
                    *typical = Some(known.kdf);
                }
                *typical
            };
            let known = requirement.is_some();
            let requirement = requirement.unwrap_or_else(|| unknown_principal(&session, typical));
            wamp_scram(dialect, (requirement, known), identity, session, challenger).await
        }
        ChallengeMethod::Cryptosign(check) => cryptosign_flow(check, session, challenger).await,
    }
}

/// A string from `HELLO.Details.authextra`.
fn authextra_str<'a>(session: &'a NewSession, key: &str) -> Option<&'a str> {
    session
        .authextra
        .get(key)
        .and_then(serverwamp_protocol::Value::as_str)
}

/// A salt for a principal the application does not know: always the same
/// for the same realm and authid (else a second HELLO would tell that the
/// name is unknown), unpredictable without the process's random key.
fn stable_fake_salt(session: &NewSession) -> [u8; 32] {
    use hmac::{KeyInit, Mac};
    static SALT_KEY: std::sync::LazyLock<[u8; 32]> = std::sync::LazyLock::new(rand::random);
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&*SALT_KEY).expect("any key length");
    mac.update(session.realm.as_bytes());
    mac.update(&[0]);
    mac.update(session.authid.as_deref().unwrap_or_default().as_bytes());
    mac.finalize().into_bytes().into()
}

/// A stand-in for a principal the application does not know. Spec,
/// "WAMP-SCRAM": its challenge must look like a real one, with a salt that
/// is always the same for a given authid and, here, the KDF real
/// principals use.
fn unknown_principal(session: &NewSession, typical: Option<ScramKdf>) -> ScramRequirement {
    ScramRequirement {
        password: base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            rand::random::<[u8; 24]>(),
        ),
        salt: stable_fake_salt(session)[..16].to_vec(),
        kdf: typical.unwrap_or(ScramKdf::Argon2id13 {
            memory_kib: 4096,
            iterations: 3,
        }),
        authrole: "user".to_owned(),
        authprovider: "unknown".to_owned(),
    }
}

/// A WAMP-CRA stand-in for a principal the application does not know: a
/// secret nobody knows, and the role, provider and salting of the realm's
/// real principals, with a salt as long as theirs that is always the same
/// for the same authid. Its challenge reads like a real one.
fn unknown_cra_principal(session: &NewSession, shape: &CraShape) -> CraRequirement {
    use base64::Engine as _;
    let secret = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
    let mut requirement = CraRequirement::new(
        secret,
        shape.authrole.as_deref().unwrap_or("user"),
        shape.authprovider.as_deref().unwrap_or("static"),
    );
    if let Some((salt_len, iterations, keylen)) = shape.salting {
        let encoded =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(stable_fake_salt(session));
        // Real salts of any length are copied in length; the 43 characters
        // of one HMAC repeat for longer ones.
        let salt: String = encoded.chars().cycle().take(salt_len.max(1)).collect();
        requirement = requirement.salted(salt, iterations, keylen);
    }
    requirement
}

/// WAMP-SCRAM in the client's dialect. An unknown principal gets a
/// challenge from a credential nobody knows, like a wrong password.
async fn wamp_scram(
    dialect: ScramDialect,
    (requirement, known): (ScramRequirement, bool),
    identity: &super::config::Authenticator<NewSession>,
    session: NewSession,
    mut challenger: Challenger,
) -> Result<AuthOutcome, AuthAbort> {
    let failed = |e: &dyn std::fmt::Display| {
        tracing::debug!(error = %e, "WAMP-SCRAM refused");
        AuthAbort::failed()
    };
    let authid = session.authid.clone().ok_or_else(AuthAbort::failed)?;
    let client_nonce = authextra_str(&session, "nonce").ok_or_else(AuthAbort::failed)?;
    // No TLS channel binding data exists on this transport.
    if authextra_str(&session, "channel_binding").is_some() {
        return Err(AuthAbort::failed());
    }
    let kdf = match requirement.kdf {
        ScramKdf::Argon2id13 {
            memory_kib,
            iterations,
        } => scram::Kdf::Argon2id13 {
            memory_kib,
            iterations,
        },
        ScramKdf::Pbkdf2 { iterations } => scram::Kdf::Pbkdf2 { iterations },
    };
    let (password, salt) = (requirement.password.clone(), requirement.salt.clone());
    // Key stretching is deliberately slow: keep it off the async workers.
    let credential = tokio::task::spawn_blocking(move || {
        scram::ScramCredential::from_password(&password, &salt, kdf, dialect)
    })
    .await
    .map_err(|e| failed(&e))?
    .map_err(|e| failed(&e))?;
    let server =
        scram::ScramServer::new(credential, &authid, client_nonce, None).map_err(|e| failed(&e))?;
    let offered = server.challenge_extra();
    let extra = ChallengeExtra {
        nonce: Some(offered.nonce.to_owned()),
        salt: Some(offered.salt.to_owned()),
        kdf: Some(offered.kdf.to_owned()),
        iterations: Some(u64::from(offered.iterations)),
        memory: offered.memory.map(u64::from),
        ..ChallengeExtra::default()
    };
    let answer = challenger.challenge(dialect.authmethod(), extra).await?;
    let answer_extra = scram::AuthenticateExtra {
        nonce: answer.extra.nonce.as_deref(),
        channel_binding: answer.extra.channel_binding.as_deref(),
        cbind_data: answer.extra.cbind_data.as_deref(),
    };
    let server_signature = server
        .verify(&answer.signature, &answer_extra)
        .map_err(|e| failed(&e))?;
    if !known {
        return Err(AuthAbort::failed());
    }
    let authenticated = identity(session.clone())
        .await
        .ok_or_else(AuthAbort::failed)?;
    // The spec names the signature `verifier`; autobahn and Crossbar read
    // `scram_server_signature`.
    let key = match dialect {
        ScramDialect::Wamp => "verifier",
        ScramDialect::Crossbar => "scram_server_signature",
    };
    let mut authextra = serverwamp_protocol::Dict::new();
    authextra.insert(key.to_owned(), server_signature.into());
    Ok(AuthOutcome::decide(
        authenticated.authextra(authextra),
        &session,
        Some(&authid),
        dialect.authmethod(),
        (&requirement.authrole, &requirement.authprovider),
    ))
}

/// WAMP-Cryptosign: the client proves it holds the private key of the
/// public key it announced. Channel binding needs TLS data this transport
/// does not have, so (as the spec allows) the router goes on without it.
async fn cryptosign_flow(
    check: &super::config::Authenticator<(NewSession, String)>,
    session: NewSession,
    mut challenger: Challenger,
) -> Result<AuthOutcome, AuthAbort> {
    let public_key = authextra_str(&session, "pubkey")
        .ok_or_else(AuthAbort::failed)?
        .to_owned();
    cryptosign::parse_public_key(&public_key).map_err(|e| {
        tracing::debug!(error = %e, "cryptosign public key refused");
        AuthAbort::failed()
    })?;
    let principal = check((session.clone(), public_key.to_ascii_lowercase())).await;
    let challenge = cryptosign::new_challenge();
    let extra = ChallengeExtra {
        challenge: Some(cryptosign::challenge_hex(&challenge)),
        ..ChallengeExtra::default()
    };
    let answer = challenger.challenge("cryptosign", extra).await?;
    let verified = cryptosign::verify(
        &public_key,
        &challenge,
        &cryptosign::ChannelBinding::None,
        &answer.signature,
    );
    match (verified, principal) {
        (Ok(()), Some(authenticated)) => Ok(AuthOutcome::decide(
            authenticated,
            &session,
            None,
            "cryptosign",
            ("user", "static"),
        )),
        (Err(e), _) => {
            tracing::debug!(error = %e, "cryptosign signature refused");
            Err(AuthAbort::failed())
        }
        (Ok(()), None) => Err(AuthAbort::failed()),
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
        None,
        "ticket",
        ("user", "static"),
    ))
}

/// WAMP-CRA. An unknown principal still gets a challenge (from a stand-in
/// requirement, see [`unknown_cra_principal`]), so a client cannot tell
/// unknown names from wrong secrets.
async fn wampcra(
    (requirement, known): (CraRequirement, bool),
    identity: &super::config::Authenticator<NewSession>,
    session: NewSession,
    mut challenger: Challenger,
) -> Result<AuthOutcome, AuthAbort> {
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
        Some(&authid),
        "wampcra",
        (&requirement.authrole, &requirement.authprovider),
    ))
}

//! TLS with rustls: a server configuration from PEM files, optionally
//! verifying client certificates.
//!
//! [`TlsConfig`] reads a certificate chain and its private key from PEM
//! and builds the [`rustls::ServerConfig`] that
//! [`ServeOptions::tls`](crate::transport::listener::ServeOptions::tls)
//! takes; WebSocket and RawSocket connections alike are then encrypted.
//!
//! ```no_run
//! use serverwamp::Application;
//! use serverwamp::transport::listener::{self, ServeOptions};
//! use serverwamp::transport::tls::TlsConfig;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let tls = TlsConfig::from_pem_files("cert.pem", "key.pem")?.build()?;
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8443").await?;
//! listener::serve(Application::new(), listener, ServeOptions::new().tls(tls)).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Client certificates
//!
//! Give the certificate authorities that issue client certificates with
//! [`TlsConfig::client_ca_pem`] and the server asks every client for a
//! certificate and verifies the ones it gets. A client that has none is
//! still let in unless [`TlsConfig::require_client_certificate`] says
//! otherwise, so that a realm can decide: the verified certificate (DER)
//! is in [`TransportInfo::peer_certificate`](crate::link::TransportInfo::peer_certificate),
//! where transport authenticators read it.
//!
//! ```
//! use serverwamp::Application;
//! use serverwamp::auth::{Authenticated, NewSession};
//!
//! let mut app = Application::new();
//! app.realm("devices")
//!     .add_transport_authenticator(|session: NewSession| async move {
//!         // A real application would look the certificate up, or read its
//!         // subject with an X.509 parser.
//!         let der = session.transport().peer_certificate()?;
//!         Some(Authenticated::anonymous().authid(format!("device-{}", der.len())))
//!     });
//! ```
//!
//! Anything [`TlsConfig`] does not cover (ALPN, session resumption, other
//! verifiers) can be set on a [`rustls::ServerConfig`] built directly with
//! the re-exported [`rustls`] crate, whose `ring` provider is the one this
//! library enables.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

pub use tokio_rustls::rustls;

use self::rustls::RootCertStore;
use self::rustls::pki_types::pem::PemObject;
use self::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use self::rustls::server::WebPkiClientVerifier;
use self::rustls::{ServerConfig, crypto::CryptoProvider};

/// Builds a [`rustls::ServerConfig`] from a PEM certificate chain and
/// private key, with optional client-certificate verification.
///
/// ```
/// use serverwamp::transport::tls::TlsConfig;
///
/// # fn pems() -> (Vec<u8>, Vec<u8>) {
/// #     let key = rcgen::KeyPair::generate().unwrap();
/// #     let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
/// #         .unwrap()
/// #         .self_signed(&key)
/// #         .unwrap();
/// #     (cert.pem().into_bytes(), key.serialize_pem().into_bytes())
/// # }
/// let (cert_pem, key_pem) = pems();
/// let config = TlsConfig::from_pem(&cert_pem, &key_pem)?.build()?;
/// # let _ = config;
/// # Ok::<(), serverwamp::transport::tls::TlsError>(())
/// ```
///
/// The cryptography is rustls's `ring` provider, whatever provider the
/// process installed as its default.
pub struct TlsConfig {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_roots: RootCertStore,
    client_required: bool,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The private key stays out of logs.
        f.debug_struct("TlsConfig")
            .field("certificates", &self.chain.len())
            .field("client_cas", &self.client_roots.len())
            .field("client_required", &self.client_required)
            .finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// The server's certificate chain (the server's own certificate first,
    /// then the intermediates) and its private key, both PEM. The key may
    /// be PKCS#8, PKCS#1 (RSA) or SEC1 (EC); the first one found is used.
    ///
    /// # Errors
    /// [`TlsError::is_pem`] when `cert_chain` holds no certificate or
    /// `key` no private key, or either is malformed.
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<Self, TlsError> {
        let chain = CertificateDer::pem_slice_iter(cert_chain)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| TlsError::pem("certificate chain", &error))?;
        if chain.is_empty() {
            return Err(TlsError::new(
                Kind::Pem,
                "no certificate in the certificate chain PEM",
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(key)
            .map_err(|error| TlsError::pem("private key", &error))?;
        Ok(Self::from_der(chain, key))
    }

    /// As [`TlsConfig::from_pem`], reading the two PEM files (which may be
    /// one and the same).
    ///
    /// # Errors
    /// [`TlsError::is_io`] when a file cannot be read; otherwise as
    /// [`TlsConfig::from_pem`].
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, TlsError> {
        let cert_chain = read(cert_chain.as_ref())?;
        let key = read(key.as_ref())?;
        Self::from_pem(&cert_chain, &key)
    }

    /// The certificate chain and private key, already decoded (DER).
    pub fn from_der(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Self {
        TlsConfig {
            chain,
            key,
            client_roots: RootCertStore::empty(),
            client_required: false,
        }
    }

    /// Trusts the certificate authorities in `pem` to issue client
    /// certificates: the server then asks each client for a certificate
    /// and verifies the one it presents (a client whose certificate fails
    /// verification is refused during the handshake). May be called more
    /// than once to add more authorities.
    ///
    /// # Errors
    /// [`TlsError::is_pem`] when `pem` holds no certificate or is
    /// malformed, [`TlsError::is_invalid`] when a certificate is not a
    /// usable trust anchor.
    pub fn client_ca_pem(mut self, pem: &[u8]) -> Result<Self, TlsError> {
        let cas = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| TlsError::pem("client CA", &error))?;
        if cas.is_empty() {
            return Err(TlsError::new(
                Kind::Pem,
                "no certificate in the client CA PEM",
            ));
        }
        for ca in cas {
            self.client_roots.add(ca).map_err(|error| {
                TlsError::new(Kind::Invalid, format!("unusable client CA: {error}"))
            })?;
        }
        Ok(self)
    }

    /// As [`TlsConfig::client_ca_pem`], reading a PEM file.
    ///
    /// # Errors
    /// [`TlsError::is_io`] when the file cannot be read; otherwise as
    /// [`TlsConfig::client_ca_pem`].
    pub fn client_ca_pem_file(self, path: impl AsRef<Path>) -> Result<Self, TlsError> {
        let pem = read(path.as_ref())?;
        self.client_ca_pem(&pem)
    }

    /// Whether a client without a certificate is refused during the TLS
    /// handshake (default `false`: it is let in, and realms decide, e.g.
    /// with a transport authenticator that looks for the certificate).
    /// Needs [`TlsConfig::client_ca_pem`].
    #[must_use]
    pub fn require_client_certificate(mut self, required: bool) -> Self {
        self.client_required = required;
        self
    }

    /// The rustls configuration, ready for
    /// [`ServeOptions::tls`](crate::transport::listener::ServeOptions::tls)
    /// or a [`tokio_rustls::TlsAcceptor`].
    ///
    /// # Errors
    /// [`TlsError::is_invalid`] when the private key does not match the
    /// certificate or is of an unsupported kind, or client certificates
    /// are required without a client CA.
    pub fn build(self) -> Result<Arc<ServerConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(TlsError::rustls)?;
        let builder = if self.client_roots.is_empty() {
            if self.client_required {
                return Err(TlsError::new(
                    Kind::Invalid,
                    "client certificates are required but no client CA was given",
                ));
            }
            builder.with_no_client_auth()
        } else {
            builder.with_client_cert_verifier(self.client_verifier(provider)?)
        };
        let config = builder
            .with_single_cert(self.chain, self.key)
            .map_err(TlsError::rustls)?;
        Ok(Arc::new(config))
    }

    fn client_verifier(
        &self,
        provider: Arc<CryptoProvider>,
    ) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
        let verifier = WebPkiClientVerifier::builder_with_provider(
            Arc::new(self.client_roots.clone()),
            provider,
        );
        let verifier = if self.client_required {
            verifier
        } else {
            verifier.allow_unauthenticated()
        };
        verifier.build().map_err(|error| {
            TlsError::new(
                Kind::Invalid,
                format!("client certificate verifier: {error}"),
            )
        })
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError {
        kind: Kind::Io(error.kind()),
        message: format!("cannot read {}: {error}", path.display()),
        source: Some(Box::new(error)),
    })
}

/// Why a TLS configuration could not be built.
///
/// Opaque so that it can grow; ask it what went wrong with the `is_*`
/// methods.
pub struct TlsError {
    kind: Kind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Reading a file failed, so.
    Io(io::ErrorKind),
    Pem,
    Invalid,
}

impl TlsError {
    fn new(kind: Kind, message: impl Into<String>) -> Self {
        TlsError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    fn pem(what: &str, error: &rustls::pki_types::pem::Error) -> Self {
        let message = match error {
            rustls::pki_types::pem::Error::NoItemsFound => format!("no {what} in the PEM"),
            other => format!("malformed {what} PEM: {other:?}"),
        };
        TlsError::new(Kind::Pem, message)
    }

    fn rustls(error: rustls::Error) -> Self {
        TlsError {
            kind: Kind::Invalid,
            message: format!("rustls refused the configuration: {error}"),
            source: Some(Box::new(error)),
        }
    }

    /// A file could not be read.
    pub fn is_io(&self) -> bool {
        matches!(self.kind, Kind::Io(_))
    }

    /// PEM input was malformed or lacked what was asked of it.
    pub fn is_pem(&self) -> bool {
        self.kind == Kind::Pem
    }

    /// The certificates and key were read but cannot make a configuration
    /// (a key that does not match the certificate, an unusable CA).
    pub fn is_invalid(&self) -> bool {
        self.kind == Kind::Invalid
    }
}

impl fmt::Debug for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsError")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .finish()
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

impl From<TlsError> for io::Error {
    fn from(error: TlsError) -> Self {
        let kind = match error.kind {
            Kind::Io(kind) => kind,
            Kind::Pem | Kind::Invalid => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn builds_from_pem_with_and_without_client_cas() {
        let (cert, key) = self_signed();
        let config = TlsConfig::from_pem(cert.as_bytes(), key.as_bytes())
            .unwrap()
            .build()
            .unwrap();
        assert!(config.alpn_protocols.is_empty());

        let (ca, _) = self_signed();
        for required in [false, true] {
            let config = TlsConfig::from_pem(cert.as_bytes(), key.as_bytes())
                .unwrap()
                .client_ca_pem(ca.as_bytes())
                .unwrap()
                .require_client_certificate(required)
                .build();
            assert!(config.is_ok());
        }
    }

    #[test]
    fn bad_input_is_reported_by_kind() {
        let (cert, key) = self_signed();
        let error = TlsConfig::from_pem(b"", key.as_bytes()).unwrap_err();
        assert!(error.is_pem(), "{error}");
        let error = TlsConfig::from_pem(cert.as_bytes(), b"nothing").unwrap_err();
        assert!(error.is_pem(), "{error}");
        assert!(error.to_string().contains("private key"));
        let error = TlsConfig::from_pem(cert.as_bytes(), cert.as_bytes()).unwrap_err();
        assert!(error.is_pem(), "{error}");

        // A key that is not the certificate's.
        let (_, other_key) = self_signed();
        let error = TlsConfig::from_pem(cert.as_bytes(), other_key.as_bytes())
            .unwrap()
            .build()
            .unwrap_err();
        assert!(error.is_invalid(), "{error}");

        let error = TlsConfig::from_pem(cert.as_bytes(), key.as_bytes())
            .unwrap()
            .require_client_certificate(true)
            .build()
            .unwrap_err();
        assert!(error.is_invalid(), "{error}");

        let error = TlsConfig::from_pem(cert.as_bytes(), key.as_bytes())
            .unwrap()
            .client_ca_pem(b"-----BEGIN NOTHING-----\n")
            .unwrap_err();
        assert!(error.is_pem(), "{error}");

        let error =
            TlsConfig::from_pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem").unwrap_err();
        assert!(error.is_io(), "{error}");
        assert!(std::error::Error::source(&error).is_some());
        assert_eq!(io::Error::from(error).kind(), io::ErrorKind::NotFound);
        assert!(
            format!(
                "{:?}",
                TlsConfig::from_pem(cert.as_bytes(), key.as_bytes()).unwrap()
            )
            .contains("certificates: 1")
        );
    }
}

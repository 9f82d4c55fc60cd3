//! Which web origins a WebSocket upgrade is trusted from.

/// Which web pages may open WebSocket sessions that carry the browser's
/// ambient credentials (cookies, HTTP authentication).
///
/// A browser attaches a site's cookies to a WebSocket upgrade whatever page
/// opens it, so any page a user visits could open a session that a cookie
/// authenticates (cross-site WebSocket hijacking). Browsers say which page
/// it is in the `Origin` header. An upgrade is *cross-origin* when it
/// carries an `Origin` that is neither the server's own (the `Host` the
/// request was sent to) nor on the allow-list; upgrades without `Origin`
/// come from programs, not pages, and are not.
///
/// By default cross-origin upgrades are served, but their sessions skip the
/// realm's transport authenticators (those that read cookies and headers):
/// a realm that authenticates by cookie alone refuses them with ABORT
/// `wamp.error.authentication_failed`, and one with a challenge method as
/// well (ticket, WAMP-CRA, …) asks for it, as for any client without the
/// cookie. [`OriginPolicy::refuse_cross_origin`] refuses such upgrades
/// outright, with `403 Forbidden`.
///
/// ```
/// use serverwamp::Application;
/// use serverwamp::transport::OriginPolicy;
///
/// let mut app = Application::new();
/// app.set_origin_policy(
///     OriginPolicy::new()
///         .allow_origin("https://app.example.com")
///         .allow_origin("http://localhost:3000"),
/// );
/// ```
///
/// An allow-list entry that is not an origin (`scheme://host[:port]`, no
/// path) matches nothing: a wrong configuration fails closed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginPolicy {
    allowed: Vec<Origin>,
    refuse: bool,
}

/// An origin: scheme, host and port, compared as RFC 6454 says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// Parses `scheme://host[:port]`; `None` for anything else (paths,
    /// `null`, unknown schemes without a port).
    fn parse(text: &str) -> Option<Origin> {
        let (scheme, rest) = text.trim().split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" | "ws" => 80,
            "https" | "wss" => 443,
            _ => 0,
        };
        if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
            return None;
        }
        let (host, port) = split_host_port(rest)?;
        let port = match port {
            Some(port) => port,
            None if default_port != 0 => default_port,
            None => return None,
        };
        Some(Origin {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

/// Splits `host[:port]` (IPv6 in brackets); `None` for a bad port.
fn split_host_port(text: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(port) => Some((host, Some(port.parse().ok()?))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match text.rsplit_once(':') {
        Some((host, port)) => Some((host, Some(port.parse().ok()?))),
        None => Some((text, None)),
    }
}

impl OriginPolicy {
    /// The default policy: only the server's own origin is trusted with
    /// ambient credentials; cross-origin upgrades are served without them.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts pages of `origin` (`https://app.example.com`,
    /// `http://localhost:3000`) as if they were the server's own.
    #[must_use]
    pub fn allow_origin(mut self, origin: &str) -> Self {
        match Origin::parse(origin) {
            Some(parsed) => self.allowed.push(parsed),
            None => tracing::warn!(
                origin,
                "an allowed origin is not `scheme://host[:port]`; it matches nothing"
            ),
        }
        self
    }

    /// Refuses cross-origin upgrades with `403 Forbidden` instead of serving
    /// them without ambient credentials.
    #[must_use]
    pub fn refuse_cross_origin(mut self, refuse: bool) -> Self {
        self.refuse = refuse;
        self
    }

    /// Whether cross-origin upgrades are refused.
    pub(crate) fn refuses_cross_origin(&self) -> bool {
        self.refuse
    }

    /// Whether an upgrade with this `Origin` header, sent to `host` (the
    /// `Host` header) over a connection that is `secure` or not, is
    /// cross-origin.
    pub(crate) fn is_cross_origin(
        &self,
        origin: Option<&str>,
        host: Option<&str>,
        secure: bool,
    ) -> bool {
        let Some(origin) = origin else {
            return false;
        };
        let Some(origin) = Origin::parse(origin) else {
            // `null` (sandboxed frames, files) and anything unparsable.
            return true;
        };
        if self.allowed.contains(&origin) {
            return false;
        }
        let Some((host, port)) = host.and_then(split_host_port) else {
            return true;
        };
        let own_port = port.unwrap_or(if secure { 443 } else { 80 });
        let own_scheme_matches = matches!(
            (origin.scheme.as_str(), secure),
            ("http" | "ws", false) | ("https" | "wss", true)
        );
        !(own_scheme_matches && origin.host == host.to_ascii_lowercase() && origin.port == own_port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_by_scheme_host_and_port() {
        let policy = OriginPolicy::new();
        let cross = |origin, host, secure| policy.is_cross_origin(Some(origin), Some(host), secure);
        assert!(
            !policy.is_cross_origin(None, Some("a.example"), false),
            "no Origin: a program"
        );
        assert!(!cross("http://a.example", "a.example", false));
        assert!(!cross("http://A.example:80", "a.example", false));
        assert!(!cross("https://a.example", "a.example:443", true));
        assert!(!cross("http://127.0.0.1:8080", "127.0.0.1:8080", false));
        assert!(!cross("http://[::1]:8080", "[::1]:8080", false));
        assert!(cross("http://evil.example", "a.example", false));
        assert!(
            cross("https://a.example", "a.example", false),
            "another scheme"
        );
        assert!(
            cross("http://a.example:8080", "a.example", false),
            "another port"
        );
        assert!(cross("null", "a.example", false));
        assert!(cross("http://a.example/path", "a.example", false));
        assert!(policy.is_cross_origin(Some("http://a.example"), None, false));
    }

    #[test]
    fn the_allow_list_trusts_exactly_its_origins_and_bad_entries_match_nothing() {
        let policy = OriginPolicy::new()
            .allow_origin("https://app.example")
            .allow_origin("http://localhost:3000")
            .allow_origin("not an origin")
            .allow_origin("https://app.example/with/path");
        let cross = |origin| policy.is_cross_origin(Some(origin), Some("api.example"), true);
        assert!(!cross("https://app.example"));
        assert!(!cross("https://APP.example:443"));
        assert!(!cross("http://localhost:3000"));
        assert!(cross("http://localhost:3001"));
        assert!(cross("http://app.example"));
        assert!(cross("not an origin"));
        assert_eq!(policy.allowed.len(), 2, "the bad entries were not kept");
    }
}

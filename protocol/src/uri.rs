//! WAMP URIs: validation rules, match policies and pattern matching.
//!
//! A WAMP URI (topic, procedure, error or realm name) is a string of
//! components separated by `.`, such as `com.myapp.user.created`. The spec
//! (basic profile, section "URIs") defines two sets of rules for the
//! components ([`UriRules`]), and the advanced profile lets subscriptions and
//! registrations use a pattern instead of an exact URI ([`MatchPolicy`]),
//! which changes where empty components are allowed. [`validate_uri`] checks
//! a URI against both, and [`MatchPolicy::matches`] is the matching the
//! routing layer builds on.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

/// Which characters URI components may contain.
///
/// The spec makes the loose rules mandatory and recommends the strict ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum UriRules {
    /// Components MUST NOT contain `.`, `#` or whitespace (any Unicode
    /// whitespace, as [`char::is_whitespace`]) and MUST NOT be empty;
    /// anything else, including uppercase and non-ASCII letters, is allowed.
    #[default]
    Loose,
    /// Components contain only lowercase ASCII letters, digits and `_`
    /// (`[0-9a-z_]`), which makes them identifiers in most languages.
    Strict,
}

impl UriRules {
    /// Whether a component may contain `c` (which is not `.`).
    fn allows(self, c: char) -> bool {
        match self {
            UriRules::Loose => c != '#' && !c.is_whitespace(),
            UriRules::Strict => matches!(c, '0'..='9' | 'a'..='z' | '_'),
        }
    }

    /// How error messages name URIs under these rules.
    fn noun(self) -> &'static str {
        match self {
            UriRules::Loose => "URIs",
            UriRules::Strict => "strict URIs",
        }
    }
}

/// How a subscription's topic or a registration's procedure is matched
/// against the URIs that are published to or called (the `match` option of
/// `SUBSCRIBE` and `REGISTER`).
///
/// It also decides where a pattern may have empty components, see
/// [`validate_uri`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MatchPolicy {
    /// The URI must equal the pattern (`"exact"`, the default).
    #[default]
    Exact,
    /// The pattern must be a prefix of the URI, component by component
    /// (`"prefix"`); see [`MatchPolicy::matches`].
    Prefix,
    /// Empty components of the pattern match any one component of the URI
    /// (`"wildcard"`); see [`MatchPolicy::matches`].
    Wildcard,
}

impl MatchPolicy {
    /// The name of the policy on the wire: `"exact"`, `"prefix"` or
    /// `"wildcard"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            MatchPolicy::Exact => "exact",
            MatchPolicy::Prefix => "prefix",
            MatchPolicy::Wildcard => "wildcard",
        }
    }

    /// Whether `uri` (a topic published to, or a procedure called) matches
    /// `pattern` (a subscription's topic or a registration's procedure)
    /// under this policy. It does not allocate.
    ///
    /// * [`Exact`](MatchPolicy::Exact): `uri == pattern`.
    /// * [`Wildcard`](MatchPolicy::Wildcard): both have the same number of
    ///   components, and every non-empty component of the pattern equals the
    ///   component of the URI at the same position. `a..c` matches `a.b.c`
    ///   but neither `a.b.c.d` nor `a.c` (spec: "Wildcard-matching allows to
    ///   provide wildcards for **whole** URI components").
    /// * [`Prefix`](MatchPolicy::Prefix): the components of the pattern are
    ///   the first components of the URI. `a.b` matches `a.b` and `a.b.c`,
    ///   but **not** `a.bc`. A pattern ending with `.` (which
    ///   [`validate_uri`] allows for prefixes, see there) matches only URIs
    ///   below it: `a.b.` matches `a.b.c` but not `a.b`.
    ///
    /// **Prefix matching deliberately departs from the spec.** The spec's
    /// examples ("Pattern-based Subscription" and "Pattern-based
    /// Registrations", section "Prefix Matching") make it a plain string
    /// prefix: `com.myapp.topic.emergency` matches
    /// `com.myapp.topic.emergency-low`. Here it is component-aware, because
    /// URIs are hierarchical and `.` is reserved precisely so that "WAMP
    /// associates semantics with resource hierarchies" (spec, "URIs"): a
    /// subscription to `com.myapp.user` should not silently receive
    /// `com.myapp.username_changed`, and an authorization rule on a prefix
    /// should not leak to its textual siblings. It is also what the spec's
    /// own tie-break for registrations counts: "longest means it has more
    /// URI components matched". A peer that wants the string-prefix
    /// behaviour for `a.b-x` siblings can register `a` instead.
    ///
    /// An empty pattern, which [`validate_uri`] rejects, matches nothing
    /// under `Prefix` and `Wildcard`.
    #[must_use]
    pub fn matches(self, pattern: &str, uri: &str) -> bool {
        match self {
            MatchPolicy::Exact => pattern == uri,
            MatchPolicy::Prefix => prefix_matches(pattern, uri),
            MatchPolicy::Wildcard => wildcard_matches(pattern, uri),
        }
    }
}

/// Component-aware prefix matching, see [`MatchPolicy::matches`].
fn prefix_matches(pattern: &str, uri: &str) -> bool {
    if pattern.is_empty() {
        return false;
    }
    match uri.strip_prefix(pattern) {
        None => false,
        // The prefix must end on a component boundary: at the end of the
        // URI, before a `.` of the URI, or after the pattern's own final `.`.
        Some(rest) => rest.is_empty() || rest.starts_with('.') || pattern.ends_with('.'),
    }
}

/// Component-wise wildcard matching, see [`MatchPolicy::matches`].
fn wildcard_matches(pattern: &str, uri: &str) -> bool {
    if pattern.is_empty() {
        return false;
    }
    let mut patterns = pattern.split('.');
    let mut components = uri.split('.');
    loop {
        match (patterns.next(), components.next()) {
            (None, None) => return true,
            (Some(expected), Some(component)) => {
                if !expected.is_empty() && expected != component {
                    return false;
                }
            }
            // One has more components than the other.
            _ => return false,
        }
    }
}

impl fmt::Display for MatchPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a string that is not a [`MatchPolicy`] name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown match policy {name:?}: expected \"exact\", \"prefix\" or \"wildcard\"")]
pub struct UnknownMatchPolicy {
    name: String,
}

impl UnknownMatchPolicy {
    /// The rejected name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl FromStr for MatchPolicy {
    type Err = UnknownMatchPolicy;

    /// Parses `"exact"`, `"prefix"` or `"wildcard"` (case-sensitive, as on
    /// the wire).
    fn from_str(s: &str) -> Result<MatchPolicy, UnknownMatchPolicy> {
        match s {
            "exact" => Ok(MatchPolicy::Exact),
            "prefix" => Ok(MatchPolicy::Prefix),
            "wildcard" => Ok(MatchPolicy::Wildcard),
            _ => Err(UnknownMatchPolicy { name: excerpt(s) }),
        }
    }
}

impl Serialize for MatchPolicy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for MatchPolicy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<MatchPolicy, D::Error> {
        struct PolicyVisitor;

        impl Visitor<'_> for PolicyVisitor {
            type Value = MatchPolicy;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"exact\", \"prefix\" or \"wildcard\"")
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<MatchPolicy, E> {
                s.parse()
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(s), &self))
            }
        }

        deserializer.deserialize_str(PolicyVisitor)
    }
}

/// Why a string is not a valid URI (or pattern).
///
/// The messages quote the URI (shortened to its first 100 bytes if it is
/// longer, so a hostile peer cannot make an error message huge) and say
/// what is wrong, ready to be sent back to a peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    /// The URI is the empty string.
    #[error("URI \"\" is empty")]
    Empty,
    /// A component is empty where the match policy does not allow it.
    #[error("URI {uri:?} has an empty component")]
    EmptyComponent {
        /// The URI, possibly shortened.
        uri: String,
        /// The byte offset where the empty component is (just after a `.`,
        /// or 0 when the URI starts with `.`).
        byte: usize,
    },
    /// A component contains a character the rules do not allow.
    #[error(
        "URI {uri:?} has the character {character:?} at byte {byte}, which {} do not allow",
        .rules.noun()
    )]
    DisallowedCharacter {
        /// The URI, possibly shortened.
        uri: String,
        /// The offending character.
        character: char,
        /// Its byte offset in the URI.
        byte: usize,
        /// The rules it breaks.
        rules: UriRules,
    },
}

/// The longest URI quoted in full in a [`UriError`].
const EXCERPT_LEN: usize = 100;

/// Copies `s` for an error message, cut to about [`EXCERPT_LEN`] bytes (on a
/// character boundary) and marked with `…` if it is longer.
fn excerpt(s: &str) -> String {
    if s.len() <= EXCERPT_LEN {
        return s.to_owned();
    }
    let mut end = EXCERPT_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Checks that `uri` is a valid URI under `rules`, as a pattern of the match
/// `policy`.
///
/// Every component must follow `rules`. Which components may be empty
/// depends on the policy:
///
/// * [`Exact`](MatchPolicy::Exact): none (spec, "URIs": components "MUST
///   NOT be empty"), so `com.myapp.`, `.com` and `com..x` are rejected. Use
///   this for every URI that is not a subscription or registration pattern.
/// * [`Wildcard`](MatchPolicy::Wildcard): any, since an empty component is
///   the wildcard (`com.myapp..update`, spec regex
///   `^(([0-9a-z_]+\.)|\.)*([0-9a-z_]+)?$` for strict rules); even `.` is a
///   valid pattern (every two-component URI).
/// * [`Prefix`](MatchPolicy::Prefix): only the last one, so a prefix may
///   end with `.` (`com.myapp.` matches everything below `com.myapp`, but
///   not `com.myapp` itself). The spec does not say which of its two regular
///   expressions applies to prefixes; its examples use ordinary URIs, but
///   since its prefix matching is a string prefix, `com.myapp.` is a
///   meaningful prefix there, and Autobahn clients are allowed to send one
///   (Autobahn validates prefixes with "allow the last URI component to be
///   empty"). Empty components elsewhere would be wildcards, which prefix
///   matching does not have, so they are rejected.
///
/// Under every policy, the empty string is rejected: it has no component
/// at all, and as a prefix it would match every URI.
///
/// This does not check the reserved `wamp` first component, which only
/// applies to application URIs; see [`is_reserved`].
///
/// # Errors
///
/// The first problem found, from left to right, as a [`UriError`].
pub fn validate_uri(uri: &str, rules: UriRules, policy: MatchPolicy) -> Result<(), UriError> {
    if uri.is_empty() {
        return Err(UriError::Empty);
    }
    let empty_component = |byte: usize| UriError::EmptyComponent {
        uri: excerpt(uri),
        byte,
    };
    let mut component_start = 0;
    for (byte, character) in uri.char_indices() {
        if character == '.' {
            if byte == component_start && policy != MatchPolicy::Wildcard {
                return Err(empty_component(byte));
            }
            component_start = byte + 1;
        } else if !rules.allows(character) {
            return Err(UriError::DisallowedCharacter {
                uri: excerpt(uri),
                character,
                byte,
                rules,
            });
        }
    }
    if component_start == uri.len() && policy == MatchPolicy::Exact {
        return Err(empty_component(component_start));
    }
    Ok(())
}

/// Whether `uri` is in the namespace the spec reserves for WAMP itself:
/// its first component is `wamp` (as in `wamp.error.not_authorized`).
///
/// Application URIs "MUST NOT use `wamp` as a first URI component" (spec,
/// "Reserved URIs"), so a router should refuse to let clients register,
/// subscribe or publish to them.
#[must_use]
pub fn is_reserved(uri: &str) -> bool {
    uri.split('.').next() == Some("wamp")
}

#[cfg(test)]
mod tests {
    use super::*;

    use MatchPolicy::{Exact, Prefix, Wildcard};
    use UriRules::{Loose, Strict};

    fn valid(uri: &str, rules: UriRules, policy: MatchPolicy) -> bool {
        validate_uri(uri, rules, policy).is_ok()
    }

    fn message(uri: &str, rules: UriRules, policy: MatchPolicy) -> String {
        validate_uri(uri, rules, policy)
            .expect_err("the URI should be rejected")
            .to_string()
    }

    #[test]
    fn defaults() {
        assert_eq!(UriRules::default(), Loose);
        assert_eq!(MatchPolicy::default(), Exact);
    }

    #[test]
    fn ordinary_uris_pass_everywhere() {
        for rules in [Loose, Strict] {
            for policy in [Exact, Prefix, Wildcard] {
                for uri in [
                    "com",
                    "com.myapp.topic_1",
                    "wamp.error.not_authorized",
                    "a.b.c",
                ] {
                    assert!(valid(uri, rules, policy), "{uri} {rules:?} {policy:?}");
                }
            }
        }
    }

    #[test]
    fn empty_uri_is_rejected_everywhere() {
        for rules in [Loose, Strict] {
            for policy in [Exact, Prefix, Wildcard] {
                assert_eq!(
                    validate_uri("", rules, policy),
                    Err(UriError::Empty),
                    "{rules:?} {policy:?}"
                );
            }
        }
        assert_eq!(message("", Loose, Exact), r#"URI "" is empty"#);
    }

    #[test]
    fn exact_rejects_every_empty_component() {
        for uri in ["com..x", ".com", "com.", ".", "a.b.."] {
            assert!(!valid(uri, Loose, Exact), "{uri}");
            assert!(!valid(uri, Strict, Exact), "{uri}");
        }
        assert_eq!(
            message("com..x", Loose, Exact),
            r#"URI "com..x" has an empty component"#
        );
        assert_eq!(
            validate_uri("com..x", Loose, Exact),
            Err(UriError::EmptyComponent {
                uri: "com..x".to_owned(),
                byte: 4,
            })
        );
        assert_eq!(
            validate_uri("com.", Loose, Exact),
            Err(UriError::EmptyComponent {
                uri: "com.".to_owned(),
                byte: 4,
            })
        );
        assert_eq!(
            validate_uri(".com", Loose, Exact),
            Err(UriError::EmptyComponent {
                uri: ".com".to_owned(),
                byte: 0,
            })
        );
    }

    #[test]
    fn wildcard_allows_empty_components() {
        for uri in ["com..update", ".com", "com.", ".", "..", "a..c..e"] {
            assert!(valid(uri, Loose, Wildcard), "{uri}");
            assert!(valid(uri, Strict, Wildcard), "{uri}");
        }
        // Empty components do not excuse bad characters.
        assert!(!valid("com..Update", Strict, Wildcard));
        assert!(!valid("com..up date", Loose, Wildcard));
    }

    #[test]
    fn prefix_allows_only_a_trailing_empty_component() {
        assert!(valid("com.myapp.", Loose, Prefix));
        assert!(valid("com.myapp.", Strict, Prefix));
        assert!(valid("com.myapp", Strict, Prefix));
        for uri in ["com..myapp", ".com", ".", "com..", ".."] {
            assert!(!valid(uri, Loose, Prefix), "{uri}");
        }
        assert_eq!(
            message("com..myapp", Loose, Prefix),
            r#"URI "com..myapp" has an empty component"#
        );
    }

    #[test]
    fn loose_rules() {
        for uri in ["com.My.App", "com.émoji_😀", "a-b.c:d/e", "日本.語"] {
            assert!(valid(uri, Loose, Exact), "{uri}");
        }
        assert_eq!(
            message("com.a b", Loose, Exact),
            r#"URI "com.a b" has the character ' ' at byte 5, which URIs do not allow"#
        );
        assert_eq!(
            message("com.a\tb", Loose, Exact),
            r#"URI "com.a\tb" has the character '\t' at byte 5, which URIs do not allow"#
        );
        // Unicode whitespace (NO-BREAK SPACE, IDEOGRAPHIC SPACE) counts too.
        assert!(!valid("com.a\u{a0}b", Loose, Exact));
        assert!(!valid("com.a\u{3000}b", Loose, Exact));
        assert_eq!(
            message("com.a#b", Loose, Exact),
            r#"URI "com.a#b" has the character '#' at byte 5, which URIs do not allow"#
        );
        assert_eq!(
            validate_uri("é.a#b", Loose, Exact),
            Err(UriError::DisallowedCharacter {
                uri: "é.a#b".to_owned(),
                character: '#',
                byte: 4,
                rules: Loose,
            })
        );
    }

    #[test]
    fn strict_rules() {
        assert!(valid("com.my_app2.v1", Strict, Exact));
        assert_eq!(
            message("com.My", Strict, Exact),
            r#"URI "com.My" has the character 'M' at byte 4, which strict URIs do not allow"#
        );
        assert_eq!(
            message("com.é", Strict, Exact),
            r#"URI "com.é" has the character 'é' at byte 4, which strict URIs do not allow"#
        );
        for uri in ["com.my-app", "com.a b", "com.a#b", "com.a:b"] {
            assert!(!valid(uri, Strict, Exact), "{uri}");
        }
    }

    #[test]
    fn first_problem_wins() {
        assert_eq!(
            message("a#..b", Loose, Exact),
            r#"URI "a#..b" has the character '#' at byte 1, which URIs do not allow"#
        );
        assert_eq!(
            message("a..b#", Loose, Exact),
            r#"URI "a..b#" has an empty component"#
        );
    }

    #[test]
    fn long_uris_are_shortened_in_messages() {
        let uri = format!("{}.x y", "é".repeat(100));
        let text = message(&uri, Loose, Exact);
        assert!(text.len() < 200, "{text}");
        assert!(text.contains("…"), "{text}");
        assert!(text.ends_with(&format!("at byte {}, which URIs do not allow", 200 + 2)));
    }

    #[test]
    fn reserved() {
        assert!(is_reserved("wamp"));
        assert!(is_reserved("wamp.error.not_authorized"));
        assert!(!is_reserved("wampx.foo"));
        assert!(!is_reserved("com.wamp"));
        assert!(!is_reserved(""));
    }

    #[test]
    fn policy_names() {
        for policy in [Exact, Prefix, Wildcard] {
            assert_eq!(policy.as_str().parse::<MatchPolicy>(), Ok(policy));
            assert_eq!(policy.to_string(), policy.as_str());
        }
        let err = "Prefix".parse::<MatchPolicy>().expect_err("case-sensitive");
        assert_eq!(err.name(), "Prefix");
        assert_eq!(
            err.to_string(),
            r#"unknown match policy "Prefix": expected "exact", "prefix" or "wildcard""#
        );
        assert!("".parse::<MatchPolicy>().is_err());
    }

    #[test]
    fn policy_serde() {
        assert_eq!(
            serde_json::to_string(&Wildcard).expect("serialize"),
            r#""wildcard""#
        );
        assert_eq!(
            serde_json::from_str::<MatchPolicy>(r#""prefix""#).expect("deserialize"),
            Prefix
        );
        let err = serde_json::from_str::<MatchPolicy>(r#""regex""#).expect_err("unknown");
        assert!(err.to_string().contains("regex"), "{err}");
        assert!(serde_json::from_str::<MatchPolicy>("1").is_err());

        let packed = rmp_serde::to_vec(&Exact).expect("msgpack");
        assert_eq!(
            rmp_serde::from_slice::<MatchPolicy>(&packed).expect("back"),
            Exact
        );
        let mut cbor = Vec::new();
        ciborium::into_writer(&Prefix, &mut cbor).expect("cbor");
        assert_eq!(
            ciborium::from_reader::<MatchPolicy, _>(cbor.as_slice()).expect("back"),
            Prefix
        );
    }

    #[test]
    fn exact_matching() {
        assert!(Exact.matches("a.b", "a.b"));
        assert!(!Exact.matches("a.b", "a.b.c"));
        assert!(!Exact.matches("a.b", "a.bc"));
        assert!(!Exact.matches("a.b", "A.b"));
    }

    #[test]
    fn prefix_matching_is_component_aware() {
        assert!(Prefix.matches("a.b", "a.b"));
        assert!(Prefix.matches("a.b", "a.b.c"));
        assert!(Prefix.matches("a.b", "a.b.c.d"));
        assert!(!Prefix.matches("a.b", "a.bc"));
        assert!(!Prefix.matches("a.b", "a.b-c"));
        assert!(!Prefix.matches("a.b", "a"));
        assert!(!Prefix.matches("a.b", "x.a.b"));
        // The spec's examples, minus its string-prefix case.
        let pattern = "com.myapp.topic.emergency";
        assert!(Prefix.matches(pattern, "com.myapp.topic.emergency.11"));
        assert!(Prefix.matches(pattern, "com.myapp.topic.emergency.category.severe"));
        assert!(Prefix.matches(pattern, "com.myapp.topic.emergency"));
        assert!(!Prefix.matches(pattern, "com.myapp.topic.emergency-low"));
        assert!(!Prefix.matches(pattern, "com.myapp.topic.emerge"));
        // A trailing `.` matches only what is below.
        assert!(Prefix.matches("a.b.", "a.b.c"));
        assert!(!Prefix.matches("a.b.", "a.b"));
        assert!(!Prefix.matches("a.b.", "a.bc"));
        // An empty pattern matches nothing.
        assert!(!Prefix.matches("", "a"));
        assert!(!Prefix.matches("", ".a"));
    }

    #[test]
    fn wildcard_matching() {
        assert!(Wildcard.matches("a..c", "a.b.c"));
        assert!(Wildcard.matches("a..c", "a.x.c"));
        assert!(!Wildcard.matches("a..c", "a.b.c.d"));
        assert!(!Wildcard.matches("a..c", "a.c"));
        assert!(!Wildcard.matches("a..c", "a.b.d"));
        assert!(Wildcard.matches("..", "x.y.z"));
        assert!(!Wildcard.matches("..", "x.y"));
        assert!(Wildcard.matches(".", "x.y"));
        assert!(Wildcard.matches("a.b", "a.b"));
        assert!(!Wildcard.matches("a.b", "a.bc"));
        assert!(!Wildcard.matches("", "a"));
        // The spec's examples.
        let pattern = "com.myapp..userevent";
        assert!(Wildcard.matches(pattern, "com.myapp.foo.userevent"));
        assert!(Wildcard.matches(pattern, "com.myapp.a12.userevent"));
        assert!(!Wildcard.matches(pattern, "com.myapp.foo.userevent.bar"));
        assert!(!Wildcard.matches(pattern, "com.myapp.foo.user"));
        assert!(!Wildcard.matches(pattern, "com.myapp2.foo.userevent"));
    }
}

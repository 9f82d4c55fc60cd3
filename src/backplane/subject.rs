//! The mapping of realms and topic URIs onto backplane subjects (see the
//! [backplane module](super) for the table).
//!
//! ```
//! use serverwamp::backplane::subject;
//! use serverwamp::protocol::MatchPolicy;
//!
//! assert_eq!(
//!     subject::publication("serverwamp", "com.example", "news.sports"),
//!     "serverwamp.pub.com%2Eexample.news.sports",
//! );
//! assert_eq!(
//!     subject::filters("serverwamp", "demo", "news..scores", MatchPolicy::Wildcard),
//!     ["serverwamp.pub.demo.news.*.scores"],
//! );
//! ```

use std::fmt::Write;

use serverwamp_protocol::MatchPolicy;

/// The subject prefix of a cluster unless one is set.
pub const DEFAULT_PREFIX: &str = "serverwamp";

/// One subject token for `text`: ASCII letters, digits, `_` and `-` stay,
/// every other byte is `%` and two upper-case hex digits, and the empty
/// text is `%` alone (which no escape produces).
pub fn token(text: &str) -> String {
    if text.is_empty() {
        return "%".to_owned();
    }
    let mut out = String::with_capacity(text.len());
    push_token(&mut out, text);
    out
}

fn push_token(out: &mut String, text: &str) {
    if text.is_empty() {
        out.push('%');
        return;
    }
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

fn realm_base(prefix: &str, realm: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + realm.len() + 8);
    out.push_str(prefix);
    out.push_str(".pub.");
    push_token(&mut out, realm);
    out
}

/// The subject a publication to `topic` in `realm` is sent on.
pub fn publication(prefix: &str, realm: &str, topic: &str) -> String {
    let mut out = realm_base(prefix, realm);
    for component in topic.split('.') {
        out.push('.');
        push_token(&mut out, component);
    }
    out
}

/// The filters a node listens on for a subscription to `pattern` with
/// `policy` in `realm`: together they match every publication subject the
/// subscription matches. Empty for patterns that match nothing.
pub fn filters(prefix: &str, realm: &str, pattern: &str, policy: MatchPolicy) -> Vec<String> {
    if pattern.is_empty() && policy != MatchPolicy::Exact {
        return Vec::new();
    }
    match policy {
        MatchPolicy::Exact => vec![publication(prefix, realm, pattern)],
        MatchPolicy::Prefix => match pattern.strip_suffix('.') {
            // `a.b.` matches `a.b.` followed by anything: one or more
            // further tokens.
            Some(stem) => vec![publication(prefix, realm, stem) + ".>"],
            // `a.b` matches `a.b` itself and anything below it.
            None => {
                let exact = publication(prefix, realm, pattern);
                let below = format!("{exact}.>");
                vec![exact, below]
            }
        },
        MatchPolicy::Wildcard => {
            let mut out = realm_base(prefix, realm);
            for component in pattern.split('.') {
                out.push('.');
                if component.is_empty() {
                    out.push('*');
                } else {
                    push_token(&mut out, component);
                }
            }
            vec![out]
        }
    }
}

/// The subject of one node's own messages (calls to serve, their answers).
pub fn node(prefix: &str, node: u64) -> String {
    format!("{prefix}.node.{node}")
}

/// The subject nodes announce themselves on.
pub fn presence(prefix: &str) -> String {
    format!("{prefix}.nodes")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether a NATS-style `filter` matches `subject`.
    fn nats_matches(filter: &str, subject: &str) -> bool {
        let f: Vec<&str> = filter.split('.').collect();
        let s: Vec<&str> = subject.split('.').collect();
        for (i, token) in f.iter().enumerate() {
            match *token {
                ">" => return s.len() > i,
                "*" if i < s.len() => {}
                t if s.get(i) == Some(&t) => {}
                _ => return false,
            }
        }
        f.len() == s.len()
    }

    #[test]
    fn tokens_escape_what_subjects_cannot_hold() {
        assert_eq!(token("abc_D-9"), "abc_D-9");
        assert_eq!(token("a.b"), "a%2Eb");
        assert_eq!(token("a*b>c"), "a%2Ab%3Ec");
        assert_eq!(token("50%"), "50%25");
        assert_eq!(token("é"), "%C3%A9");
        assert_eq!(token(""), "%");
        assert_eq!(token(" "), "%20");
    }

    #[test]
    fn publications_map_component_by_component() {
        assert_eq!(publication("sw", "realm1", "a.b.c"), "sw.pub.realm1.a.b.c");
        assert_eq!(publication("sw", "r", "a..c"), "sw.pub.r.a.%.c");
        assert_eq!(publication("sw", "r.x", "a"), "sw.pub.r%2Ex.a");
        assert_eq!(presence("sw"), "sw.nodes");
    }

    #[test]
    fn filters_match_exactly_what_the_policy_matches() {
        let topics = [
            "a", "a.b", "a.b.c", "a.bc", "a.b.c.d", "a.x.c", "b.b.c", "a.b.", "ab",
        ];
        let patterns = [
            ("a.b", MatchPolicy::Exact),
            ("a.b", MatchPolicy::Prefix),
            ("a.b.", MatchPolicy::Prefix),
            ("a", MatchPolicy::Prefix),
            ("a..c", MatchPolicy::Wildcard),
            ("..c", MatchPolicy::Wildcard),
            ("a.b.c", MatchPolicy::Wildcard),
            ("", MatchPolicy::Prefix),
        ];
        for (pattern, policy) in patterns {
            let filters = filters("sw", "r", pattern, policy);
            for topic in topics {
                let subject = publication("sw", "r", topic);
                let by_filter = filters.iter().any(|f| nats_matches(f, &subject));
                assert_eq!(
                    by_filter,
                    policy.matches(pattern, topic),
                    "{policy:?} {pattern:?} against {topic:?} (filters {filters:?})"
                );
            }
        }
    }

    #[test]
    fn other_realms_do_not_match() {
        let f = filters("sw", "r1", "a", MatchPolicy::Prefix);
        assert!(
            !f.iter()
                .any(|f| nats_matches(f, &publication("sw", "r2", "a.b")))
        );
        assert!(
            !f.iter()
                .any(|f| nats_matches(f, &publication("sw2", "r1", "a")))
        );
    }
}

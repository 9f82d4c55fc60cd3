//! URI tables: exact, prefix and wildcard routes to handlers of any kind.

use std::collections::HashMap;

use serverwamp_protocol::MatchPolicy;

/// Routes compiled for lookup. An exact route wins, then the longest prefix
/// route, then the first wildcard route that matches (the spec's order of
/// precedence for pattern-based registrations).
///
/// Exact routes are hashed with foldhash: clients look routes up on every
/// call but never add to the table, so a hash flooding defence buys
/// nothing here, and SipHash cost a tenth of a call's dispatch.
#[derive(Clone)]
pub(crate) struct UriTable<H> {
    exact: HashMap<String, H, foldhash::fast::RandomState>,
    /// Sorted longest first.
    prefix: Vec<(String, H)>,
    wildcard: Vec<(String, H)>,
}

impl<H> Default for UriTable<H> {
    fn default() -> Self {
        UriTable {
            exact: HashMap::default(),
            prefix: Vec::new(),
            wildcard: Vec::new(),
        }
    }
}

impl<H> UriTable<H> {
    /// Adds a route; a later route for the same URI and policy replaces an
    /// earlier one.
    pub(crate) fn insert(&mut self, uri: String, policy: MatchPolicy, handler: H) {
        match policy {
            MatchPolicy::Exact => {
                self.exact.insert(uri, handler);
            }
            MatchPolicy::Prefix => {
                self.prefix.retain(|(u, _)| *u != uri);
                self.prefix.push((uri, handler));
                self.prefix.sort_by_key(|(u, _)| std::cmp::Reverse(u.len()));
            }
            MatchPolicy::Wildcard => {
                self.wildcard.retain(|(u, _)| *u != uri);
                self.wildcard.push((uri, handler));
            }
        }
    }

    /// The handler for a URI.
    pub(crate) fn lookup(&self, uri: &str) -> Option<&H> {
        if let Some(h) = self.exact.get(uri) {
            return Some(h);
        }
        self.prefix
            .iter()
            .find(|(p, _)| MatchPolicy::Prefix.matches(p, uri))
            .or_else(|| {
                self.wildcard
                    .iter()
                    .find(|(p, _)| MatchPolicy::Wildcard.matches(p, uri))
            })
            .map(|(_, h)| h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_beats_longest_prefix_beats_wildcard() {
        let mut t = UriTable::default();
        t.insert("a".into(), MatchPolicy::Prefix, 1);
        t.insert("a.b".into(), MatchPolicy::Prefix, 2);
        t.insert("a.b.c".into(), MatchPolicy::Exact, 3);
        t.insert("a..c".into(), MatchPolicy::Wildcard, 4);
        t.insert("x..z".into(), MatchPolicy::Wildcard, 5);
        assert_eq!(t.lookup("a.b.c"), Some(&3));
        assert_eq!(t.lookup("a.b.d"), Some(&2));
        assert_eq!(t.lookup("a.x.c"), Some(&1));
        assert_eq!(t.lookup("x.y.z"), Some(&5));
        assert_eq!(t.lookup("ab"), None);
        t.insert("a.b".into(), MatchPolicy::Prefix, 6);
        assert_eq!(t.lookup("a.b.d"), Some(&6));
    }
}

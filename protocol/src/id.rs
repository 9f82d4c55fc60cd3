//! WAMP IDs and the three ways the spec says to choose them.
//!
//! Sessions, publications, subscriptions, registrations and requests are
//! identified by integers in the closed range [1, 2^53]: 0 is excluded
//! because it is falsy in many languages, and 2^53 is the largest integer
//! such that it and every smaller positive integer are exact in IEEE-754
//! doubles (the only number type of JavaScript). [`Id`] enforces that range
//! in its type.
//!
//! The spec (section "IDs" of the basic profile) sorts IDs into three
//! scopes, each with its own rule:
//!
//! * global scope (sessions, publications): drawn uniformly at random over
//!   the whole range, see [`random_id`];
//! * router scope (subscriptions, registrations): chosen freely by the
//!   router; [`RouterScopeIds`] hands out 1, 2, 3, … from an atomic counter
//!   shared by every session of a router;
//! * session scope (requests): incremented by 1 beginning with 1 and wrapping
//!   to 1 after 2^53, per direction; [`SessionScopeIds`] is that counter for
//!   one direction of one session.

use std::fmt;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::RngExt as _;
use serde::de::{Deserialize, Deserializer, Error as _, Unexpected};
use serde::ser::{Serialize, Serializer};

/// A WAMP ID: an integer guaranteed to lie in [1, 2^53].
///
/// It is stored as a [`NonZeroU64`], so `Option<Id>` is as small as a `u64`.
/// It serializes as a plain unsigned integer, and deserializing checks the
/// range, so an out-of-range ID from a peer is an error rather than a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(NonZeroU64);

impl Id {
    /// The largest valid ID, 2^53 = 9007199254740992 (inclusive).
    pub const MAX: u64 = 1 << 53;

    /// The smallest valid ID, 1: where every counter starts and wraps to.
    const FIRST: Id = Id(NonZeroU64::MIN);

    /// Returns the ID `value`, or `None` if it is 0 or greater than
    /// [`Id::MAX`].
    #[must_use]
    pub const fn new(value: u64) -> Option<Id> {
        if value > Id::MAX {
            return None;
        }
        match NonZeroU64::new(value) {
            Some(value) => Some(Id(value)),
            None => None,
        }
    }

    /// Returns the ID as an integer in [1, 2^53].
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0.get()
    }

    /// Returns the ID that follows the integer `last` in session-scope order,
    /// where `last` is an ID or 0 (meaning "none yet"): `last + 1` while that
    /// is in range, 1 once it is not.
    const fn after(last: u64) -> Id {
        match Id::new(last.wrapping_add(1)) {
            Some(id) => id,
            None => Id::FIRST,
        }
    }
}

/// The error for an integer that is not a valid WAMP ID (0 or above 2^53).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("ID {value} is outside [1, 2^53]")]
pub struct InvalidId {
    value: u64,
}

impl InvalidId {
    /// The rejected integer.
    #[must_use]
    pub const fn value(self) -> u64 {
        self.value
    }
}

impl TryFrom<u64> for Id {
    type Error = InvalidId;

    fn try_from(value: u64) -> Result<Id, InvalidId> {
        Id::new(value).ok_or(InvalidId { value })
    }
}

impl From<Id> for u64 {
    fn from(id: Id) -> u64 {
        id.get()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.get())
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Id, D::Error> {
        let value = u64::deserialize(deserializer)?;
        Id::new(value).ok_or_else(|| {
            D::Error::invalid_value(Unexpected::Unsigned(value), &"a WAMP ID in [1, 2^53]")
        })
    }
}

/// Draws a global-scope ID (for a session or a publication).
///
/// The spec requires global-scope IDs to be "drawn randomly from a uniform
/// distribution over the complete range [1, 2^53]". This uses the
/// thread-local generator of `rand` ([`rand::rng`]), a ChaCha-based CSPRNG
/// seeded from the operating system, so IDs are also unpredictable to
/// peers.
#[must_use]
pub fn random_id() -> Id {
    let value = rand::rng().random_range(1..=Id::MAX);
    // `random_range` stays inside its range, so the fallback never happens.
    Id::new(value).unwrap_or(Id::FIRST)
}

/// The ID source for router-scope IDs (subscriptions and registrations),
/// shared by every session of a router.
///
/// The spec lets a router choose these freely; this one counts 1, 2, 3, …
/// and wraps to 1 after 2^53, which is unique for as long as anyone could
/// keep a router running. It is a single [`AtomicU64`], so it can be shared
/// by reference (or in an `Arc`) between threads without a lock.
#[derive(Debug, Default)]
pub struct RouterScopeIds {
    /// The last ID handed out, or 0 before the first.
    last: AtomicU64,
}

impl RouterScopeIds {
    /// Returns a counter whose first ID is 1.
    #[must_use]
    pub const fn new() -> RouterScopeIds {
        RouterScopeIds {
            last: AtomicU64::new(0),
        }
    }

    /// Returns a counter whose first ID is `first`; the sequence continues
    /// from there and wraps to 1 after 2^53.
    #[must_use]
    pub const fn starting_at(first: Id) -> RouterScopeIds {
        RouterScopeIds {
            last: AtomicU64::new(first.get() - 1),
        }
    }

    /// Hands out the next ID. Concurrent callers always get distinct IDs
    /// (until the sequence wraps after 2^53 of them).
    pub fn next(&self) -> Id {
        // Relaxed is enough: the read-modify-write is atomic, so every caller
        // sees a distinct previous value, and the ID orders nothing else.
        let previous = self
            .last
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
                Some(Id::after(last).get())
            })
            .unwrap_or_else(|last| last);
        Id::after(previous)
    }
}

/// The counter for session-scope IDs (request IDs) in one direction of one
/// session.
///
/// The spec requires these to be "incremented by 1 beginning with 1 and
/// wrapping to 1 after it reached 2^53", separately for client-to-router and
/// router-to-client messages: a session keeps one of these for the requests
/// it sends. It belongs to one session, so it takes `&mut self` and needs no
/// atomic.
#[derive(Debug, Default)]
pub struct SessionScopeIds {
    /// The last ID handed out, or 0 before the first.
    last: u64,
}

impl SessionScopeIds {
    /// Returns a counter whose first ID is 1.
    #[must_use]
    pub const fn new() -> SessionScopeIds {
        SessionScopeIds { last: 0 }
    }

    /// Returns a counter whose first ID is `first`; the sequence continues
    /// from there and wraps to 1 after 2^53.
    #[must_use]
    pub const fn starting_at(first: Id) -> SessionScopeIds {
        SessionScopeIds {
            last: first.get() - 1,
        }
    }

    /// Hands out the next ID: 1, 2, 3, …, 2^53, 1, 2, …
    #[expect(
        clippy::should_implement_trait,
        reason = "the sequence never ends: an Iterator's Option would only add an unwrap to every caller"
    )]
    pub fn next(&mut self) -> Id {
        let id = Id::after(self.last);
        self.last = id.get();
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert_eq!(Id::MAX, 9_007_199_254_740_992);
        assert!(Id::new(0).is_none());
        assert!(Id::new(Id::MAX + 1).is_none());
        assert!(Id::new(u64::MAX).is_none());
        assert_eq!(Id::new(1).map(Id::get), Some(1));
        assert_eq!(Id::new(Id::MAX).map(Id::get), Some(Id::MAX));
    }

    #[test]
    fn conversions_and_display() {
        let id = Id::try_from(42).expect("42 is a valid ID");
        assert_eq!(u64::from(id), 42);
        assert_eq!(id.to_string(), "42");
        assert_eq!(format!("{id:?}"), "Id(42)");

        let err = Id::try_from(0).expect_err("0 is not an ID");
        assert_eq!(err.value(), 0);
        assert_eq!(err.to_string(), "ID 0 is outside [1, 2^53]");
        let err = Id::try_from(Id::MAX + 1).expect_err("2^53 + 1 is not an ID");
        assert_eq!(err.to_string(), "ID 9007199254740993 is outside [1, 2^53]");
    }

    #[test]
    fn option_id_is_as_small_as_u64() {
        assert_eq!(size_of::<Option<Id>>(), size_of::<u64>());
    }

    #[test]
    fn serde_roundtrip_and_range_check() {
        let id = Id::new(Id::MAX).expect("2^53 is a valid ID");
        let json = serde_json::to_string(&id).expect("serialize");
        assert_eq!(json, "9007199254740992");
        assert_eq!(serde_json::from_str::<Id>(&json).expect("deserialize"), id);

        assert!(serde_json::from_str::<Id>("0").is_err());
        assert!(serde_json::from_str::<Id>("9007199254740993").is_err());
        assert!(serde_json::from_str::<Id>("-1").is_err());
        assert!(serde_json::from_str::<Id>("\"1\"").is_err());
        let err = serde_json::from_str::<Id>("0").expect_err("0 is not an ID");
        assert!(err.to_string().contains("a WAMP ID in [1, 2^53]"), "{err}");

        let packed = rmp_serde::to_vec(&id).expect("msgpack");
        assert_eq!(
            rmp_serde::from_slice::<Id>(&packed).expect("msgpack back"),
            id
        );
    }

    #[test]
    fn router_scope_counts_from_one() {
        let ids = RouterScopeIds::default();
        let got: Vec<u64> = (0..3).map(|_| ids.next().get()).collect();
        assert_eq!(got, [1, 2, 3]);
    }

    #[test]
    fn router_scope_wraps_to_one() {
        let top = Id::new(Id::MAX - 1).expect("valid");
        let ids = RouterScopeIds::starting_at(top);
        let got: Vec<u64> = (0..4).map(|_| ids.next().get()).collect();
        assert_eq!(got, [Id::MAX - 1, Id::MAX, 1, 2]);
    }

    #[test]
    fn router_scope_is_unique_across_threads() {
        let ids = RouterScopeIds::new();
        let mut all: Vec<u64> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| (0..1000).map(|_| ids.next().get()).collect::<Vec<_>>()))
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("worker panicked"))
                .collect()
        });
        all.sort_unstable();
        assert_eq!(all, (1..=4000).collect::<Vec<u64>>());
    }

    #[test]
    fn session_scope_counts_from_one() {
        let mut ids = SessionScopeIds::new();
        let got: Vec<u64> = (0..3).map(|_| ids.next().get()).collect();
        assert_eq!(got, [1, 2, 3]);
        let mut ids = SessionScopeIds::default();
        assert_eq!(ids.next().get(), 1);
    }

    #[test]
    fn session_scope_wraps_to_one() {
        let top = Id::new(Id::MAX - 1).expect("valid");
        let mut ids = SessionScopeIds::starting_at(top);
        let got: Vec<u64> = (0..4).map(|_| ids.next().get()).collect();
        assert_eq!(got, [Id::MAX - 1, Id::MAX, 1, 2]);

        let mut ids = SessionScopeIds::starting_at(Id::new(Id::MAX).expect("valid"));
        assert_eq!(ids.next().get(), Id::MAX);
        assert_eq!(ids.next().get(), 1);
    }

    #[test]
    fn random_ids_stay_in_range_and_vary() {
        let draws: Vec<u64> = (0..10_000).map(|_| random_id().get()).collect();
        assert!(draws.iter().all(|&id| (1..=Id::MAX).contains(&id)));
        let first = draws[0];
        assert!(draws.iter().any(|&id| id != first), "random_id is constant");
        // Uniform over 2^53 values: 10,000 draws all below 2^52 happen with
        // probability 2^-10000, so this only fails if the top half is missed.
        assert!(draws.iter().any(|&id| id > Id::MAX / 2));
        assert!(draws.iter().any(|&id| id <= Id::MAX / 2));
    }

    #[test]
    fn after_wraps() {
        assert_eq!(Id::after(0).get(), 1);
        assert_eq!(Id::after(Id::MAX - 1).get(), Id::MAX);
        assert_eq!(Id::after(Id::MAX).get(), 1);
    }
}

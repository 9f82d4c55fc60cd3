//! Realms made on demand by the application's realm factory, kept while
//! sessions use them and torn down when the last one leaves.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, Weak};

use super::Realm;

/// The application's realm factory: a realm for a name that is not
/// configured, or `None`.
pub(crate) type RealmFactory = Arc<dyn Fn(&str) -> Option<Realm> + Send + Sync>;

/// What runs when a realm made by the factory is torn down.
pub(crate) type RealmTeardown = Arc<dyn Fn(&str) + Send + Sync>;

/// The realms the factory made that are in use, by name.
#[derive(Default)]
pub(crate) struct DynamicRealms {
    live: Mutex<HashMap<String, Weak<RealmLease>>>,
}

/// One use of a realm the factory made: every session of the realm (and
/// every HTTP bridge request) holds one; when the last is dropped, the
/// realm leaves the table and its teardown runs.
pub(crate) struct RealmLease {
    name: String,
    pub(crate) realm: Arc<Realm>,
    table: Weak<DynamicRealms>,
}

impl DynamicRealms {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Weak<RealmLease>>> {
        self.live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The realm named `name`: the live one, else a new one from `factory`
    /// (`None` when the factory declines, or panics).
    pub(crate) fn lease(
        self: &Arc<Self>,
        name: &str,
        factory: &RealmFactory,
    ) -> Option<Arc<RealmLease>> {
        if let Some(live) = self.lock().get(name).and_then(Weak::upgrade) {
            return Some(live);
        }
        // The factory is user code: run it outside the lock, so that it may
        // take its time (or panic) without holding up other realms.
        let made = match std::panic::catch_unwind(AssertUnwindSafe(|| factory(name))) {
            Ok(made) => made?,
            Err(_) => {
                tracing::error!(realm = name, "the realm factory panicked");
                return None;
            }
        };
        let mut live = self.lock();
        // Another HELLO for the same name may have made it meanwhile: the
        // first one made is the one every session shares.
        if let Some(existing) = live.get(name).and_then(Weak::upgrade) {
            return Some(existing);
        }
        let lease = Arc::new(RealmLease {
            name: name.to_owned(),
            realm: Arc::new(made),
            table: Arc::downgrade(self),
        });
        live.insert(name.to_owned(), Arc::downgrade(&lease));
        Some(lease)
    }

    /// How many realms made by the factory are in use.
    pub(crate) fn len(&self) -> usize {
        self.lock()
            .values()
            .filter(|w| w.strong_count() > 0)
            .count()
    }
}

impl Drop for RealmLease {
    fn drop(&mut self) {
        if let Some(table) = self.table.upgrade() {
            let mut live = table.lock();
            // A new lease of the same name may already be in the table.
            if live.get(&self.name).is_some_and(|w| w.strong_count() == 0) {
                live.remove(&self.name);
            }
        }
        if let Some(teardown) = &self.realm.teardown {
            let name = &self.name;
            if std::panic::catch_unwind(AssertUnwindSafe(|| teardown(name))).is_err() {
                tracing::error!(realm = %self.name, "a realm teardown panicked");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn a_realm_lives_while_leased_and_is_made_anew_after() {
        let made = Arc::new(AtomicUsize::new(0));
        let torn = Arc::new(AtomicUsize::new(0));
        let (m, t) = (made.clone(), torn.clone());
        let factory: RealmFactory = Arc::new(move |name: &str| {
            if name == "nope" {
                return None;
            }
            if name == "boom" {
                panic!("a factory bug");
            }
            m.fetch_add(1, Ordering::SeqCst);
            let t = t.clone();
            let mut realm = Realm::default();
            realm.on_teardown(move |_| {
                t.fetch_add(1, Ordering::SeqCst);
            });
            Some(realm)
        });
        let table = Arc::new(DynamicRealms::default());
        assert!(table.lease("nope", &factory).is_none());
        assert!(table.lease("boom", &factory).is_none());
        let a = table.lease("t1", &factory).expect("made");
        let b = table.lease("t1", &factory).expect("shared");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!((made.load(Ordering::SeqCst), table.len()), (1, 1));
        drop(a);
        assert_eq!(torn.load(Ordering::SeqCst), 0);
        drop(b);
        assert_eq!((torn.load(Ordering::SeqCst), table.len()), (1, 0));
        let _c = table.lease("t1", &factory).expect("made again");
        assert_eq!(made.load(Ordering::SeqCst), 2);
    }
}

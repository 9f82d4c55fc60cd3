//! One realm's client registrations and the invocations sent to them.
//!
//! The dealer knows its callees only as [`Callee`]s: a session ID and an
//! outbound queue. A call it routes becomes, for the caller's session, a
//! stream of the callee's answers (like a call forwarded to another node),
//! so CANCEL, the call timeout and the caller's end work as for local calls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use serverwamp_protocol::id::{RouterScopeIds, random_id};
use serverwamp_protocol::message::{
    CallOptions, CancelMode, Interrupt, InterruptOptions, Invocation, InvocationDetails, Message,
    Payload, RegisterOptions,
};
use serverwamp_protocol::well_known::error;
use serverwamp_protocol::{Dict, Id, List, MatchPolicy, Value};
use tokio::sync::mpsc;

use crate::WampError;
use crate::outbound::Outbound;
use crate::rpc::{ItemStream, ProgressiveItem};

/// How many of a callee's answers to one call wait for the caller at most.
const ANSWERS: usize = 16;

/// The dealer features a client announced in HELLO.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PeerFeatures {
    /// `callee.call_canceling`: it understands INTERRUPT.
    pub(crate) callee_cancels: bool,
    /// `callee.progressive_call_invocations`.
    pub(crate) callee_progressive_invocations: bool,
    /// `caller.progressive_call_invocations`.
    pub(crate) caller_progressive_invocations: bool,
}

impl PeerFeatures {
    /// Reads HELLO's `roles`.
    pub(crate) fn from_roles(roles: Option<&Dict>) -> Self {
        fn within<'a>(value: Option<&'a Value>, key: &str) -> Option<&'a Value> {
            match value {
                Some(Value::Dict(d)) => d.get(key),
                _ => None,
            }
        }
        let feature = |role: &str, name: &str| {
            let features = within(roles.and_then(|r| r.get(role)), "features");
            within(features, name) == Some(&Value::Bool(true))
        };
        PeerFeatures {
            callee_cancels: feature("callee", "call_canceling"),
            // Spec: progressive call invocations need call canceling too.
            callee_progressive_invocations: feature("callee", "progressive_call_invocations")
                && feature("callee", "call_canceling"),
            caller_progressive_invocations: feature("caller", "progressive_call_invocations"),
        }
    }
}

/// What the dealer needs of a callee: who it is and where its INVOCATIONs
/// and INTERRUPTs go.
#[derive(Clone)]
pub(crate) struct Callee {
    pub(crate) session: Id,
    pub(crate) outbound: Outbound,
    /// Whether it announced `call_canceling`: only then is it sent
    /// INTERRUPT.
    pub(crate) interruptible: bool,
    /// Whether it announced `progressive_call_invocations`.
    pub(crate) progressive_invocations: bool,
}

/// Who calls, for caller disclosure (a client's session; the application
/// itself has none to disclose).
pub(crate) struct Caller<'a> {
    pub(crate) session: Id,
    pub(crate) authid: &'a str,
    pub(crate) authrole: &'a str,
}

/// Spec, "Shared Registration": which of a procedure's callees gets a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Invoke {
    Single,
    RoundRobin,
    Random,
    First,
    Last,
}

impl Invoke {
    fn name(self) -> &'static str {
        match self {
            Invoke::Single => "single",
            Invoke::RoundRobin => "roundrobin",
            Invoke::Random => "random",
            Invoke::First => "first",
            Invoke::Last => "last",
        }
    }

    fn parse(name: Option<&str>) -> Option<Invoke> {
        Some(match name.unwrap_or("single") {
            "single" => Invoke::Single,
            "roundrobin" => Invoke::RoundRobin,
            "random" => Invoke::Random,
            "first" => Invoke::First,
            "last" => Invoke::Last,
            _ => return None,
        })
    }
}

struct Registration {
    uri: Arc<str>,
    policy: MatchPolicy,
    invoke: Invoke,
    /// When the first callee registered (registration meta API).
    created: SystemTime,
    disclose_caller: bool,
    /// In the order they registered.
    callees: Vec<Callee>,
    /// The round-robin cursor.
    next: usize,
}

/// One registration as `wamp.registration.get` describes it.
pub(crate) struct RegistrationInfo {
    pub(crate) id: Id,
    pub(crate) created: SystemTime,
    pub(crate) uri: String,
    pub(crate) policy: MatchPolicy,
    /// The invocation policy's name.
    pub(crate) invoke: &'static str,
}

/// An invocation waiting for its callee's answer.
struct Waiting {
    answers: mpsc::Sender<ProgressiveItem>,
    outbound: Outbound,
    /// Whether the callee understands INTERRUPT.
    interruptible: bool,
    /// The registration, for the INVOCATIONs of later chunks.
    registration: Id,
    /// Whether the caller may still send chunks (a progressive call
    /// invocation whose final CALL has not come).
    open_for_chunks: bool,
    /// Whether the callee was sent INTERRUPT already.
    interrupted: bool,
}

#[derive(Default)]
struct State {
    registrations: HashMap<Id, Registration>,
    by_uri: HashMap<(MatchPolicy, Arc<str>), Id>,
    /// By (callee session, INVOCATION request ID).
    waiting: HashMap<(Id, Id), Waiting>,
}

/// The client registrations of one realm.
pub(crate) struct Dealer {
    state: Mutex<State>,
    /// How many registrations exist: a call to a realm without any never
    /// takes the lock.
    count: AtomicUsize,
    registration_ids: RouterScopeIds,
    invocation_ids: RouterScopeIds,
}

impl Default for Dealer {
    fn default() -> Self {
        Dealer {
            state: Mutex::default(),
            count: AtomicUsize::new(0),
            registration_ids: RouterScopeIds::new(),
            invocation_ids: RouterScopeIds::new(),
        }
    }
}

impl Dealer {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether any client registered anything: cheap, for the call path.
    pub(crate) fn has_registrations(&self) -> bool {
        self.count.load(Ordering::Acquire) > 0
    }

    /// Registers `callee` for `procedure`: the registration's ID, and
    /// whether this made it (rather than joined it). Spec, "Shared
    /// Registration": a procedure registered again joins its registration
    /// when both ask the same invocation policy and it is not `single`;
    /// otherwise `wamp.error.procedure_already_exists`.
    pub(crate) fn register(
        &self,
        callee: Callee,
        procedure: &str,
        options: &RegisterOptions,
    ) -> Result<(Id, bool), WampError> {
        let Some(invoke) = Invoke::parse(options.invoke.as_deref()) else {
            return Err(WampError::invalid_argument(format!(
                "unknown invocation policy {:?}: use single, roundrobin, random, first or last",
                options.invoke.as_deref().unwrap_or_default()
            )));
        };
        let policy = options.match_policy.unwrap_or_default();
        let mut state = self.lock();
        let key = (policy, Arc::<str>::from(procedure));
        if let Some(&id) = state.by_uri.get(&key) {
            let registration = state
                .registrations
                .get_mut(&id)
                .expect("every URI's registration exists");
            let already = registration
                .callees
                .iter()
                .any(|c| c.session == callee.session);
            if invoke != registration.invoke || invoke == Invoke::Single || already {
                return Err(WampError::new(error::PROCEDURE_ALREADY_EXISTS).arg(format!(
                    "{procedure:?} is already registered with the {} policy",
                    registration.invoke.name()
                )));
            }
            registration.callees.push(callee);
            return Ok((id, false));
        }
        let id = self.registration_ids.next();
        state.registrations.insert(
            id,
            Registration {
                uri: key.1.clone(),
                policy,
                invoke,
                created: SystemTime::now(),
                disclose_caller: options.disclose_caller == Some(true),
                callees: vec![callee],
                next: 0,
            },
        );
        state.by_uri.insert(key, id);
        self.count
            .store(state.registrations.len(), Ordering::Release);
        Ok((id, true))
    }

    /// Removes `session` from `registration`: `None` if it was not there,
    /// else whether the registration ended with it (its last callee).
    pub(crate) fn unregister(&self, session: Id, registration: Id) -> Option<bool> {
        let mut state = self.lock();
        let reg = state.registrations.get_mut(&registration)?;
        let before = reg.callees.len();
        reg.callees.retain(|c| c.session != session);
        if reg.callees.len() == before {
            return None;
        }
        let deleted = reg.callees.is_empty();
        self.prune(&mut state);
        Some(deleted)
    }

    /// Forgets a session that ended: its registrations, and every call
    /// waiting for it is answered `wamp.error.canceled`. Returns the
    /// registrations it left, each with whether it ended with it.
    pub(crate) fn remove_callee(&self, session: Id) -> Vec<(Id, bool)> {
        let mut state = self.lock();
        if state.registrations.is_empty() && state.waiting.is_empty() {
            return Vec::new();
        }
        let mut left = Vec::new();
        for (id, reg) in &mut state.registrations {
            let before = reg.callees.len();
            reg.callees.retain(|c| c.session != session);
            if reg.callees.len() != before {
                left.push((*id, reg.callees.is_empty()));
            }
        }
        left.sort_unstable();
        self.prune(&mut state);
        state.waiting.retain(|(callee, _), waiting| {
            if *callee != session {
                return true;
            }
            let err =
                WampError::new(error::CANCELED).arg("the callee left before it answered the call");
            // Dropping the sender ends the caller's stream as canceled
            // too, should the queue be full.
            let _ = waiting.answers.try_send(ProgressiveItem::Error(err));
            false
        });
        left
    }

    fn prune(&self, state: &mut State) {
        let State {
            registrations,
            by_uri,
            ..
        } = state;
        registrations.retain(|_, reg| {
            if reg.callees.is_empty() {
                by_uri.remove(&(reg.policy, reg.uri.clone()));
                false
            } else {
                true
            }
        });
        self.count.store(registrations.len(), Ordering::Release);
    }

    /// The IDs of every registration, by match policy: exact, prefix,
    /// wildcard (registration meta API).
    pub(crate) fn ids_by_policy(&self) -> [Vec<Id>; 3] {
        let state = self.lock();
        let mut lists: [Vec<Id>; 3] = Default::default();
        for (id, reg) in &state.registrations {
            let index = match reg.policy {
                MatchPolicy::Exact => 0,
                MatchPolicy::Prefix => 1,
                _ => 2,
            };
            lists[index].push(*id);
        }
        for list in &mut lists {
            list.sort_unstable();
        }
        lists
    }

    /// The registration of `procedure` with `policy`, if there is one.
    pub(crate) fn lookup(&self, procedure: &str, policy: MatchPolicy) -> Option<Id> {
        self.lock()
            .by_uri
            .get(&(policy, Arc::<str>::from(procedure)))
            .copied()
    }

    /// The registration a call to `procedure` would reach, if any.
    pub(crate) fn best_match(&self, procedure: &str) -> Option<Id> {
        Self::find(&self.lock(), procedure)
    }

    /// A registration's details, if it exists.
    pub(crate) fn registration(&self, id: Id) -> Option<RegistrationInfo> {
        let state = self.lock();
        let reg = state.registrations.get(&id)?;
        Some(RegistrationInfo {
            id,
            created: reg.created,
            uri: reg.uri.to_string(),
            policy: reg.policy,
            invoke: reg.invoke.name(),
        })
    }

    /// The sessions of a registration, in the order they registered, if it
    /// exists.
    pub(crate) fn callees(&self, id: Id) -> Option<Vec<Id>> {
        let state = self.lock();
        let reg = state.registrations.get(&id)?;
        Some(reg.callees.iter().map(|c| c.session).collect())
    }

    /// The registration a call to `procedure` reaches. Spec, "Pattern-based
    /// Registration": an exact registration wins, then the longest prefix,
    /// then the wildcard with the most fixed components.
    fn find(state: &State, procedure: &str) -> Option<Id> {
        if let Some(&id) = state
            .by_uri
            .get(&(MatchPolicy::Exact, Arc::<str>::from(procedure)))
        {
            return Some(id);
        }
        let best = |policy: MatchPolicy, rank: fn(&str) -> usize| {
            state
                .by_uri
                .iter()
                .filter(|((p, uri), _)| *p == policy && policy.matches(uri, procedure))
                .max_by_key(|((_, uri), id)| (rank(uri), std::cmp::Reverse(**id)))
                .map(|(_, id)| *id)
        };
        best(MatchPolicy::Prefix, str::len).or_else(|| {
            best(MatchPolicy::Wildcard, |uri| {
                uri.split('.').filter(|c| !c.is_empty()).count()
            })
        })
    }

    /// Sends a call to the callee of `procedure`'s registration; the
    /// arguments back when no client registered it. The stream yields the
    /// callee's answers.
    pub(crate) fn invoke(
        self: &Arc<Self>,
        procedure: &str,
        caller: Option<&Caller<'_>>,
        options: &CallOptions,
        args: List,
        kwargs: Dict,
    ) -> Result<(ItemStream, CalleeCall), (List, Dict)> {
        let (callee, request, message, answers, progressive) = {
            let mut state = self.lock();
            let Some(id) = Self::find(&state, procedure) else {
                return Err((args, kwargs));
            };
            let Some(reg) = state.registrations.get_mut(&id) else {
                return Err((args, kwargs));
            };
            let request = self.invocation_ids.next();
            let (sender, answers) = mpsc::channel(ANSWERS);
            let n = reg.callees.len();
            let index = match reg.invoke {
                Invoke::Single | Invoke::First => 0,
                Invoke::Last => n - 1,
                Invoke::RoundRobin => {
                    reg.next = reg.next.wrapping_add(1);
                    (reg.next - 1) % n
                }
                Invoke::Random => usize::try_from(random_id().get() % n as u64).unwrap_or(0),
            };
            let callee = reg.callees[index].clone();
            // Spec, "Progressive Call Invocations": only a callee that
            // announced the feature gets a call in chunks.
            let progressive = options.progress == Some(true);
            if progressive && !callee.progressive_invocations {
                let err = WampError::new(error::FEATURE_NOT_SUPPORTED)
                    .arg("the callee does not take progressive call invocations");
                let refused =
                    futures_util::stream::once(std::future::ready(ProgressiveItem::Error(err)));
                let handle = CalleeCall {
                    dealer: Weak::new(),
                    key: (callee.session, request),
                    progressive: false,
                };
                return Ok((Box::pin(refused), handle));
            }
            // Spec, "Caller Identification": disclosed when the caller asks
            // or the registration requires it.
            let disclosed =
                caller.filter(|_| reg.disclose_caller || options.disclose_me == Some(true));
            let details = InvocationDetails {
                caller: disclosed.map(|c| c.session),
                caller_authid: disclosed.map(|c| c.authid.to_owned()),
                caller_authrole: disclosed.map(|c| c.authrole.to_owned()),
                procedure: (reg.policy != MatchPolicy::Exact).then(|| procedure.to_owned()),
                receive_progress: (options.receive_progress == Some(true)).then_some(true),
                progress: progressive.then_some(true),
                ..InvocationDetails::default()
            };
            let message = Message::Invocation(Invocation {
                request,
                registration: id,
                details,
                payload: Payload::new(args, kwargs),
            });
            state.waiting.insert(
                (callee.session, request),
                Waiting {
                    answers: sender,
                    outbound: callee.outbound.clone(),
                    interruptible: callee.interruptible,
                    registration: id,
                    open_for_chunks: progressive,
                    interrupted: false,
                },
            );
            (callee, request, message, answers, progressive)
        };
        let pending = Pending {
            dealer: Arc::downgrade(self),
            key: (callee.session, request),
            answered: false,
        };
        let callee_call = CalleeCall {
            dealer: Arc::downgrade(self),
            key: pending.key,
            progressive,
        };
        let stream = futures_util::stream::unfold(
            Step::Send(pending, callee.outbound, Box::new(message), answers),
            next_answer,
        );
        Ok((Box::pin(stream), callee_call))
    }

    /// An answer from a callee to one of its invocations; false when no
    /// call waits for it (answered, canceled or never sent: ignored).
    /// Waits while the caller has [`ANSWERS`] answers not yet taken: a
    /// callee reporting progress faster than its caller reads is slowed
    /// to the caller's pace rather than queued without bound. A caller
    /// that takes nothing for `patience` loses the call (its callee is
    /// interrupted), so it cannot hold a callee up for long.
    pub(crate) async fn answer(
        &self,
        callee: Id,
        request: Id,
        item: ProgressiveItem,
        patience: Duration,
    ) -> bool {
        let last = !matches!(item, ProgressiveItem::Progress(_));
        let sender = {
            let mut state = self.lock();
            let key = (callee, request);
            if last {
                state.waiting.remove(&key).map(|w| w.answers)
            } else {
                state.waiting.get(&key).map(|w| w.answers.clone())
            }
        };
        let Some(sender) = sender else {
            return false;
        };
        match tokio::time::timeout(patience, sender.send(item)).await {
            Ok(sent) => sent.is_ok(),
            Err(_) => {
                tracing::info!(%request, "a caller stopped taking its callee's answers; the call is dropped");
                // Once the caller has read what is queued, its call ends
                // as canceled (the sender is gone).
                let _ = self.interrupt((callee, request), CancelMode::KillNoWait, true);
                false
            }
        }
    }

    /// Sends INTERRUPT for an invocation still waiting, once, to a callee
    /// that understands it; returns whether it was sent.
    fn interrupt(&self, key: (Id, Id), mode: CancelMode, forget: bool) -> bool {
        let mut state = self.lock();
        let Some(waiting) = state.waiting.get_mut(&key) else {
            return false;
        };
        let sent = waiting.interruptible && !waiting.interrupted;
        if sent {
            waiting.interrupted = true;
            let message = Message::Interrupt(Interrupt {
                request: key.1,
                options: InterruptOptions {
                    mode: Some(mode),
                    ..InterruptOptions::default()
                },
            });
            // Small and at most one per call: never waits.
            let _ = waiting.outbound.send_message_unbudgeted(&message);
        }
        if forget {
            state.waiting.remove(&key);
        }
        sent
    }
}

/// Interrupts a call's invocation when its caller cancels with mode `kill`:
/// the callee's answer then ends the call. A callee that does not
/// understand INTERRUPT is not sent one (`interrupt` says false).
#[derive(Clone)]
pub(crate) struct CalleeCall {
    dealer: Weak<Dealer>,
    key: (Id, Id),
    /// Whether the caller sends the call in chunks.
    progressive: bool,
}

impl CalleeCall {
    /// Whether the caller sends this call in chunks (progressive call
    /// invocations).
    pub(crate) fn is_progressive(&self) -> bool {
        self.progressive
    }

    /// Sends the caller's next chunk to the callee, as an INVOCATION with
    /// the first one's request and registration (`progress` unless it is
    /// the last). False when the call takes no more chunks: it was
    /// answered, or its last chunk came (spec: discarded).
    pub(crate) async fn chunk(&self, args: List, kwargs: Dict, progress: bool) -> bool {
        let Some(dealer) = self.dealer.upgrade() else {
            return false;
        };
        let (outbound, message) = {
            let mut state = dealer.lock();
            let Some(waiting) = state.waiting.get_mut(&self.key) else {
                return false;
            };
            if !waiting.open_for_chunks {
                return false;
            }
            waiting.open_for_chunks = progress;
            let message = Message::Invocation(Invocation {
                request: self.key.1,
                registration: waiting.registration,
                details: InvocationDetails {
                    progress: progress.then_some(true),
                    ..InvocationDetails::default()
                },
                payload: Payload::new(args, kwargs),
            });
            (waiting.outbound.clone(), message)
        };
        outbound.send_message(&message).await
    }

    pub(crate) fn interrupt(&self) -> bool {
        self.dealer
            .upgrade()
            .is_some_and(|dealer| dealer.interrupt(self.key, CancelMode::Kill, false))
    }
}

/// A call sent to a callee: dropped before its final answer (canceled,
/// timed out, or its caller gone), the callee gets INTERRUPT `killnowait`
/// (spec, "Call Timeout": the implicit mode) and any later answer is
/// discarded.
struct Pending {
    dealer: Weak<Dealer>,
    key: (Id, Id),
    answered: bool,
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(dealer) = self.dealer.upgrade()
            && !self.answered
        {
            let _ = dealer.interrupt(self.key, CancelMode::KillNoWait, true);
        }
    }
}

enum Step {
    Send(
        Pending,
        Outbound,
        Box<Message>,
        mpsc::Receiver<ProgressiveItem>,
    ),
    Wait(Pending, mpsc::Receiver<ProgressiveItem>),
}

async fn next_answer(step: Step) -> Option<(ProgressiveItem, Step)> {
    let (mut pending, mut answers) = match step {
        Step::Send(pending, outbound, message, answers) => {
            if !outbound.send_message(&message).await {
                let err = WampError::new(error::CANCELED)
                    .arg("the callee left before it answered the call");
                let mut pending = pending;
                pending.answered = true;
                if let Some(dealer) = pending.dealer.upgrade() {
                    dealer.lock().waiting.remove(&pending.key);
                }
                return Some((ProgressiveItem::Error(err), Step::Wait(pending, answers)));
            }
            (pending, answers)
        }
        Step::Wait(pending, answers) => (pending, answers),
    };
    if pending.answered {
        return None;
    }
    let item =
        answers.recv().await.unwrap_or_else(|| {
            ProgressiveItem::Error(WampError::new(error::CANCELED).arg(
                "the callee's answers could not be delivered: it left, or the caller fell behind",
            ))
        });
    if !matches!(item, ProgressiveItem::Progress(_)) {
        pending.answered = true;
    }
    Some((item, Step::Wait(pending, answers)))
}

/// The dealers of every realm with an open session.
#[derive(Default)]
pub(crate) struct Dealers {
    by_realm: Mutex<HashMap<String, Weak<Dealer>>>,
}

impl Dealers {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Weak<Dealer>>> {
        self.by_realm
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The realm's dealer, made if no session of the realm holds one.
    pub(crate) fn get_or_create(&self, realm: &str) -> Arc<Dealer> {
        let mut map = self.lock();
        if let Some(dealer) = map.get(realm).and_then(Weak::upgrade) {
            return dealer;
        }
        let dealer = Arc::new(Dealer::default());
        map.insert(realm.to_owned(), Arc::downgrade(&dealer));
        if map.len() > 64 && map.len().is_power_of_two() {
            map.retain(|_, d| d.strong_count() > 0);
        }
        dealer
    }

    /// The realm's dealer, if a session of the realm is open.
    pub(crate) fn get(&self, realm: &str) -> Option<Arc<Dealer>> {
        self.lock().get(realm).and_then(Weak::upgrade)
    }
}

#[cfg(test)]
mod tests {
    use serverwamp_protocol::{Codec, Serialization};

    use super::*;

    fn callee(session: u64) -> Callee {
        let codec = Codec::new(Serialization::Json);
        let (outbound, _) = Outbound::channel(codec, None, 1024);
        Callee {
            session: Id::new(session).expect("an ID"),
            outbound,
            interruptible: true,
            progressive_invocations: false,
        }
    }

    fn options(policy: MatchPolicy, invoke: Option<&str>) -> RegisterOptions {
        RegisterOptions {
            match_policy: Some(policy),
            invoke: invoke.map(str::to_owned),
            ..RegisterOptions::default()
        }
    }

    #[test]
    fn exact_beats_the_longest_prefix_which_beats_wildcards() {
        let dealer = Dealer::default();
        assert!(!dealer.has_registrations());
        let short = dealer
            .register(callee(1), "a", &options(MatchPolicy::Prefix, None))
            .expect("registered")
            .0;
        let long = dealer
            .register(callee(1), "a.b", &options(MatchPolicy::Prefix, None))
            .expect("registered")
            .0;
        let wild = dealer
            .register(callee(1), "a..c", &options(MatchPolicy::Wildcard, None))
            .expect("registered")
            .0;
        let fewer = dealer
            .register(callee(1), "..c", &options(MatchPolicy::Wildcard, None))
            .expect("registered")
            .0;
        let exact = dealer
            .register(callee(1), "a.b.c", &options(MatchPolicy::Exact, None))
            .expect("registered")
            .0;
        assert!(dealer.has_registrations());
        let state = dealer.lock();
        assert_eq!(Dealer::find(&state, "a.b.c"), Some(exact));
        assert_eq!(Dealer::find(&state, "a.b.d"), Some(long));
        assert_eq!(Dealer::find(&state, "a.x"), Some(short));
        assert_eq!(Dealer::find(&state, "x.y.c"), Some(fewer));
        assert_eq!(Dealer::find(&state, "b"), None);
        drop(state);
        assert_eq!(
            dealer.unregister(Id::new(1).expect("an ID"), short),
            Some(true)
        );
        assert_eq!(dealer.unregister(Id::new(1).expect("an ID"), short), None);
        let state = dealer.lock();
        assert_eq!(Dealer::find(&state, "a.x.c"), Some(wild));
    }

    #[test]
    fn shared_registrations_need_one_policy_that_is_not_single() {
        let dealer = Dealer::default();
        let rr = options(MatchPolicy::Exact, Some("roundrobin"));
        let (id, created) = dealer.register(callee(1), "p", &rr).expect("registered");
        assert!(created);
        assert_eq!(dealer.register(callee(2), "p", &rr).ok(), Some((id, false)));
        assert_eq!(dealer.callees(id).map(|c| c.len()), Some(2));
        assert_eq!(dealer.lookup("p", MatchPolicy::Exact), Some(id));
        assert_eq!(dealer.lookup("p", MatchPolicy::Prefix), None);
        assert_eq!(dealer.best_match("p"), Some(id));
        // The same session twice, another policy, or single: refused.
        for (session, invoke) in [(2, "roundrobin"), (3, "first"), (3, "single")] {
            let err = dealer
                .register(
                    callee(session),
                    "p",
                    &options(MatchPolicy::Exact, Some(invoke)),
                )
                .expect_err("refused");
            assert_eq!(err.uri, error::PROCEDURE_ALREADY_EXISTS);
        }
        let err = dealer
            .register(
                callee(3),
                "q",
                &options(MatchPolicy::Exact, Some("loudest")),
            )
            .expect_err("refused");
        assert_eq!(err.uri, error::INVALID_ARGUMENT);
        // The last callee leaving ends the registration.
        assert_eq!(
            dealer.remove_callee(Id::new(1).expect("an ID")),
            vec![(id, false)]
        );
        assert!(dealer.has_registrations());
        assert_eq!(
            dealer.remove_callee(Id::new(2).expect("an ID")),
            vec![(id, true)]
        );
        assert!(!dealer.has_registrations());
        assert!(dealer.registration(id).is_none());
    }

    #[test]
    fn hello_roles_give_the_peer_features() {
        let roles = |json: &str| {
            let value: serde_json::Value = serde_json::from_str(json).expect("JSON");
            let value = Serialization::Json
                .decode_value(value.to_string().as_bytes())
                .expect("a value");
            match value {
                Value::Dict(d) => d,
                _ => panic!("a dict"),
            }
        };
        let none = PeerFeatures::from_roles(Some(&roles(r#"{"caller": {}}"#)));
        assert_eq!(none, PeerFeatures::default());
        let all = PeerFeatures::from_roles(Some(&roles(
            r#"{"caller": {"features": {"progressive_call_invocations": true}},
                "callee": {"features": {"call_canceling": true, "progressive_call_invocations": true}}}"#,
        )));
        assert_eq!(
            all,
            PeerFeatures {
                callee_cancels: true,
                callee_progressive_invocations: true,
                caller_progressive_invocations: true,
            }
        );
        // Progressive invocations need call canceling too.
        let half = PeerFeatures::from_roles(Some(&roles(
            r#"{"callee": {"features": {"progressive_call_invocations": true}}}"#,
        )));
        assert!(!half.callee_progressive_invocations);
        assert_eq!(PeerFeatures::from_roles(None), PeerFeatures::default());
    }
}

//! Every agency call passes its agency's gate: a free slot of this process (the
//! concurrency limit) and the circuit breaker's admission before the task's attempt is
//! counted, then the deployment's shared limits (a slot held by this call across all
//! workers, and the rate's turn: limits.rs) right before the call, so that the agency
//! sees no more calls at once, and calls no closer together, than configured, however
//! many workers serve it.
//!
//! **A task the breaker turns away waits here**, holding its delivery unacknowledged,
//! until the breaker changes state (a probe succeeded: it goes at once; the probe is
//! due: one of the waiting tasks is it), its deadline passes, or the worker stops. No
//! attempt is counted and no delivery is spent while it waits, and nothing is published:
//! a dead agency's waiting tasks cost the broker and the other agencies nothing. The
//! waiting tasks tell the breaker their deadlines, which bound how long it stays open
//! (breaker.rs), so a probe comes before they run out of time and the moment it
//! succeeds they are released together.
//!
//! A task that has waited [`MAX_HOLD`] goes back through the retry tier instead
//! ([`rabt_queue::Transport::publish_delayed`], marked [`DEFERRED_HEADER`]): acked and
//! republished, no attempt counted. Why not hold it longer, or hand it back with `nack`:
//! RabbitMQ cancels a consumer that keeps a delivery unacknowledged past its
//! `consumer_timeout` (30 minutes by default), and a requeued delivery counts toward the
//! queue's delivery limit, so a long outage would dead-letter tasks never attempted.
//! While the agency's waiting tasks fill the worker's prefetch, the rest of its tasks
//! stay ready in its queue; the other agencies' consumers never notice.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rabt_adapter::{AdapterError, Answer};
use rabt_core::Agency;
use rabt_metrics::{Circuit, metrics};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::breaker::{
    Admission, Breaker, BreakerSettings, BreakerSnapshot, Permit, Signal, Transition,
};
use crate::limits::{AgencyLimits, SharedLimits, SharedSlot};

/// The header that marks a task sent back unattempted, with why.
pub const DEFERRED_HEADER: &str = "x-rabt-deferred";

/// The longest a task waits in the worker for its agency's breaker before it goes back
/// through the retry tier (well within RabbitMQ's 30-minute `consumer_timeout`).
pub(crate) const MAX_HOLD: Duration = Duration::from_secs(120);

/// How long an agency's calls ramp up after a probe closed its breaker: the tasks that
/// waited out the outage, and the backlog in its queue, would otherwise all go in the
/// same instant and take the worker's database connections and CPU from the healthy
/// agencies for a second or two (measured in tests/drill.sh at 30 requests/s: their p99
/// went from 50 to 450-900 ms at the moment of recovery). Calls are paced instead, from
/// [`RAMP_START_PER_SECOND`] a second, doubling every second, until the ramp ends.
const RAMP: Duration = Duration::from_secs(5);
/// See [`RAMP`].
const RAMP_START_PER_SECOND: f64 = 5.0;

/// Where an agency's ramp after a recovery stands.
#[derive(Debug, Clone, Copy)]
struct Ramp {
    since: Instant,
    /// When the next call may go.
    next: Instant,
}

/// One agency's gate as seen from outside: its breaker, and its calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateSnapshot {
    /// The circuit breaker's state and counts.
    pub breaker: BreakerSnapshot,
    /// Calls admitted and not finished (waiting for a rate token included).
    pub calls_in_flight: u32,
    /// Tasks sent back to the retry tier unattempted since the worker started.
    pub deferred: u64,
    /// Tasks waiting in this worker for the breaker to let them go.
    pub waiting: u32,
}

/// The gates of every agency, at the agency's [`Agency::index`].
#[derive(Debug)]
pub(crate) struct Gates {
    gates: [Arc<Gate>; Agency::ALL.len()],
}

#[derive(Debug)]
struct Gate {
    agency: Agency,
    breaker: Mutex<Breaker>,
    slots: Option<Arc<Semaphore>>,
    /// The limits every worker of the deployment shares, if the agency has any.
    shared: Option<SharedLimits>,
    in_flight: AtomicU32,
    deferred: AtomicU64,
    waiting: AtomicU32,
    /// Woken at every transition of the breaker: the waiting tasks ask again.
    changed: Notify,
    /// The ramp after a probe closed the breaker, while it lasts ([`RAMP`]).
    ramp: Mutex<Option<Ramp>>,
}

/// What the gate says to a task.
#[derive(Debug)]
pub(crate) enum Entry {
    /// Call the agency; report how it went on the pass.
    Go(Pass),
    /// The breaker kept the task waiting [`MAX_HOLD`] and is still open for this long:
    /// send it back through the retry tier, unattempted.
    Wait(Duration),
    /// The task's deadline passed while it waited.
    Expired,
    /// The worker is stopping while the task waited.
    Stopped,
}

/// An admitted call. Report its result with [`Pass::record`]; a pass dropped without
/// one (the task turned out to be done already) tells the breaker nothing.
#[derive(Debug)]
pub(crate) struct Pass {
    gate: Arc<Gate>,
    permit: Permit,
    recorded: bool,
    _slot: Option<OwnedSemaphorePermit>,
    /// The deployment-wide slot of this call, once taken.
    _shared_slot: Option<SharedSlot>,
}

/// Where the limits every worker shares are kept, and who this worker is.
#[derive(Debug, Clone)]
pub(crate) struct SharedBy {
    pub(crate) store: rabt_store::Store,
    /// This worker process, as the holder of agency slots.
    pub(crate) holder: String,
    /// The longest agency call.
    pub(crate) call_timeout: Duration,
}

impl Gates {
    /// Closed breakers with `breaker`'s settings, and `limits` where given, shared
    /// through `shared`.
    pub(crate) fn new(
        breaker: &BreakerSettings,
        limits: &BTreeMap<Agency, AgencyLimits>,
        shared: &SharedBy,
    ) -> Gates {
        let gates = Agency::ALL.map(|agency| {
            // An agency the settings do not name has no limits (WorkerSettings::limits).
            let limits = limits.get(&agency).copied().unwrap_or_default();
            let shared_limits = SharedLimits::new(
                shared.store.clone(),
                agency,
                &shared.holder,
                &limits,
                shared.call_timeout,
            );
            Arc::new(Gate {
                agency,
                breaker: Mutex::new(Breaker::new(breaker.clone())),
                slots: limits
                    .concurrency()
                    .map(|n| Arc::new(Semaphore::new(n.get() as usize))),
                shared: shared_limits,
                in_flight: AtomicU32::new(0),
                deferred: AtomicU64::new(0),
                waiting: AtomicU32::new(0),
                changed: Notify::new(),
                ramp: Mutex::new(None),
            })
        });
        Gates { gates }
    }

    fn gate(&self, agency: Agency) -> &Arc<Gate> {
        &self.gates[agency.index()]
    }

    /// Waits for a slot, then asks the breaker; while the breaker turns the task away,
    /// waits (without the slot) for it to change its mind, at most [`MAX_HOLD`] and never
    /// past `deadline`. Ends early only when the worker stops.
    pub(crate) async fn enter(
        &self,
        agency: Agency,
        deadline: Instant,
        stop: &CancellationToken,
    ) -> Entry {
        let gate = self.gate(agency).clone();
        let held_until = Instant::now() + MAX_HOLD;
        let mut waiting = None;
        loop {
            // Right after a recovery, calls ramp up (see RAMP).
            if let Some(pause) = gate.ramp_wait(Instant::now()) {
                if stopped_during(stop, tokio::time::sleep(pause)).await {
                    return Entry::Stopped;
                }
                continue;
            }
            // Registered before asking, so a transition between the answer and the wait
            // is not missed.
            let changed = gate.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let Some(slot) = gate.local_slot(stop).await else {
                return Entry::Stopped;
            };
            let now = Instant::now();
            let wait = match Gate::admit(&gate, now, deadline, slot) {
                Ok(pass) => return Entry::Go(pass),
                Err(wait) => wait,
            };
            if now >= deadline {
                return Entry::Expired;
            }
            if now >= held_until {
                return Entry::Wait(wait);
            }
            let _counted = waiting.get_or_insert_with(|| Waiting::new(&gate));
            let wake = (now + wait).min(deadline).min(held_until);
            tokio::select! {
                biased;
                () = stop.cancelled() => return Entry::Stopped,
                () = &mut changed => {}
                () = tokio::time::sleep_until(wake.into()) => {}
            }
        }
    }

    /// Counts a task sent back unattempted.
    pub(crate) fn count_deferral(&self, agency: Agency) {
        self.gate(agency).deferred.fetch_add(1, Ordering::Relaxed);
    }

    /// The gates of `agencies` as of now.
    pub(crate) fn snapshots(&self, agencies: &[Agency]) -> BTreeMap<Agency, GateSnapshot> {
        let now = Instant::now();
        agencies
            .iter()
            .map(|agency| {
                let gate = self.gate(*agency);
                let snapshot = GateSnapshot {
                    breaker: gate.breaker().snapshot(now),
                    calls_in_flight: gate.in_flight.load(Ordering::Relaxed),
                    deferred: gate.deferred.load(Ordering::Relaxed),
                    waiting: gate.waiting.load(Ordering::Relaxed),
                };
                (*agency, snapshot)
            })
            .collect()
    }
}

/// Waits for `wait` unless the worker stops first: true when it stopped.
async fn stopped_during(stop: &CancellationToken, wait: impl Future<Output = ()>) -> bool {
    tokio::select! {
        biased;
        () = stop.cancelled() => true,
        () = wait => false,
    }
}

impl Gate {
    /// A slot of this process's concurrency limit, waited for (`Some(None)`: the
    /// agency has no limit); `None` when the worker stops first.
    async fn local_slot(&self, stop: &CancellationToken) -> Option<Option<OwnedSemaphorePermit>> {
        let Some(slots) = &self.slots else {
            return Some(None);
        };
        tokio::select! {
            biased;
            () = stop.cancelled() => None,
            // The semaphore is never closed, so acquiring only fails if it were.
            slot = slots.clone().acquire_owned() => Some(slot.ok()),
        }
    }

    /// Asks the breaker at `now`: a pass holding `slot`, or how long the breaker stays
    /// open (the slot is given back then, for the task waits without it).
    fn admit(
        gate: &Arc<Gate>,
        now: Instant,
        deadline: Instant,
        slot: Option<OwnedSemaphorePermit>,
    ) -> Result<Pass, Duration> {
        let (admission, transition) = gate.breaker().admit_until(now, Some(deadline));
        gate.log(transition);
        match admission {
            Admission::Allowed(permit) => {
                gate.in_flight.fetch_add(1, Ordering::Relaxed);
                Ok(Pass {
                    gate: gate.clone(),
                    permit,
                    recorded: false,
                    _slot: slot,
                    _shared_slot: None,
                })
            }
            Admission::Denied { wait } => Err(wait),
        }
    }

    /// While the calls ramp up after a recovery: how long this call must wait for its
    /// turn (`None`: it may go now, and takes the turn).
    fn ramp_wait(&self, now: Instant) -> Option<Duration> {
        let mut ramp = self.ramp.lock().unwrap_or_else(PoisonError::into_inner);
        let current = (*ramp)?;
        let since = now.saturating_duration_since(current.since);
        if since >= RAMP {
            *ramp = None;
            return None;
        }
        if now < current.next {
            return Some(current.next - now);
        }
        let per_second = RAMP_START_PER_SECOND * 2f64.powf(since.as_secs_f64());
        *ramp = Some(Ramp {
            next: now + Duration::from_secs_f64(1.0 / per_second),
            ..current
        });
        None
    }

    fn breaker(&self) -> MutexGuard<'_, Breaker> {
        // The breaker's state is consistent between its methods, which do not panic
        // midway; a poisoned lock says only that another thread panicked elsewhere.
        self.breaker.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn log(&self, transition: Option<Transition>) {
        let agency = self.agency;
        let circuit = match transition {
            None => None,
            Some(Transition::Opened { .. }) => Some(Circuit::Open),
            Some(Transition::HalfOpened) => Some(Circuit::HalfOpen),
            Some(Transition::Closed) => Some(Circuit::Closed),
        };
        if let Some(Transition::Closed) = transition {
            let now = Instant::now();
            *self.ramp.lock().unwrap_or_else(PoisonError::into_inner) = Some(Ramp {
                since: now,
                next: now,
            });
        }
        if let Some(circuit) = circuit {
            metrics().circuit(agency, circuit);
            // Every transition may let waiting tasks go (closed), or need one of them
            // as the probe (half-open), or give them a new wait (opened).
            self.changed.notify_waiters();
        }
        match transition {
            None => {}
            Some(Transition::Opened { reason, cooldown }) => tracing::info!(
                %agency, ?reason, cooldown_ms = cooldown.as_millis() as u64,
                "circuit opened: the agency's tasks wait until a probe finds it back"
            ),
            Some(Transition::HalfOpened) => tracing::info!(
                %agency,
                "circuit half-open: one probe call goes to the agency"
            ),
            Some(Transition::Closed) => tracing::info!(
                %agency,
                "circuit closed: the probe succeeded; calls to the agency flow again"
            ),
        }
    }
}

/// Counts a task among its gate's waiting ones while it lives.
#[derive(Debug)]
struct Waiting(Arc<Gate>);

impl Waiting {
    fn new(gate: &Arc<Gate>) -> Waiting {
        gate.waiting.fetch_add(1, Ordering::Relaxed);
        Waiting(gate.clone())
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Pass {
    /// Waits for the deployment's limits right before the call: a slot held by this
    /// call across every worker, then the rate's turn. False when the worker stops first
    /// (the call must not be made then).
    pub(crate) async fn paced(&mut self, stop: &CancellationToken) -> bool {
        let Some(shared) = &self.gate.shared else {
            return true;
        };
        match shared.wait_turn(stop).await {
            Some(slot) => {
                self._shared_slot = slot;
                true
            }
            None => false,
        }
    }

    /// Reports how the call went.
    pub(crate) fn record(mut self, signal: Signal) {
        self.recorded = true;
        let transition = self
            .gate
            .breaker()
            .record(self.permit, signal, Instant::now());
        self.gate.log(transition);
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        if !self.recorded {
            // A probe that never called must not keep the breaker half-open forever.
            let transition =
                self.gate
                    .breaker()
                    .record(self.permit, Signal::Inconclusive, Instant::now());
            self.gate.log(transition);
            if self.permit.is_probe() {
                // Another waiting task may be the probe now.
                self.gate.changed.notify_waiters();
            }
        }
        self.gate.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What a call's result says about the agency: only failures a retry could fix count
/// against it; a refusal is an answer, so the agency is up.
pub(crate) fn signal(result: &Result<Answer, AdapterError>) -> Signal {
    match result {
        Ok(_) | Err(AdapterError::Refused { .. }) => Signal::Success,
        Err(
            err @ (AdapterError::Unavailable { .. }
            | AdapterError::Timeout(_)
            | AdapterError::Malformed(_)),
        ) => Signal::Failure {
            retry_after: err.retry_after(),
        },
        Err(AdapterError::UnsupportedService(_) | AdapterError::BadCallback(_)) => {
            Signal::Inconclusive
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(tiers_ms: &[u64]) -> rabt_queue::Transport {
        rabt_queue::Transport::embedded(rabt_queue::Settings {
            retry_tiers: tiers_ms.iter().map(|t| Duration::from_millis(*t)).collect(),
            ..rabt_queue::Settings::default()
        })
    }

    #[test]
    fn a_deferred_task_is_back_before_the_cooldown_ends() {
        let t = transport(&[1_000, 2_000, 5_000, 10_000, 30_000, 120_000]);
        let ms = Duration::from_millis;
        assert_eq!(t.retry_delay_within(ms(60_000)), ms(30_000));
        assert_eq!(t.retry_delay_within(ms(11_000)), ms(10_000));
        assert_eq!(t.retry_delay_within(ms(4_999)), ms(2_000));
        assert_eq!(t.retry_delay_within(ms(5_000)), ms(5_000));
        assert_eq!(t.retry_delay_within(ms(1_500)), ms(1_000));
        assert_eq!(
            t.retry_delay_within(ms(300)),
            ms(1_000),
            "the shortest at least"
        );
        assert_eq!(t.retry_delay_within(ms(3_600_000)), ms(120_000));
    }

    #[test]
    fn only_failures_a_retry_could_fix_count_against_the_agency() {
        let unavailable = AdapterError::Unavailable {
            reason: "429".to_owned(),
            retry_after: Some(Duration::from_secs(7)),
            source: None,
        };
        assert_eq!(
            signal(&Err(unavailable)),
            Signal::Failure {
                retry_after: Some(Duration::from_secs(7))
            }
        );
        let timeout = AdapterError::Timeout(Duration::from_secs(1));
        assert_eq!(signal(&Err(timeout)), Signal::Failure { retry_after: None });
        let malformed = AdapterError::Malformed("not XML".to_owned());
        assert!(matches!(signal(&Err(malformed)), Signal::Failure { .. }));
        let refused = AdapterError::invalid_input("no such address");
        assert_eq!(signal(&Err(refused)), Signal::Success);
        let answered = Answer::Submitted {
            upstream_ref: "REF".to_owned(),
        };
        assert_eq!(signal(&Ok(answered)), Signal::Success);
        let unsupported = AdapterError::BadCallback("never calls back".to_owned());
        assert_eq!(signal(&Err(unsupported)), Signal::Inconclusive);
    }
}

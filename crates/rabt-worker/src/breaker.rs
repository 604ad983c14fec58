//! The circuit breaker of one agency, as a pure state machine: no IO, no clock of its
//! own. The caller passes `now` to every step, so tests drive it with a made-up clock.
//!
//! ```text
//! CLOSED ──(N consecutive failures, or the error rate over the window)──▶ OPEN
//! OPEN ──(cooldown over; the next admission)──▶ HALF-OPEN (one probe call admitted)
//! HALF-OPEN ──probe succeeds──▶ CLOSED        HALF-OPEN ──probe fails──▶ OPEN (longer)
//! ```
//!
//! Only failures a retry could fix count ([`Signal::Failure`]: the agency unavailable,
//! silent or answering garbage); an agency that answers — even "no" or "invalid input"
//! — is alive ([`Signal::Success`]). Every admission carries the breaker's epoch, which
//! changes at each transition, so a call admitted in an earlier state (still in flight
//! when the breaker opened) can neither reopen nor close it.
//!
//! **Deadlines bound the open period.** A task turned away says when its deadline is
//! ([`Breaker::admit_until`]). The breaker remembers the earliest deadline of the tasks
//! it turned away while open, and never stays open for more than half of what that task
//! has left (at least [`BreakerSettings::min_open`]): each probe comes sooner as the
//! deadline nears, so an agency back before a waiting task's deadline is found in time
//! for the task to be called. A doubling cooldown alone stayed open past a 30 s
//! deadline after three failed probes (5, 10, 20 s) and ended every waiting task
//! `TIMEOUT` though the agency was back.

use std::time::{Duration, Instant};

use crate::SettingsError;

/// When a breaker opens and for how long. The defaults are those of `deploy/rabt.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerSettings {
    /// Consecutive failures that open the breaker.
    pub failures: u32,
    /// The share of failed calls in the window (0 < rate ≤ 1) that opens the breaker...
    pub error_rate: f64,
    /// ...over this sliding window...
    pub window: Duration,
    /// ...once at least this many calls ended in it (a few calls prove nothing).
    pub min_calls: u32,
    /// How long the breaker stays open the first time; it doubles each time a probe
    /// fails right after, up to `max_cooldown`.
    pub cooldown: Duration,
    /// The longest the breaker stays open at once.
    pub max_cooldown: Duration,
}

impl BreakerSettings {
    /// The shortest open period the deadline bound may leave (see the module
    /// documentation): near a deadline, a dead agency is probed about once a second,
    /// never in a tight loop.
    pub const MIN_OPEN: Duration = Duration::from_secs(1);

    /// The shortest open period: [`BreakerSettings::MIN_OPEN`], or the cooldown if that
    /// is shorter.
    pub fn min_open(&self) -> Duration {
        self.cooldown.min(BreakerSettings::MIN_OPEN)
    }
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            failures: 5,
            error_rate: 0.5,
            window: Duration::from_secs(30),
            min_calls: 20,
            cooldown: Duration::from_secs(5),
            max_cooldown: Duration::from_secs(60),
        }
    }
}

impl BreakerSettings {
    /// The settings, or the first field that makes no sense (named as its
    /// `[worker.breaker]` configuration key).
    pub fn validated(self) -> Result<Self, SettingsError> {
        let invalid = |key, problem| Err(SettingsError::Invalid { key, problem });
        if self.failures == 0 {
            return invalid("failures", "must be at least 1");
        }
        if !(self.error_rate > 0.0 && self.error_rate <= 1.0) {
            return invalid("error_rate", "must be above 0 and at most 1");
        }
        if self.window.is_zero() {
            return invalid("window_ms", "must be positive");
        }
        if self.min_calls == 0 {
            return invalid("min_calls", "must be at least 1");
        }
        if self.cooldown.is_zero() {
            return invalid("cooldown_ms", "must be positive");
        }
        if self.max_cooldown < self.cooldown {
            return invalid("max_cooldown_ms", "must be at least cooldown_ms");
        }
        if self.max_cooldown > BreakerSettings::LONGEST_COOLDOWN {
            return invalid("max_cooldown_ms", "must be at most a day (86400000)");
        }
        Ok(self)
    }

    /// Beyond a day an agency is not failing but gone: an operator's business.
    const LONGEST_COOLDOWN: Duration = Duration::from_secs(24 * 3600);

    /// Settings the breaker can run with whatever it was given: each field brought
    /// within the bounds [`BreakerSettings::validated`] checks.
    fn sane(self) -> BreakerSettings {
        let max_cooldown = self
            .max_cooldown
            .clamp(Duration::from_millis(1), BreakerSettings::LONGEST_COOLDOWN);
        BreakerSettings {
            failures: self.failures.max(1),
            error_rate: if self.error_rate > 0.0 && self.error_rate <= 1.0 {
                self.error_rate
            } else {
                1.0
            },
            window: self.window.max(Duration::from_millis(1)),
            min_calls: self.min_calls.max(1),
            cooldown: self.cooldown.clamp(Duration::from_millis(1), max_cooldown),
            max_cooldown,
        }
    }
}

/// What one admitted call says about the agency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// The agency answered (whatever it answered).
    Success,
    /// A failure a retry could fix: unavailable, 429, no answer in time, garbage. The
    /// agency's `Retry-After`, if any, lengthens the cooldown when this opens it.
    Failure {
        /// The agency's own hint.
        retry_after: Option<Duration>,
    },
    /// Nothing learnt about the agency (the call never happened, or failed on our side).
    Inconclusive,
}

/// A breaker's state, as shown to operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    /// Calls flow.
    Closed,
    /// Calls wait; the agency is left alone until the cooldown is over.
    Open,
    /// The cooldown is over: one probe call decides.
    HalfOpen,
}

/// Why a breaker opened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OpenReason {
    /// This many failures in a row.
    ConsecutiveFailures(u32),
    /// This many of the window's calls failed.
    ErrorRate {
        /// Failed calls in the window.
        failures: u32,
        /// Calls in the window.
        calls: u32,
    },
    /// The half-open probe failed.
    ProbeFailed,
}

/// A change of state, for the caller to log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Transition {
    /// Now open for `cooldown`.
    Opened {
        /// Why.
        reason: OpenReason,
        /// How long it stays open.
        cooldown: Duration,
    },
    /// The cooldown is over; a probe goes through.
    HalfOpened,
    /// The probe succeeded; calls flow again.
    Closed,
}

/// The breaker's answer to "may a call go now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Yes; report how it went with [`Breaker::record`].
    Allowed(Permit),
    /// No; ask again after `wait`.
    Denied {
        /// Until the cooldown is over, or until the probe in flight has had its time.
        wait: Duration,
    },
}

/// An admitted call, to be reported with [`Breaker::record`] exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permit {
    epoch: u64,
    probe: bool,
}

impl Permit {
    /// True for the single call a half-open breaker lets through.
    pub fn is_probe(&self) -> bool {
        self.probe
    }
}

/// A breaker's state and counts, for logs, metrics and the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSnapshot {
    /// Its state now.
    pub state: CircuitState,
    /// While open: how long until a probe may go.
    pub open_for: Option<Duration>,
    /// Failures in a row since the last success (while closed).
    pub consecutive_failures: u32,
    /// Calls that ended in the sliding window (while closed).
    pub window_calls: u32,
    /// Of which failed.
    pub window_failures: u32,
    /// How often it opened since the worker started.
    pub times_opened: u64,
    /// How many probes it let through.
    pub probes: u64,
    /// How many calls it turned away.
    pub denied: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed,
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// One agency's circuit breaker. See the module documentation.
#[derive(Debug, Clone)]
pub struct Breaker {
    settings: BreakerSettings,
    state: State,
    /// Changes at every transition; permits of another epoch are ignored.
    epoch: u64,
    consecutive: u32,
    window: Window,
    /// Opens since the breaker was last closed by a probe: the cooldown doubles each.
    opens_in_a_row: u32,
    /// The earliest deadline of the tasks turned away since the breaker last opened or
    /// closed: the open period must leave that task time to be called.
    earliest_waiting: Option<Instant>,
    times_opened: u64,
    probes: u64,
    denied: u64,
}

impl Breaker {
    /// A closed breaker. Settings out of bounds (see [`BreakerSettings::validated`]) are
    /// brought within them rather than refused.
    pub fn new(settings: BreakerSettings) -> Breaker {
        let settings = settings.sane();
        let window = Window::new(settings.window);
        Breaker {
            settings,
            state: State::Closed,
            epoch: 0,
            consecutive: 0,
            window,
            opens_in_a_row: 0,
            earliest_waiting: None,
            times_opened: 0,
            probes: 0,
            denied: 0,
        }
    }

    /// May a call go now? An open breaker whose cooldown is over turns half-open here
    /// (the transition is returned) and admits this call as its probe.
    pub fn admit(&mut self, now: Instant) -> (Admission, Option<Transition>) {
        self.admit_until(now, None)
    }

    /// [`Breaker::admit`] for a task that must be called before `deadline`. If it is
    /// turned away, the breaker's open period is shortened to leave it time (see the
    /// module documentation), and the wait it is given says so.
    pub fn admit_until(
        &mut self,
        now: Instant,
        deadline: Option<Instant>,
    ) -> (Admission, Option<Transition>) {
        let mut transition = None;
        if let State::Open { until } = self.state {
            if now < until {
                self.denied += 1;
                let until = self.bound_by(deadline, now, until);
                return (Admission::Denied { wait: until - now }, None);
            }
            self.state = State::HalfOpen { probing: false };
            self.epoch += 1;
            transition = Some(Transition::HalfOpened);
        }
        let admission = match self.state {
            State::Closed => Admission::Allowed(Permit {
                epoch: self.epoch,
                probe: false,
            }),
            State::HalfOpen { probing: false } => {
                self.state = State::HalfOpen { probing: true };
                self.probes += 1;
                Admission::Allowed(Permit {
                    epoch: self.epoch,
                    probe: true,
                })
            }
            // A probe is out: give it the first cooldown's time before asking again.
            State::HalfOpen { probing: true } | State::Open { .. } => {
                self.denied += 1;
                self.note_waiting(deadline);
                Admission::Denied {
                    wait: self.settings.cooldown,
                }
            }
        };
        (admission, transition)
    }

    /// Remembers a waiting task's deadline.
    fn note_waiting(&mut self, deadline: Option<Instant>) {
        if let Some(deadline) = deadline {
            self.earliest_waiting =
                Some(self.earliest_waiting.map_or(deadline, |e| e.min(deadline)));
        }
    }

    /// Notes `deadline` and shortens the open period ending at `until` to what the
    /// waiting tasks can afford; returns the (new) end.
    fn bound_by(&mut self, deadline: Option<Instant>, now: Instant, until: Instant) -> Instant {
        self.note_waiting(deadline);
        let bounded = now
            .checked_add(self.affordable(now))
            .map_or(until, |latest| until.min(latest));
        if bounded < until {
            self.state = State::Open { until: bounded };
        }
        bounded
    }

    /// The longest the breaker may stay open from `now` for the waiting task with the
    /// earliest deadline: half of what it has left, at least [`BreakerSettings::min_open`].
    /// A deadline already passed bounds nothing: that task ends `TIMEOUT` anyway.
    fn affordable(&self, now: Instant) -> Duration {
        let floor = self.settings.min_open();
        match self.earliest_waiting {
            Some(deadline) if deadline > now => ((deadline - now) / 2).max(floor),
            _ => Duration::MAX,
        }
    }

    /// How an admitted call went. A permit from an earlier epoch (a call admitted
    /// before the last transition) changes nothing.
    pub fn record(&mut self, permit: Permit, signal: Signal, now: Instant) -> Option<Transition> {
        if permit.epoch != self.epoch {
            return None;
        }
        match (self.state, permit.probe) {
            (State::HalfOpen { probing: true }, true) => match signal {
                Signal::Success => {
                    self.close();
                    Some(Transition::Closed)
                }
                Signal::Failure { retry_after } => {
                    Some(self.open(OpenReason::ProbeFailed, retry_after, now))
                }
                Signal::Inconclusive => {
                    self.state = State::HalfOpen { probing: false };
                    None
                }
            },
            (State::Closed, false) => self.record_closed(signal, now),
            // Unreachable with permits of this epoch; nothing to learn either way.
            _ => None,
        }
    }

    fn record_closed(&mut self, signal: Signal, now: Instant) -> Option<Transition> {
        let retry_after = match signal {
            Signal::Inconclusive => return None,
            Signal::Success => {
                self.consecutive = 0;
                self.window.add(now, false);
                return None;
            }
            Signal::Failure { retry_after } => retry_after,
        };
        self.consecutive = self.consecutive.saturating_add(1);
        self.window.add(now, true);
        let (calls, failures) = self.window.totals(now);
        let reason = if self.consecutive >= self.settings.failures {
            OpenReason::ConsecutiveFailures(self.consecutive)
        } else if calls >= self.settings.min_calls
            && f64::from(failures) >= self.settings.error_rate * f64::from(calls)
        {
            OpenReason::ErrorRate { failures, calls }
        } else {
            return None;
        };
        Some(self.open(reason, retry_after, now))
    }

    fn open(
        &mut self,
        reason: OpenReason,
        retry_after: Option<Duration>,
        now: Instant,
    ) -> Transition {
        self.opens_in_a_row = self.opens_in_a_row.saturating_add(1);
        let doublings = self.opens_in_a_row.saturating_sub(1).min(31);
        let grown = self.settings.cooldown.saturating_mul(1u32 << doublings);
        // What waiting tasks can afford bounds the doubling; the agency's own
        // Retry-After is honoured over that, within the cap.
        let cooldown = grown
            .min(self.affordable(now))
            // No Retry-After from the agency: no lower bound (zero).
            .max(retry_after.unwrap_or_default())
            .min(self.settings.max_cooldown);
        self.state = State::Open {
            until: now + cooldown,
        };
        self.epoch += 1;
        self.consecutive = 0;
        self.window.clear();
        // The tasks still waiting say their deadlines again when they ask next.
        self.earliest_waiting = None;
        self.times_opened += 1;
        Transition::Opened { reason, cooldown }
    }

    fn close(&mut self) {
        self.state = State::Closed;
        self.epoch += 1;
        self.consecutive = 0;
        self.window.clear();
        self.opens_in_a_row = 0;
        self.earliest_waiting = None;
    }

    /// The state and counts as of `now`.
    pub fn snapshot(&self, now: Instant) -> BreakerSnapshot {
        let (state, open_for) = match self.state {
            State::Closed => (CircuitState::Closed, None),
            State::Open { until } if now < until => (CircuitState::Open, Some(until - now)),
            // The cooldown is over: the next call is the probe.
            State::Open { .. } | State::HalfOpen { .. } => (CircuitState::HalfOpen, None),
        };
        let (window_calls, window_failures) = self.window.totals(now);
        BreakerSnapshot {
            state,
            open_for,
            consecutive_failures: self.consecutive,
            window_calls,
            window_failures,
            times_opened: self.times_opened,
            probes: self.probes,
            denied: self.denied,
        }
    }
}

/// Calls and failures over a sliding window, in [`Window::SLOTS`] slots of equal width:
/// bounded memory whatever the call rate; the window slides one slot at a time.
#[derive(Debug, Clone)]
struct Window {
    width: Duration,
    origin: Option<Instant>,
    slots: [Slot; Window::SLOTS],
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// Which slot-width interval since the origin this slot counts.
    index: u64,
    calls: u32,
    failures: u32,
}

impl Window {
    const SLOTS: usize = 10;

    fn new(span: Duration) -> Window {
        Window {
            width: (span / Window::SLOTS as u32).max(Duration::from_millis(1)),
            origin: None,
            slots: [Slot::default(); Window::SLOTS],
        }
    }

    fn index(&mut self, now: Instant) -> u64 {
        let origin = *self.origin.get_or_insert(now);
        let elapsed = now.saturating_duration_since(origin).as_nanos();
        u64::try_from(elapsed / self.width.as_nanos().max(1)).unwrap_or(u64::MAX)
    }

    fn add(&mut self, now: Instant, failed: bool) {
        let index = self.index(now);
        let slot = &mut self.slots[(index % Window::SLOTS as u64) as usize];
        if slot.index != index {
            *slot = Slot {
                index,
                ..Slot::default()
            };
        }
        slot.calls = slot.calls.saturating_add(1);
        slot.failures = slot.failures.saturating_add(u32::from(failed));
    }

    /// Calls and failures in the slots still inside the window at `now`.
    fn totals(&self, now: Instant) -> (u32, u32) {
        let Some(origin) = self.origin else {
            return (0, 0);
        };
        let elapsed = now.saturating_duration_since(origin).as_nanos();
        let current = u64::try_from(elapsed / self.width.as_nanos().max(1)).unwrap_or(u64::MAX);
        let oldest = current.saturating_sub(Window::SLOTS as u64 - 1);
        self.slots
            .iter()
            .filter(|s| (s.calls > 0) && (oldest..=current).contains(&s.index))
            .fold((0, 0), |(c, f), s| {
                (c.saturating_add(s.calls), f.saturating_add(s.failures))
            })
    }

    fn clear(&mut self) {
        self.origin = None;
        self.slots = [Slot::default(); Window::SLOTS];
    }
}

#[cfg(test)]
mod tests;

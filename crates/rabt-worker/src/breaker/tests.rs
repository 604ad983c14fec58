//! The breaker driven by a made-up clock: `at(ms)` is a fixed instant plus `ms`, so no
//! test sleeps and every wait is exact. The property tests at the end run seeded random
//! sequences of admissions, results and clock steps against the invariants.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::OnceLock;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

fn at(ms: u64) -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now) + Duration::from_millis(ms)
}

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

const FAIL: Signal = Signal::Failure { retry_after: None };

/// Three failures in a row open it; the rate needs 10 calls over 10 s; 1 s cooldown,
/// at most 4 s.
fn settings() -> BreakerSettings {
    BreakerSettings {
        failures: 3,
        error_rate: 0.5,
        window: ms(10_000),
        min_calls: 10,
        cooldown: ms(1_000),
        max_cooldown: ms(4_000),
    }
}

fn allowed(breaker: &mut Breaker, now: Instant) -> Permit {
    match breaker.admit(now).0 {
        Admission::Allowed(permit) => permit,
        denied => panic!("expected a permit, got {denied:?}"),
    }
}

fn denied(breaker: &mut Breaker, now: Instant) -> Duration {
    match breaker.admit(now).0 {
        Admission::Denied { wait } => wait,
        allowed => panic!("expected a denial, got {allowed:?}"),
    }
}

/// One admitted call at `now` that ends with `signal` at once.
fn call(breaker: &mut Breaker, now: Instant, signal: Signal) -> Option<Transition> {
    let permit = allowed(breaker, now);
    breaker.record(permit, signal, now)
}

fn opened_at(now: Instant) -> Breaker {
    let mut breaker = Breaker::new(settings());
    for _ in 0..3 {
        call(&mut breaker, now, FAIL);
    }
    assert_eq!(breaker.snapshot(now).state, CircuitState::Open);
    breaker
}

#[test]
fn consecutive_failures_open_it_and_a_success_resets_the_count() {
    let mut breaker = Breaker::new(settings());
    assert_eq!(call(&mut breaker, at(0), FAIL), None);
    assert_eq!(call(&mut breaker, at(1), FAIL), None);
    assert_eq!(call(&mut breaker, at(2), Signal::Success), None);
    assert_eq!(breaker.snapshot(at(2)).consecutive_failures, 0);
    assert_eq!(call(&mut breaker, at(3), FAIL), None);
    assert_eq!(call(&mut breaker, at(4), FAIL), None);
    assert_eq!(
        call(&mut breaker, at(5), FAIL),
        Some(Transition::Opened {
            reason: OpenReason::ConsecutiveFailures(3),
            cooldown: ms(1_000)
        })
    );
    let snapshot = breaker.snapshot(at(5));
    assert_eq!(snapshot.state, CircuitState::Open);
    assert_eq!(snapshot.open_for, Some(ms(1_000)));
    assert_eq!(snapshot.times_opened, 1);
}

#[test]
fn inconclusive_calls_neither_count_nor_reset() {
    let mut breaker = Breaker::new(settings());
    call(&mut breaker, at(0), FAIL);
    call(&mut breaker, at(0), FAIL);
    assert_eq!(call(&mut breaker, at(0), Signal::Inconclusive), None);
    assert_eq!(breaker.snapshot(at(0)).consecutive_failures, 2);
    assert_eq!(breaker.snapshot(at(0)).window_calls, 2);
    assert!(matches!(
        call(&mut breaker, at(0), FAIL),
        Some(Transition::Opened { .. })
    ));
}

#[test]
fn while_open_calls_wait_for_the_rest_of_the_cooldown() {
    let mut breaker = opened_at(at(0));
    assert_eq!(denied(&mut breaker, at(0)), ms(1_000));
    assert_eq!(denied(&mut breaker, at(400)), ms(600));
    assert_eq!(denied(&mut breaker, at(999)), ms(1));
    assert_eq!(breaker.snapshot(at(999)).denied, 3);
    assert_eq!(breaker.snapshot(at(999)).open_for, Some(ms(1)));
    assert_eq!(breaker.snapshot(at(1_000)).state, CircuitState::HalfOpen);
}

#[test]
fn after_the_cooldown_one_probe_goes_and_its_success_closes_it() {
    let mut breaker = opened_at(at(0));
    let (admission, transition) = breaker.admit(at(1_000));
    assert_eq!(transition, Some(Transition::HalfOpened));
    let Admission::Allowed(probe) = admission else {
        panic!("the probe is admitted: {admission:?}")
    };
    assert!(probe.is_probe());
    // Only one probe: the others wait for the first cooldown's length.
    assert_eq!(denied(&mut breaker, at(1_001)), ms(1_000));
    assert_eq!(breaker.snapshot(at(1_001)).state, CircuitState::HalfOpen);
    assert_eq!(
        breaker.record(probe, Signal::Success, at(1_200)),
        Some(Transition::Closed)
    );
    let next = allowed(&mut breaker, at(1_201));
    assert!(!next.is_probe());
    let snapshot = breaker.snapshot(at(1_201));
    assert_eq!(snapshot.state, CircuitState::Closed);
    assert_eq!((snapshot.probes, snapshot.times_opened), (1, 1));
}

#[test]
fn a_failed_probe_reopens_it_for_longer_up_to_the_cap() {
    let mut breaker = opened_at(at(0));
    let mut now = 1_000;
    for expected in [2_000, 4_000, 4_000] {
        let probe = allowed(&mut breaker, at(now));
        assert!(probe.is_probe());
        assert_eq!(
            breaker.record(probe, FAIL, at(now)),
            Some(Transition::Opened {
                reason: OpenReason::ProbeFailed,
                cooldown: ms(expected)
            })
        );
        assert_eq!(denied(&mut breaker, at(now + expected - 1)), ms(1));
        now += expected;
    }
    // Once a probe closes it, the next opening starts from the first cooldown again.
    let probe = allowed(&mut breaker, at(now));
    breaker.record(probe, Signal::Success, at(now));
    for _ in 0..3 {
        call(&mut breaker, at(now), FAIL);
    }
    assert_eq!(breaker.snapshot(at(now)).open_for, Some(ms(1_000)));
}

/// The defaults of deploy/rabt.toml: 5 s cooldown doubling up to 60 s.
fn default_settings() -> BreakerSettings {
    BreakerSettings {
        failures: 3,
        min_calls: 1_000,
        ..BreakerSettings::default()
    }
}

fn denied_until(breaker: &mut Breaker, now: Instant, deadline: Instant) -> Duration {
    match breaker.admit_until(now, Some(deadline)).0 {
        Admission::Denied { wait } => wait,
        allowed => panic!("expected a denial, got {allowed:?}"),
    }
}

/// The outage of issue 14: a task with a 30 s deadline waits while an agency is down
/// for 25 s. Doubling alone (5, 10, 20 s) put the third probe at +35 s, past the
/// deadline; bounded by what the task has left, the probes come at +5, +15, +22.5 s...
/// and the one after the agency is back finds it with seconds to spare.
#[test]
fn a_waiting_tasks_deadline_brings_the_probes_forward() {
    let mut breaker = Breaker::new(default_settings());
    let deadline = at(30_000);
    for _ in 0..3 {
        call(&mut breaker, at(0), FAIL);
    }
    let mut probes = Vec::new();
    let mut now = 0;
    loop {
        let wait = denied_until(&mut breaker, at(now), deadline);
        now += wait.as_millis() as u64;
        let probe = allowed(&mut breaker, at(now));
        assert!(probe.is_probe());
        probes.push(now);
        // The task waits while the probe is out, and says its deadline again.
        denied_until(&mut breaker, at(now), deadline);
        let back = now >= 25_000;
        let signal = if back { Signal::Success } else { FAIL };
        breaker.record(probe, signal, at(now));
        if back {
            break;
        }
    }
    assert_eq!(probes[..3], [5_000, 15_000, 22_500], "{probes:?}");
    let found = *probes.last().unwrap();
    assert!((25_000..29_000).contains(&found), "{probes:?}");
    assert_eq!(breaker.snapshot(at(found)).state, CircuitState::Closed);
}

#[test]
fn a_task_with_little_time_left_shortens_an_open_period_already_running() {
    let mut breaker = Breaker::new(default_settings());
    for _ in 0..3 {
        call(&mut breaker, at(0), FAIL);
    }
    assert_eq!(
        denied(&mut breaker, at(0)),
        ms(5_000),
        "no deadline, no bound"
    );
    assert_eq!(denied_until(&mut breaker, at(1_000), at(5_000)), ms(2_000));
    assert_eq!(breaker.snapshot(at(1_000)).open_for, Some(ms(2_000)));
    // A task with more time does not lengthen it again.
    assert_eq!(denied_until(&mut breaker, at(1_000), at(60_000)), ms(2_000));
    // Close to a deadline, probes come about a second apart, never in a tight loop.
    assert_eq!(
        denied_until(&mut breaker, at(2_500), at(3_000)),
        ms(500),
        "the rest of the second it already waits"
    );
    let probe = allowed(&mut breaker, at(3_000));
    breaker.record(probe, FAIL, at(3_000));
    assert_eq!(
        breaker.snapshot(at(3_000)).open_for,
        Some(ms(10_000)),
        "bound reset"
    );
    assert_eq!(denied_until(&mut breaker, at(3_000), at(3_200)), ms(1_000));
}

#[test]
fn the_agencys_retry_after_is_honoured_over_the_deadline_bound() {
    let mut breaker = Breaker::new(default_settings());
    for _ in 0..3 {
        call(&mut breaker, at(0), FAIL);
    }
    let probe = allowed(&mut breaker, at(5_000));
    denied_until(&mut breaker, at(5_000), at(9_000));
    let slow_down = Signal::Failure {
        retry_after: Some(Duration::from_secs(8)),
    };
    assert_eq!(
        breaker.record(probe, slow_down, at(5_000)),
        Some(Transition::Opened {
            reason: OpenReason::ProbeFailed,
            cooldown: ms(8_000)
        })
    );
}

#[test]
fn an_inconclusive_probe_lets_another_probe_go() {
    let mut breaker = opened_at(at(0));
    let probe = allowed(&mut breaker, at(1_000));
    assert_eq!(breaker.record(probe, Signal::Inconclusive, at(1_000)), None);
    let again = allowed(&mut breaker, at(1_000));
    assert!(again.is_probe());
    assert_eq!(breaker.snapshot(at(1_000)).probes, 2);
}

#[test]
fn calls_admitted_before_a_transition_change_nothing_after_it() {
    let mut breaker = Breaker::new(settings());
    let straggler = allowed(&mut breaker, at(0));
    let late_success = allowed(&mut breaker, at(0));
    for _ in 0..3 {
        call(&mut breaker, at(0), FAIL);
    }
    // Open: the earlier calls' results are ignored.
    assert_eq!(breaker.record(straggler, Signal::Success, at(10)), None);
    assert_eq!(breaker.snapshot(at(10)).state, CircuitState::Open);
    let probe = allowed(&mut breaker, at(1_000));
    // Half-open: a straggler's success does not close it, only the probe's does.
    assert_eq!(
        breaker.record(late_success, Signal::Success, at(1_001)),
        None
    );
    assert_eq!(breaker.snapshot(at(1_001)).state, CircuitState::HalfOpen);
    assert!(matches!(
        breaker.record(probe, FAIL, at(1_002)),
        Some(Transition::Opened {
            reason: OpenReason::ProbeFailed,
            ..
        })
    ));
}

#[test]
fn the_error_rate_opens_it_once_the_window_has_enough_calls() {
    let mut breaker = Breaker::new(settings());
    // Fail, succeed, alternately: never three in a row, half of them failures.
    for i in 0..9u64 {
        let signal = if i % 2 == 0 { FAIL } else { Signal::Success };
        assert_eq!(call(&mut breaker, at(i * 100), signal), None, "call {i}");
    }
    // 9 calls, 5 failed: not enough calls yet. The tenth, a success, never opens it.
    assert_eq!(call(&mut breaker, at(900), Signal::Success), None);
    assert_eq!(
        call(&mut breaker, at(1_000), FAIL),
        Some(Transition::Opened {
            reason: OpenReason::ErrorRate {
                failures: 6,
                calls: 11
            },
            cooldown: ms(1_000)
        })
    );
}

#[test]
fn old_calls_slide_out_of_the_window() {
    let mut breaker = Breaker::new(settings());
    // Eight calls, half failed: fewer than the ten the rate needs.
    for i in 0..4u64 {
        call(&mut breaker, at(i), FAIL);
        call(&mut breaker, at(i), Signal::Success);
    }
    assert_eq!(breaker.snapshot(at(10)).window_calls, 8);
    assert_eq!(breaker.snapshot(at(10)).window_failures, 4);
    // Eleven seconds later the window (10 s) holds none of them.
    assert_eq!(breaker.snapshot(at(11_000)).window_calls, 0);
    call(&mut breaker, at(11_000), FAIL);
    call(&mut breaker, at(11_000), Signal::Success);
    assert_eq!(breaker.snapshot(at(11_000)).window_calls, 2);
    assert_eq!(breaker.snapshot(at(11_000)).state, CircuitState::Closed);
}

#[test]
fn retry_after_lengthens_the_cooldown_within_the_cap() {
    let mut breaker = Breaker::new(settings());
    let hint = |s| Signal::Failure {
        retry_after: Some(Duration::from_secs(s)),
    };
    call(&mut breaker, at(0), FAIL);
    call(&mut breaker, at(0), FAIL);
    assert_eq!(
        call(&mut breaker, at(0), hint(3)),
        Some(Transition::Opened {
            reason: OpenReason::ConsecutiveFailures(3),
            cooldown: ms(3_000)
        })
    );
    let probe = allowed(&mut breaker, at(3_000));
    assert_eq!(
        breaker.record(probe, hint(3_600), at(3_000)),
        Some(Transition::Opened {
            reason: OpenReason::ProbeFailed,
            cooldown: ms(4_000)
        })
    );
}

#[test]
fn settings_that_make_no_sense_are_refused_naming_the_key() {
    assert_eq!(BreakerSettings::default().validated().map(|_| ()), Ok(()));
    type Spoil = fn(&mut BreakerSettings);
    let cases: [(&str, Spoil); 8] = [
        ("failures", |s| s.failures = 0),
        ("error_rate", |s| s.error_rate = 0.0),
        ("error_rate", |s| s.error_rate = f64::NAN),
        ("window_ms", |s| s.window = Duration::ZERO),
        ("min_calls", |s| s.min_calls = 0),
        ("cooldown_ms", |s| s.cooldown = Duration::ZERO),
        ("max_cooldown_ms", |s| s.max_cooldown = ms(999)),
        ("max_cooldown_ms", |s| s.max_cooldown = Duration::MAX),
    ];
    for (key, spoil) in cases {
        let mut settings = settings();
        spoil(&mut settings);
        match settings.validated() {
            Err(SettingsError::Invalid { key: named, .. }) => assert_eq!(named, key),
            other => panic!("{key}: {other:?}"),
        }
    }
}

/// Random walks through the breaker's life, checking after every step what must always
/// hold: at most one probe out, an open breaker admits nothing before its cooldown
/// ends, cooldowns stay within their bounds, a probe's success always closes it and
/// its failure always reopens it.
#[test]
fn invariants_hold_over_random_histories() {
    for seed in 0..300 {
        let mut rng = StdRng::seed_from_u64(seed);
        let settings = BreakerSettings {
            failures: rng.random_range(1..6),
            min_calls: rng.random_range(1..20),
            error_rate: rng.random_range(0.05..=1.0),
            ..settings()
        };
        let mut breaker = Breaker::new(settings.clone());
        let mut out: Vec<Permit> = Vec::new();
        let mut now = 0u64;
        for step in 0..400 {
            now += rng.random_range(0..600);
            let context = format!("seed {seed}, step {step}");
            if out.is_empty() || rng.random_bool(0.5) {
                admit_and_check(&mut breaker, at(now), &mut out, &context);
            } else {
                let permit = out.swap_remove(rng.random_range(0..out.len()));
                let signal = match rng.random_range(0..10) {
                    0..5 => FAIL,
                    5..9 => Signal::Success,
                    _ => Signal::Inconclusive,
                };
                record_and_check(&mut breaker, permit, signal, at(now), &settings, &context);
            }
            let current_probes = out
                .iter()
                .filter(|p| p.probe && p.epoch == breaker.epoch)
                .count();
            assert!(
                current_probes <= 1,
                "{context}: {current_probes} probes out"
            );
            if breaker.state == State::Closed {
                assert!(breaker.consecutive < settings.failures, "{context}");
            }
        }
    }
}

fn admit_and_check(breaker: &mut Breaker, now: Instant, out: &mut Vec<Permit>, context: &str) {
    let before = breaker.snapshot(now);
    match breaker.admit(now) {
        (Admission::Allowed(permit), _) => {
            assert_ne!(
                before.state,
                CircuitState::Open,
                "{context}: admitted while open"
            );
            assert_eq!(
                permit.probe,
                before.state == CircuitState::HalfOpen,
                "{context}"
            );
            out.push(permit);
        }
        (Admission::Denied { wait }, _) => {
            assert_ne!(
                before.state,
                CircuitState::Closed,
                "{context}: denied while closed"
            );
            assert!(
                !wait.is_zero() && wait <= ms(4_000),
                "{context}: wait {wait:?}"
            );
            if let Some(open_for) = before.open_for {
                assert_eq!(wait, open_for, "{context}");
            }
        }
    }
}

fn record_and_check(
    breaker: &mut Breaker,
    permit: Permit,
    signal: Signal,
    now: Instant,
    settings: &BreakerSettings,
    context: &str,
) {
    let current_probe = permit.probe && permit.epoch == breaker.epoch;
    let stale = permit.epoch != breaker.epoch;
    let transition = breaker.record(permit, signal, now);
    if let Some(Transition::Opened { reason, cooldown }) = transition {
        assert!(
            (settings.cooldown..=settings.max_cooldown).contains(&cooldown),
            "{context}: cooldown {cooldown:?}"
        );
        if let OpenReason::ConsecutiveFailures(n) = reason {
            assert_eq!(n, settings.failures, "{context}");
        }
        assert_eq!(breaker.snapshot(now).open_for, Some(cooldown), "{context}");
    }
    if current_probe {
        let expected = match signal {
            Signal::Success => Some(CircuitState::Closed),
            Signal::Failure { .. } => Some(CircuitState::Open),
            Signal::Inconclusive => None,
        };
        if let Some(state) = expected {
            assert_eq!(breaker.snapshot(now).state, state, "{context}");
        }
    } else if stale {
        assert_eq!(
            transition, None,
            "{context}: a stale permit changed the state"
        );
    }
}

/// Settings nobody checked still give a breaker that works (and never overflows the
/// clock): a cooldown of "forever" is a day.
#[test]
fn unchecked_settings_are_brought_within_bounds() {
    let mut breaker = Breaker::new(BreakerSettings {
        failures: 0,
        error_rate: f64::NAN,
        window: Duration::ZERO,
        min_calls: 0,
        cooldown: Duration::MAX,
        max_cooldown: Duration::MAX,
    });
    assert!(matches!(
        call(&mut breaker, at(0), FAIL),
        Some(Transition::Opened {
            reason: OpenReason::ConsecutiveFailures(1),
            ..
        })
    ));
    let probe = allowed(&mut breaker, at(24 * 3_600_000));
    assert!(probe.is_probe());
    assert!(matches!(
        breaker.record(probe, FAIL, at(24 * 3_600_000)),
        Some(Transition::Opened { cooldown, .. }) if cooldown == Duration::from_secs(86_400)
    ));
}

//! `GET /ops/v1/overview`: the deployment at a glance, one tile per agency, as the
//! console's overview shows it. It reflects every process, not the one answering:
//! task figures come from the shared database, breakers and calls in flight from the
//! heartbeats every process writes, queue depths from the broker. Each source is read
//! on its own: one that fails marks its own part (`error`), never the whole answer.
//!
//! The answer is computed at most once per [`FRESH_FOR`] per process and shared by
//! every caller (the console's live view asks every few seconds per open page).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use rabt_core::{Agency, Outcome};
use rabt_store::{Ended, OperatorRole};
use serde_json::{Value, json};

use super::auth::OperatorCaller;
use crate::problem::ApiError;
use crate::state::AppState;

/// How long a computed overview is served before it is computed again.
pub(crate) const FRESH_FOR: Duration = Duration::from_secs(2);
/// How long the broker may take to give its queue depths.
const BROKER_TIMEOUT: Duration = Duration::from_secs(2);
/// A process whose heartbeat is older than this is counted as gone.
const HEARTBEAT_STALE: chrono::Duration = chrono::Duration::seconds(20);
/// The sparkline: tasks ended per 5-minute bucket over the last hour.
const BUCKETS: usize = 12;

fn time(t: DateTime<Utc>) -> Value {
    json!(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// `GET /ops/v1/overview` (viewer).
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: OperatorCaller,
) -> Result<Response, ApiError> {
    caller.require(OperatorRole::Viewer)?;
    Ok(Json(overview(&state).await).into_response())
}

/// The overview, from the process's cache when it is fresh.
pub(crate) async fn overview(state: &AppState) -> Value {
    let mut cache = state.overview_cache().lock().await;
    if let Some((at, value)) = cache.as_ref()
        && at.elapsed() < FRESH_FOR
    {
        return value.clone();
    }
    let value = compute(state).await;
    *cache = Some((Instant::now(), value.clone()));
    value
}

/// The overview: every agency's tile, the services' traffic, the outbox and the
/// processes. A source that does not answer is `{"error": …}` in its place; the rest
/// is still shown.
async fn compute(state: &AppState) -> Value {
    let now = Utc::now();
    let store = state.store();
    let hour_ago = now - chrono::Duration::hours(1);
    let shared = Shared {
        heartbeats: store.heartbeats(now - HEARTBEAT_STALE).await,
        pauses: store.agency_pauses().await,
        dead: store.open_dead_letters().await,
    };
    let mut agencies = Vec::new();
    for agency in Agency::ALL {
        agencies.push(agency_tile(state, agency, &shared, now).await);
    }
    let services = match store.requests_per_service(hour_ago).await {
        Ok(rows) => json!(
            rows.iter()
                .map(|(service, n)| json!({ "service": service.as_str(), "requests": n }))
                .collect::<Vec<_>>()
        ),
        Err(_) => DATABASE_DOWN.clone(),
    };
    let outbox = match store.outbox_backlog().await {
        Ok((rows, oldest)) => json!({ "rows": rows, "oldest": oldest.map(time) }),
        Err(_) => DATABASE_DOWN.clone(),
    };
    let database = store.ping().await.is_ok();
    let processes = match &shared.heartbeats {
        Ok(beats) => json!(beats
            .iter()
            .map(|b| json!({ "id": b.id, "role": b.role, "host": b.host, "seenAt": time(b.seen_at), "startedAt": time(b.started_at) }))
            .collect::<Vec<_>>()),
        Err(_) => DATABASE_DOWN.clone(),
    };
    json!({
        "generatedAt": time(now),
        "readiness": {
            "database": if database { "ok" } else { "down" },
            "broker": if state.transport().is_ready() { "ok" } else { "down" },
        },
        "agencies": agencies,
        "services": services,
        "outbox": outbox,
        "processes": processes,
    })
}

/// What every agency's tile reads from one query each.
struct Shared {
    heartbeats: Result<Vec<rabt_store::Heartbeat>, rabt_store::StoreError>,
    pauses: Result<Vec<rabt_store::AgencyPause>, rabt_store::StoreError>,
    dead: Result<Vec<(Agency, u32)>, rabt_store::StoreError>,
}

/// What stands for a figure the database did not give.
static DATABASE_DOWN: std::sync::LazyLock<Value> =
    std::sync::LazyLock::new(|| json!({ "error": "database" }));

/// One agency's tile: its tasks of the last hour, its queues, its pause, its open dead
/// letters and the workers serving it.
async fn agency_tile(
    state: &AppState,
    agency: Agency,
    shared: &Shared,
    now: DateTime<Utc>,
) -> Value {
    let store = state.store();
    let ended = store
        .ended_tasks(agency, now - chrono::Duration::hours(1))
        .await;
    let last_ok = store.last_ended(agency, true).await;
    let last_failure = store.last_ended(agency, false).await;
    let queue = tokio::time::timeout(BROKER_TIMEOUT, state.transport().depth(agency)).await;
    let mut tile = json!({ "agency": agency.as_str() });
    match (&ended, &last_ok, &last_failure) {
        (Ok(ended), Ok(last_ok), Ok(last_failure)) => {
            tile["tasks"] = tasks(ended, now);
            tile["lastSuccess"] = last_ok.as_ref().map_or(Value::Null, |e| time(e.at));
            tile["lastFailure"] = last_failure.as_ref().map_or(
                Value::Null,
                |e| json!({ "at": time(e.at), "outcome": e.outcome.as_str(), "error": e.error }),
            );
        }
        _ => tile["tasks"] = DATABASE_DOWN.clone(),
    }
    tile["queue"] = match queue {
        Ok(Ok(depth)) => json!({
            "ready": depth.ready,
            "dead": depth.dead,
            "consumers": depth.consumers,
            "retry": depth.retry.iter().map(|(tier, n)| json!({
                "tierMs": tier.as_millis() as u64, "messages": n,
            })).collect::<Vec<_>>(),
        }),
        Ok(Err(_)) | Err(_) => json!({ "error": "broker" }),
    };
    tile["paused"] = match &shared.pauses {
        Ok(pauses) => pauses
            .iter()
            .find(|p| p.agency == agency)
            .map_or(Value::Null, super::agencies::pause_view),
        Err(_) => DATABASE_DOWN.clone(),
    };
    tile["openDeadLetters"] = match &shared.dead {
        Ok(dead) => json!(
            dead.iter()
                .find(|(a, _)| *a == agency)
                .map_or(0, |(_, n)| *n)
        ),
        Err(_) => DATABASE_DOWN.clone(),
    };
    tile["workers"] = match &shared.heartbeats {
        Ok(beats) => workers(beats, agency),
        Err(_) => DATABASE_DOWN.clone(),
    };
    tile
}

/// The figures of one agency's ended tasks: the last 5 and 60 minutes, latency
/// percentiles over the hour, and the sparkline.
fn tasks(ended: &[Ended], now: DateTime<Utc>) -> Value {
    let window = |minutes: i64| {
        let since = now - chrono::Duration::minutes(minutes);
        let inside: Vec<&Ended> = ended.iter().filter(|e| e.at >= since).collect();
        let answered = inside
            .iter()
            .filter(|e| !matches!(e.outcome, Outcome::UpstreamError | Outcome::Timeout))
            .count();
        let rate = if inside.is_empty() {
            Value::Null
        } else {
            json!(answered as f64 / inside.len() as f64)
        };
        json!({ "ended": inside.len(), "answered": answered, "successRate": rate })
    };
    let mut latencies: Vec<i64> = ended.iter().filter_map(|e| e.latency_ms).collect();
    latencies.sort_unstable();
    let percentile = |p: f64| -> Value {
        if latencies.is_empty() {
            return Value::Null;
        }
        let index = ((latencies.len() - 1) as f64 * p).round() as usize;
        json!(latencies[index.min(latencies.len() - 1)])
    };
    let mut buckets = [0u32; BUCKETS];
    for e in ended {
        let age = (now - e.at).num_seconds().max(0) as usize / 300;
        if age < BUCKETS {
            buckets[BUCKETS - 1 - age] += 1;
        }
    }
    json!({
        "last5m": window(5),
        "last60m": window(60),
        "latencyMs": { "p50": percentile(0.5), "p95": percentile(0.95) },
        "sparkline": buckets,
        "truncated": ended.len() >= 5000,
    })
}

/// What the live workers say of `agency`: each one's circuit, and the calls in flight
/// across them.
fn workers(beats: &[rabt_store::Heartbeat], agency: Agency) -> Value {
    let mut circuits: BTreeMap<String, u32> = BTreeMap::new();
    let mut in_flight = 0u64;
    let mut deferred = 0u64;
    let mut holding_paused = 0u32;
    let mut serving = 0u32;
    for beat in beats {
        let figures = &beat.figures["agencies"][agency.as_str()];
        if figures.is_null() {
            continue;
        }
        serving += 1;
        in_flight += figures["inFlight"].as_u64().unwrap_or(0);
        deferred += figures["deferred"].as_u64().unwrap_or(0);
        holding_paused += u32::from(figures["paused"].as_bool() == Some(true));
        let circuit = figures["circuit"].as_str().unwrap_or("unknown").to_owned();
        *circuits.entry(circuit).or_default() += 1;
    }
    // The worst state any worker reports is the agency's.
    let circuit = ["open", "half_open", "closed"]
        .into_iter()
        .find(|state| circuits.contains_key(*state))
        .unwrap_or(if serving == 0 { "no_worker" } else { "unknown" });
    json!({
        "serving": serving,
        "circuit": circuit,
        "circuits": circuits,
        "inFlight": in_flight,
        // Tasks sent back unattempted (open circuit, pause) since each worker started.
        "deferred": deferred,
        // Workers that hold the agency paused (each reads the pauses every second).
        "holdingPaused": holding_paused,
    })
}

//! How cooperatives look to an operator: in a list with their last 24 hours, and one
//! at a time with their keys (ids, labels, dates; never a key or its digest, never the
//! webhook secret).

use chrono::{DateTime, SecondsFormat, Utc};
use rabt_store::{Activity, ApiKeyInfo, Cooperative};
use serde_json::{Value, json};

use super::cooperatives::activity_since;
use super::retrying;
use crate::problem::ApiError;
use crate::state::AppState;

fn time(t: DateTime<Utc>) -> Value {
    json!(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// The path of a cooperative.
pub(crate) fn path(cooperative: &Cooperative) -> String {
    format!("/ops/v1/cooperatives/{}", cooperative.id)
}

/// A cooperative's requests in the window, with the share that did not get every
/// answer (`PARTIAL`: a check timed out or its agency kept failing).
pub(crate) fn activity(activity: &Activity) -> Value {
    let error_rate = if activity.completed == 0 {
        Value::Null
    } else {
        json!(f64::from(activity.partial) / f64::from(activity.completed))
    };
    json!({
        "window": "24h",
        "requests": activity.requests,
        "completed": activity.completed,
        "failed": activity.failed,
        "partial": activity.partial,
        "errorRate": error_rate,
    })
}

/// A cooperative as listed.
pub(crate) fn summary(cooperative: &Cooperative, recent: &Activity) -> Value {
    json!({
        "id": cooperative.id.to_string(),
        "name": cooperative.name,
        "unifiedNumber": cooperative.unified_number.as_str(),
        "active": cooperative.active,
        "services": cooperative.services.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "createdAt": time(cooperative.created_at),
        "activity": activity(recent),
        "links": { "self": path(cooperative) },
    })
}

/// One key as shown.
pub(crate) fn key(key: &ApiKeyInfo, now: DateTime<Utc>) -> Value {
    let state = match (key.revoked_at, key.expires_at) {
        (Some(_), _) => "revoked",
        (None, Some(end)) if end <= now => "expired",
        (None, Some(_)) => "expiring",
        (None, None) => "active",
    };
    json!({
        "id": key.id,
        "label": key.label,
        "state": state,
        "createdAt": time(key.created_at),
        "expiresAt": key.expires_at.map(time),
        "revokedAt": key.revoked_at.map(time),
    })
}

/// Every cooperative with its activity, in onboarding order.
pub(crate) async fn list(state: &AppState) -> Result<Vec<Value>, ApiError> {
    let cooperatives =
        retrying("listing cooperatives", || state.store().list_cooperatives()).await?;
    let since = activity_since();
    let activity = retrying("reading cooperatives' activity", || {
        state.store().cooperative_activity(since)
    })
    .await?;
    Ok(cooperatives
        .iter()
        .map(|c| {
            // The store lists only the cooperatives with requests in the window: one it
            // leaves out had none, which is what the default (all counts zero) says.
            let recent = activity
                .iter()
                .find(|(id, _)| *id == c.id)
                .map(|(_, a)| a.clone())
                .unwrap_or_default();
            summary(c, &recent)
        })
        .collect())
}

/// One cooperative with its keys and activity.
pub(crate) async fn full(state: &AppState, cooperative: &Cooperative) -> Result<Value, ApiError> {
    let keys = retrying("reading a cooperative's keys", || {
        state.store().api_keys(cooperative.id)
    })
    .await?;
    let since = activity_since();
    let activity = retrying("reading a cooperative's activity", || {
        state.store().cooperative_activity(since)
    })
    .await?;
    // Absent from the activity: no request in the window, all counts zero.
    let recent = activity
        .into_iter()
        .find(|(id, _)| *id == cooperative.id)
        .map(|(_, a)| a)
        .unwrap_or_default();
    let now = Utc::now();
    let mut view = summary(cooperative, &recent);
    view["keys"] = json!(keys.iter().map(|k| key(k, now)).collect::<Vec<_>>());
    Ok(view)
}

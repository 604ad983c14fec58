//! `/healthz` (the process is alive) and `/readyz` (it can do its work: the database
//! answers, the broker connection is up, and none of its long-running tasks is down).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use rabt_metrics::TaskHealth;

use crate::problem::ApiError;
use crate::state::AppState;

/// `GET /healthz`.
pub(crate) async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 when the database answers within two seconds, the broker is
/// connected and every long-running task of the process runs; otherwise 503 saying
/// what is down (a task that died is named while it waits to be started again).
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let database = matches!(
        tokio::time::timeout(Duration::from_secs(2), state.store().ping()).await,
        Ok(Ok(()))
    );
    let broker = state.transport().is_ready();
    let down: Vec<String> = state
        .settings()
        .supervision
        .down()
        .into_iter()
        .map(|(task, health)| match health {
            TaskHealth::Restarting { restarts, why, .. } => {
                format!("{task} {why}, restarting (restart {restarts})")
            }
            TaskHealth::GaveUp => format!("{task} gave up"),
            TaskHealth::Running { .. } => format!("{task} running"),
        })
        .collect();
    let word = |ok: bool| if ok { "ok" } else { "down" };
    let tasks = if down.is_empty() { "ok" } else { "down" };
    if database && broker && down.is_empty() {
        return (
            StatusCode::OK,
            Json(json!({ "status": "ready", "checks": { "database": "ok", "broker": "ok", "tasks": "ok" } })),
        )
            .into_response();
    }
    let mut detail = format!(
        "database: {}, broker: {}, tasks: {tasks}",
        word(database),
        word(broker)
    );
    if !down.is_empty() {
        detail.push_str(&format!(" ({})", down.join("; ")));
    }
    ApiError::unavailable(5)
        .detail(detail.clone(), detail)
        .into_response()
}

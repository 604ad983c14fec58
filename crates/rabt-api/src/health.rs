//! `/healthz` (the process is alive) and `/readyz` (it can do its work: the database
//! answers and the broker connection is up).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::problem::ApiError;
use crate::state::AppState;

/// `GET /healthz`.
pub(crate) async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 when the database answers within two seconds and the broker is
/// connected; otherwise 503 saying which is down.
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let database = matches!(
        tokio::time::timeout(Duration::from_secs(2), state.store().ping()).await,
        Ok(Ok(()))
    );
    let broker = state.transport().is_ready();
    let word = |ok: bool| if ok { "ok" } else { "down" };
    if database && broker {
        return (
            StatusCode::OK,
            Json(json!({ "status": "ready", "checks": { "database": "ok", "broker": "ok" } })),
        )
            .into_response();
    }
    let detail = format!("database: {}, broker: {}", word(database), word(broker));
    ApiError::unavailable(5)
        .detail(detail.clone(), detail)
        .into_response()
}

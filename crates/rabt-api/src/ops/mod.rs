//! The operator API under `/ops/v1`, for the ministry's operators and their tools:
//! dead letters to list, read, replay and purge.
//!
//! Callers authenticate with an operator token (`Authorization: Bearer rabt_op_…`,
//! created by `rabt operator add`, stored hashed); each action needs a role: viewer <
//! operator < admin. Errors are problem documents like the rest of the API. Every
//! change is audited with the operator's name as actor.
//!
//! Layout:
//! - `auth`: the operator extractor and role checks.
//! - `dead_letters`: the handlers; `query`: the list's parameters; `view`: the JSON.
//! - `limits`: a cooperative's rate limit and quota (`/ops/v1/cooperatives/{id}/limit`).
//! - [`openapi`]: this API's part of the OpenAPI document.

use std::future::Future;

use axum::Router;
use axum::routing::{get, post};
use rabt_store::StoreError;

use crate::problem::ApiError;
use crate::state::AppState;

mod auth;
mod dead_letters;
mod limits;
pub mod openapi;
mod query;
mod view;

/// How often an operator action that collided with a concurrent transaction is tried
/// again before the caller is asked to retry.
const CONFLICT_RETRIES: u32 = 3;

/// The routes of the operator API.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/ops/v1/cooperatives/{id}/limit",
            get(limits::get).put(limits::put),
        )
        .route("/ops/v1/dead-letters", get(dead_letters::list))
        .route(
            "/ops/v1/dead-letters/replay",
            post(dead_letters::replay_many),
        )
        .route(
            "/ops/v1/dead-letters/{id}",
            get(dead_letters::get).delete(dead_letters::purge),
        )
        .route(
            "/ops/v1/dead-letters/{id}/replay",
            post(dead_letters::replay),
        )
}

/// Runs a store operation, trying again when it lost a race with a concurrent
/// transaction (safe: every operator action is conditional); an outage is a 503 with
/// `Retry-After`, anything else a logged 500.
async fn retrying<T, F, Fut>(context: &str, mut op: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut tries = 0;
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(err) if err.is_conflict() && tries < CONFLICT_RETRIES => tries += 1,
            Err(err) if err.is_conflict() => {
                tracing::warn!(error = %err, "{context}: database busy");
                return Err(ApiError::new(crate::problem::ProblemKind::Busy).retry_after(1));
            }
            Err(err) if err.is_unavailable() => {
                tracing::warn!(error = %err, "{context}: database unavailable");
                return Err(ApiError::unavailable(2));
            }
            Err(err) => return Err(ApiError::internal(context, &err)),
        }
    }
}

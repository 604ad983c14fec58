//! The operator API under `/ops/v1`, for the ministry's operators and their tools:
//! dead letters to list, read, replay and purge; cooperatives to onboard, with their
//! keys, services and activation; the audit log listed, and searched for a person.
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
//! - `cooperatives`: the lifecycle's handlers; `coop_view`: their JSON.
//! - `agencies`: settings as running, maintenance pause and resume.
//! - `overview`: the deployment at a glance; `requests`: every cooperative's requests,
//!   masked (`mask`) unless an admin reveals them; `audit`: the audit log.
//! - `audit_search`: searching the audit log by a person's identity number or mobile.
//! - [`openapi`]: this API's part of the OpenAPI document.

use std::future::Future;

use axum::Router;
use axum::routing::{get, post, put};
use rabt_core::Agency;
use rabt_store::StoreError;

use crate::problem::ApiError;
use crate::state::AppState;

pub(crate) mod agencies;
pub(crate) mod audit;
mod audit_search;
pub(crate) mod auth;
mod body;
pub(crate) mod coop_view;
pub(crate) mod cooperatives;
pub(crate) mod dead_letters;
pub(crate) mod limits;
pub(crate) mod mask;
pub mod openapi;
pub(crate) mod overview;
pub(crate) mod query;
pub(crate) mod requests;
pub(crate) mod view;

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
        .route(
            "/ops/v1/cooperatives",
            get(cooperatives::list).post(cooperatives::onboard),
        )
        .route("/ops/v1/cooperatives/{id}", get(cooperatives::get))
        .route("/ops/v1/cooperatives/{id}/keys", post(cooperatives::rotate))
        .route(
            "/ops/v1/cooperatives/{id}/keys/{key}/revoke",
            post(cooperatives::revoke),
        )
        .route(
            "/ops/v1/cooperatives/{id}/services",
            put(cooperatives::set_services),
        )
        .route(
            "/ops/v1/cooperatives/{id}/deactivate",
            post(cooperatives::deactivate),
        )
        .route(
            "/ops/v1/cooperatives/{id}/activate",
            post(cooperatives::activate),
        )
        .route("/ops/v1/agencies", get(agencies::list))
        .route("/ops/v1/overview", get(overview::get))
        .route("/ops/v1/requests", get(requests::list))
        .route("/ops/v1/requests/{id}", get(requests::get))
        .route("/ops/v1/requests/{id}/reveal", post(requests::reveal))
        .route("/ops/v1/audit", get(audit::list))
        .route("/ops/v1/audit/search", post(audit_search::search))
        .route("/ops/v1/agencies/{agency}/pause", post(agencies::pause))
        .route("/ops/v1/agencies/{agency}/resume", post(agencies::resume))
}

/// Runs a store operation, trying again when it lost a race with a concurrent
/// transaction (safe: every operator action is conditional); an outage is a 503 with
/// `Retry-After`, anything else a logged 500.
pub(crate) async fn retrying<T, F, Fut>(context: &str, mut op: F) -> Result<T, ApiError>
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

/// What an agency parameter must be, in English and Arabic ("interior, health, … or
/// saudi-post"), from [`Agency::ALL`] so that a new agency is listed without an edit.
pub(crate) fn agency_expected() -> (String, String) {
    let names = Agency::wire_names();
    // `Agency::ALL` is a non-empty array: there is a last name.
    let (others, last) = names.split_at(names.len() - 1);
    let last = last.join("");
    (
        format!("must be {} or {last}", others.join(", ")),
        format!("يجب أن تكون {} أو {last}", others.join(" أو ")),
    )
}

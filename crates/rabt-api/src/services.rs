//! `GET /v1/services` and `GET /v1/services/{name}`: what this caller may use, with
//! the schemas of each service (X-Road's listMethods / getOpenAPI idea), so a
//! cooperative's developer discovers the contract from the API itself.

use axum::Json;
use axum::extract::{Path, State};
use rabt_catalogue::{Mode, Service, ServiceKind};
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::problem::{ApiError, ProblemKind};
use crate::state::AppState;

fn summary(state: &AppState, service: &Service) -> Value {
    let (agency, mode) = match &service.kind {
        ServiceKind::Agency { agency, mode } => (
            Value::String(agency.as_str().to_owned()),
            match mode {
                Mode::Sync => "sync",
                Mode::Callback => "callback",
            },
        ),
        ServiceKind::Composite(_) => (Value::Null, "composite"),
    };
    json!({
        "name": service.name.as_str(),
        "title": { "en": service.title.en, "ar": service.title.ar },
        "description": { "en": service.description.en, "ar": service.description.ar },
        "agency": agency,
        "mode": mode,
        "deadlineMs": service.deadline.as_millis() as u64,
        "available": crate::fanout::callable(state.catalogue(), service, |name| state.is_callable(name)),
        "links": { "self": format!("/v1/services/{}", service.name) },
    })
}

/// `GET /v1/services`: the services this cooperative has access to.
pub(crate) async fn list(
    State(state): State<AppState>,
    Caller(cooperative): Caller,
) -> Json<Value> {
    let items: Vec<Value> = state
        .catalogue()
        .services()
        .filter(|s| cooperative.services.contains(&s.name))
        .map(|s| summary(&state, s))
        .collect();
    Json(json!({ "items": items }))
}

/// `GET /v1/services/{name}`: one service with its input and output schemas and retry
/// policy (each schema bundled into one self-contained document). A service the cooperative has no access to is a 404, like an unknown one.
pub(crate) async fn get(
    State(state): State<AppState>,
    Caller(cooperative): Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let service = state
        .catalogue()
        .service(&name)
        .filter(|s| cooperative.services.contains(&s.name))
        .ok_or_else(|| ApiError::new(ProblemKind::NotFound))?;
    let mut body = summary(&state, service);
    body["retry"] = serde_json::to_value(service.retry).unwrap_or(Value::Null);
    body["inputSchema"] = service.input().bundled().clone();
    body["outputSchema"] = service.output().bundled().clone();
    Ok(Json(body))
}

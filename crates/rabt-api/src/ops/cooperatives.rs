//! `/ops/v1/cooperatives`: the cooperative lifecycle. Viewers list and read;
//! operators onboard, rotate keys, change services and reactivate; admins revoke keys
//! and deactivate. A new key (and an onboarded cooperative's webhook secret) is in the
//! answer once, with `Cache-Control: no-store`, and stored only as a digest (the
//! secret as it is: it signs). The store audits each change with the operator's name.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use rabt_core::{CooperativeId, ServiceName, UnifiedNumber};
use rabt_store::{Actor, Cooperative, NewCooperative, OperatorRole, Revoked, StoreError};
use serde_json::{Map, Value, json};

use super::auth::OperatorCaller;
use super::body::OperatorBody;
use super::{coop_view, retrying};
use crate::auth::{API_KEY_PREFIX, generate_secret, hash_secret};
use crate::problem::{ApiError, FieldError, ProblemKind};
use crate::state::AppState;

/// The window of a cooperative's activity in lists and on its page.
pub(crate) const ACTIVITY_WINDOW: chrono::Duration = chrono::Duration::hours(24);
/// The longest overlap a rotation may give the old keys.
pub(crate) const MAX_OVERLAP: Duration = Duration::from_secs(30 * 24 * 3600);
/// The longest name and reason accepted.
const MAX_TEXT: usize = 200;

/// `GET /ops/v1/cooperatives`: every cooperative with its last 24 hours.
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: OperatorCaller,
) -> Result<Response, ApiError> {
    caller.require(OperatorRole::Viewer)?;
    let items = coop_view::list(&state).await?;
    Ok(Json(json!({ "items": items })).into_response())
}

/// `GET /ops/v1/cooperatives/{id}`: one, with its keys (never a key or a digest).
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: OperatorCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(OperatorRole::Viewer)?;
    let cooperative = find(&state, &id).await?;
    Ok(Json(coop_view::full(&state, &cooperative).await?).into_response())
}

/// `POST /ops/v1/cooperatives` with `{name, unifiedNumber, services}`: onboards a
/// cooperative; `201` with its API key and webhook secret, shown this once.
pub(crate) async fn onboard(
    State(state): State<AppState>,
    caller: OperatorCaller,
    body: OperatorBody,
) -> Result<Response, ApiError> {
    let operator = caller.require(OperatorRole::Operator)?;
    let body = body.json()?;
    let new = parse_onboarding(&state, &body).map_err(invalid)?;
    let key = generate_secret(API_KEY_PREFIX);
    let secret = rabt_webhook::Secret::generate().expose();
    let actor = Actor::Operator(operator.name.clone());
    let created = state
        .store()
        .onboard_cooperative(&new, &hash_secret(&key), &secret, &actor)
        .await
        .map_err(|err| match err {
            StoreError::Duplicate { .. } => ApiError::new(ProblemKind::CooperativeExists).detail(
                format!(
                    "the unified number {} is onboarded already",
                    new.unified_number.as_str()
                ),
                format!("الرقم الموحد {} مسجّل من قبل", new.unified_number.as_str()),
            ),
            err => crate::state::store_error("onboarding a cooperative", err),
        })?;
    tracing::info!(operator = %operator.name, cooperative = %created.id, "cooperative onboarded");
    let mut view = coop_view::full(&state, &created).await?;
    view["apiKey"] = json!(key);
    view["webhookSecret"] = json!(secret);
    Ok(secret_answer(StatusCode::CREATED, view))
}

/// `POST /ops/v1/cooperatives/{id}/keys` with `{"overlapSeconds": N}` (optional): a
/// new key, shown once; the cooperative's other valid keys keep working for the
/// overlap (`api.key_rotation_overlap_seconds` by default), then stop.
pub(crate) async fn rotate(
    State(state): State<AppState>,
    caller: OperatorCaller,
    Path(id): Path<String>,
    body: OperatorBody,
) -> Result<Response, ApiError> {
    let operator = caller.require(OperatorRole::Operator)?;
    let cooperative = find(&state, &id).await?;
    let body = body.json_or_empty()?;
    let overlap = overlap(&body, state.settings().key_overlap).map_err(invalid)?;
    let key = generate_secret(API_KEY_PREFIX);
    let actor = Actor::Operator(operator.name.clone());
    let hash = hash_secret(&key);
    let rotated = retrying("rotating a key", || {
        state
            .store()
            .rotate_api_key(cooperative.id, &hash, overlap, &actor)
    })
    .await?
    .ok_or_else(|| not_found(&id))?;
    tracing::info!(operator = %operator.name, cooperative = %cooperative.id, key = %rotated.key, "API key rotated");
    let view = json!({
        "cooperative": cooperative.id.to_string(),
        "key": rotated.key,
        "apiKey": key,
        "expiring": rotated.expiring,
        "until": rotated.until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    Ok(secret_answer(StatusCode::CREATED, view))
}

/// `POST /ops/v1/cooperatives/{id}/keys/{key}/revoke` with `{"reason": "…"}` (admin):
/// the key stops working at once, on every api process.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    caller: OperatorCaller,
    Path((id, key)): Path<(String, String)>,
    body: OperatorBody,
) -> Result<Response, ApiError> {
    let operator = caller.require(OperatorRole::Admin)?;
    let cooperative = find(&state, &id).await?;
    let body = body.json()?;
    let reason = reason(&body, true).map_err(invalid)?;
    let actor = Actor::Operator(operator.name.clone());
    let outcome = retrying("revoking a key", || {
        state
            .store()
            .revoke_api_key_id(cooperative.id, &key, &reason, &actor)
    })
    .await?;
    match outcome {
        Revoked::Now => {
            tracing::info!(operator = %operator.name, cooperative = %cooperative.id, %key, "API key revoked");
            Ok(Json(coop_view::full(&state, &cooperative).await?).into_response())
        }
        Revoked::Already(at) => {
            let at = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            Err(ApiError::new(ProblemKind::KeyRevoked)
                .detail(format!("it was revoked at {at}"), format!("أُلغي في {at}")))
        }
        Revoked::NoSuchKey => Err(ApiError::new(ProblemKind::NotFound).detail(
            "this cooperative has no key with this id",
            "لا يوجد لهذه الجمعية مفتاح بهذا المعرّف",
        )),
    }
}

/// `PUT /ops/v1/cooperatives/{id}/services` with `{"services": […]}`.
pub(crate) async fn set_services(
    State(state): State<AppState>,
    caller: OperatorCaller,
    Path(id): Path<String>,
    body: OperatorBody,
) -> Result<Response, ApiError> {
    let operator = caller.require(OperatorRole::Operator)?;
    let cooperative = find(&state, &id).await?;
    let body = body.json()?;
    let map = object(&body, &["services"]).map_err(invalid)?;
    let services = services(&state, map.get("services"), "/services").map_err(invalid)?;
    let actor = Actor::Operator(operator.name.clone());
    retrying("changing a cooperative's services", || {
        state
            .store()
            .set_cooperative_services(cooperative.id, &services, &actor)
    })
    .await?;
    let cooperative = find(&state, &id).await?;
    Ok(Json(coop_view::full(&state, &cooperative).await?).into_response())
}

/// `POST /ops/v1/cooperatives/{id}/deactivate` (admin, reason required) or
/// `/activate` (operator): its keys answer 403 while it is deactivated.
pub(crate) async fn set_active(
    state: AppState,
    caller: OperatorCaller,
    id: String,
    active: bool,
    body: OperatorBody,
) -> Result<Response, ApiError> {
    let needed = if active {
        OperatorRole::Operator
    } else {
        OperatorRole::Admin
    };
    let operator = caller.require(needed)?;
    let cooperative = find(&state, &id).await?;
    let body = body.json_or_empty()?;
    let reason = reason(&body, !active).map_err(invalid)?;
    let actor = Actor::Operator(operator.name.clone());
    retrying("changing a cooperative's state", || {
        state
            .store()
            .set_cooperative_active(cooperative.id, active, &reason, &actor)
    })
    .await?;
    tracing::info!(operator = %operator.name, cooperative = %cooperative.id, active, "cooperative state set");
    let cooperative = find(&state, &id).await?;
    Ok(Json(coop_view::full(&state, &cooperative).await?).into_response())
}

/// `POST /ops/v1/cooperatives/{id}/deactivate`.
pub(crate) async fn deactivate(
    State(state): State<AppState>,
    caller: OperatorCaller,
    Path(id): Path<String>,
    body: OperatorBody,
) -> Result<Response, ApiError> {
    set_active(state, caller, id, false, body).await
}

/// `POST /ops/v1/cooperatives/{id}/activate`.
pub(crate) async fn activate(
    State(state): State<AppState>,
    caller: OperatorCaller,
    Path(id): Path<String>,
    body: OperatorBody,
) -> Result<Response, ApiError> {
    set_active(state, caller, id, true, body).await
}

/// The cooperative with this id; text that is no cooperative id is a 404 too.
pub(crate) async fn find(state: &AppState, id: &str) -> Result<Cooperative, ApiError> {
    let parsed = CooperativeId::parse(id).map_err(|_| not_found(id))?;
    retrying("reading a cooperative", || {
        state.store().cooperative(parsed)
    })
    .await?
    .ok_or_else(|| not_found(id))
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(ProblemKind::NotFound).detail(
        format!(
            "no cooperative `{}`",
            id.chars().take(64).collect::<String>()
        ),
        "لا توجد جمعية بهذا المعرّف",
    )
}

fn invalid(errors: Vec<FieldError>) -> ApiError {
    ApiError::new(ProblemKind::ValidationFailed).errors(errors)
}

/// An answer holding a secret: never stored by a cache on the way.
fn secret_answer(status: StatusCode, body: Value) -> Response {
    (status, [(CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// The body as an object holding only `allowed` fields.
pub(crate) fn object<'a>(
    body: &'a Value,
    allowed: &[&str],
) -> Result<&'a Map<String, Value>, Vec<FieldError>> {
    let Some(map) = body.as_object() else {
        return Err(vec![FieldError::at(
            "",
            "the body must be a JSON object",
            "يجب أن يكون المحتوى كائن JSON",
        )]);
    };
    let unknown: Vec<FieldError> = map
        .keys()
        .filter(|key| !allowed.contains(&key.as_str()))
        .map(|key| {
            FieldError::at(
                format!("/{}", crate::envelope::escape(key)),
                format!("unknown field `{key}` (allowed: {})", allowed.join(", ")),
                format!("الحقل `{key}` غير معروف (المسموح: {})", allowed.join("، ")),
            )
        })
        .collect();
    if unknown.is_empty() {
        Ok(map)
    } else {
        Err(unknown)
    }
}

/// `reason`: text of at most 200 characters; required when `required`.
pub(crate) fn reason(body: &Value, required: bool) -> Result<String, Vec<FieldError>> {
    let map = object(body, &["reason"])?;
    match map.get("reason") {
        None if !required => Ok(String::new()),
        Some(Value::String(text))
            if !text.trim().is_empty() && text.chars().count() <= MAX_TEXT =>
        {
            Ok(text.trim().to_owned())
        }
        _ => Err(vec![FieldError::at(
            "/reason",
            "give a reason (1 to 200 characters): it goes to the audit log",
            "اذكر السبب (من 1 إلى 200 حرف): يُسجَّل في سجل التدقيق",
        )]),
    }
}

/// `overlapSeconds`: 0 to 30 days; `default` when left out.
fn overlap(body: &Value, default: Duration) -> Result<Duration, Vec<FieldError>> {
    let map = object(body, &["overlapSeconds"])?;
    match map.get("overlapSeconds") {
        None => Ok(default),
        Some(value) => match whole_seconds(value).map(Duration::from_secs) {
            Some(overlap) if overlap <= MAX_OVERLAP => Ok(overlap),
            _ => Err(vec![FieldError::at(
                "/overlapSeconds",
                "must be a whole number of seconds from 0 to 2592000 (30 days)",
                "يجب أن يكون عددًا صحيحًا من الثواني بين 0 و2592000 (30 يومًا)",
            )]),
        },
    }
}

/// A whole number of seconds, also written as a float (`3600.0`: JSON Schema counts it an
/// integer, and so does the document).
fn whole_seconds(value: &Value) -> Option<u64> {
    if let Some(n) = value.as_u64() {
        return Some(n);
    }
    let f = value.as_f64()?;
    // In range and whole: the cast below is exact.
    (f.fract() == 0.0 && (0.0..=MAX_OVERLAP.as_secs_f64()).contains(&f)).then_some(f as u64)
}

/// `services`: a non-empty array of catalogue names.
pub(crate) fn services(
    state: &AppState,
    value: Option<&Value>,
    pointer: &str,
) -> Result<Vec<ServiceName>, Vec<FieldError>> {
    let Some(Value::Array(items)) = value else {
        return Err(vec![FieldError::at(
            pointer,
            "must be a non-empty array of service names (GET /v1/services lists them)",
            "يجب أن تكون مصفوفة غير فارغة من أسماء الخدمات",
        )]);
    };
    let mut errors = Vec::new();
    let mut names = BTreeSet::new();
    for (index, item) in items.iter().enumerate() {
        match item
            .as_str()
            .and_then(|name| state.catalogue().service(name))
        {
            Some(service) => {
                names.insert(service.name.clone());
            }
            None => errors.push(FieldError::at(
                format!("{pointer}/{index}"),
                "not a service of the catalogue",
                "ليست خدمة في الدليل",
            )),
        }
    }
    if items.is_empty() {
        errors.push(FieldError::at(
            pointer,
            "name at least one service",
            "اذكر خدمة واحدة على الأقل",
        ));
    }
    if errors.is_empty() {
        Ok(names.into_iter().collect())
    } else {
        Err(errors)
    }
}

/// `{name, unifiedNumber, services}`, every mistake with its pointer.
fn parse_onboarding(state: &AppState, body: &Value) -> Result<NewCooperative, Vec<FieldError>> {
    let map = object(body, &["name", "unifiedNumber", "services"])?;
    let mut errors = Vec::new();
    let name = match map.get("name") {
        Some(Value::String(name))
            if !name.trim().is_empty() && name.chars().count() <= MAX_TEXT =>
        {
            Some(name.trim().to_owned())
        }
        _ => {
            errors.push(FieldError::at(
                "/name",
                "the cooperative's registered name (1 to 200 characters)",
                "اسم الجمعية المسجّل (من 1 إلى 200 حرف)",
            ));
            None
        }
    };
    let unified = match map
        .get("unifiedNumber")
        .and_then(Value::as_str)
        .map(UnifiedNumber::parse)
    {
        Some(Ok(number)) => Some(number),
        _ => {
            errors.push(FieldError::at(
                "/unifiedNumber",
                "must be a unified (700) number: 7 followed by 9 digits",
                "يجب أن يكون رقمًا موحدًا (700): الرقم 7 ثم 9 أرقام",
            ));
            None
        }
    };
    let services = services(state, map.get("services"), "/services")
        .map_err(|e| errors.extend(e))
        .ok();
    match (name, unified, services) {
        (Some(name), Some(unified_number), Some(services)) if errors.is_empty() => {
            Ok(NewCooperative {
                id: CooperativeId::new(),
                name,
                unified_number,
                services,
            })
        }
        _ => Err(errors),
    }
}

/// When a list's activity window starts.
pub(crate) fn activity_since() -> chrono::DateTime<Utc> {
    Utc::now() - ACTIVITY_WINDOW
}

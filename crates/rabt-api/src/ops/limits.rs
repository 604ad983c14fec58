//! `/ops/v1/cooperatives/{id}/limit`: a cooperative's rate limit and daily quota.
//! `GET` (viewer) shows its own limits, the default and what applies; `PUT` (operator)
//! sets its own, or with `{"default": true}` removes them so that the default applies
//! again. (No `DELETE`: the limit that applies always exists.) Each change is audited
//! with the operator's name; it applies on every api process within
//! [`crate::limits::LIMIT_CACHE`].
//!
//! `PUT` body: `{"rate": "5/s", "burst": 10, "quotaPerDay": 10000}`; `"rate": null`
//! for no rate limit at all, `"quotaPerDay": null` (or left out) for no quota;
//! `{"default": true}` alone for the default.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use rabt_core::{CooperativeId, RateLimit};
use rabt_store::{CooperativeLimit, OperatorRole};
use serde_json::{Map, Value, json};

use super::auth::OperatorCaller;
use super::body::OperatorBody;
use super::retrying;
use crate::problem::{ApiError, FieldError, ProblemKind};
use crate::state::AppState;

/// The JSON of a limit, as `PUT` takes it.
pub(crate) fn limit_json(limit: &CooperativeLimit) -> Value {
    json!({
        "rate": limit.rate.map(|r| format!("{}/{}", r.events(), period_suffix(&r))),
        "burst": limit.rate.map(|r| r.burst()),
        "quotaPerDay": limit.quota_per_day,
    })
}

fn period_suffix(rate: &RateLimit) -> &'static str {
    match rate.period() {
        rabt_core::limit::Period::Second => "s",
        rabt_core::limit::Period::Minute => "m",
        rabt_core::limit::Period::Hour => "h",
    }
}

async fn cooperative(state: &AppState, id: &str) -> Result<CooperativeId, ApiError> {
    let id = CooperativeId::parse(id).map_err(|_| ApiError::new(ProblemKind::NotFound))?;
    retrying("reading a cooperative", || state.store().cooperative(id))
        .await?
        .map(|c| c.id)
        .ok_or_else(|| ApiError::new(ProblemKind::NotFound))
}

async fn view(state: &AppState, id: CooperativeId) -> Result<Response, ApiError> {
    let own = retrying("reading a cooperative's limit", || {
        state.store().cooperative_limit(id)
    })
    .await?;
    let default = state.settings().default_limit;
    Ok(Json(json!({
        "cooperative": id.to_string(),
        "own": own.as_ref().map(limit_json),
        "default": limit_json(&default),
        "effective": limit_json(&own.unwrap_or(default)),
    }))
    .into_response())
}

/// `GET /ops/v1/cooperatives/{id}/limit`.
pub(crate) async fn get(
    State(state): State<AppState>,
    caller: OperatorCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(OperatorRole::Viewer)?;
    let id = cooperative(&state, &id).await?;
    view(&state, id).await
}

/// `PUT /ops/v1/cooperatives/{id}/limit`.
pub(crate) async fn put(
    State(state): State<AppState>,
    caller: OperatorCaller,
    Path(id): Path<String>,
    body: OperatorBody,
) -> Result<Response, ApiError> {
    let operator = caller.require(OperatorRole::Operator)?.name.clone();
    let id = cooperative(&state, &id).await?;
    let body = body.json()?;
    let limit = parse(&body)
        .map_err(|errors| ApiError::new(ProblemKind::ValidationFailed).errors(errors))?;
    retrying("setting a cooperative's limit", || {
        state.store().set_cooperative_limit(id, limit, &operator)
    })
    .await?;
    state.limit_cache().forget(id);
    tracing::info!(cooperative = %id, %operator, default = limit.is_none(), "cooperative limit set");
    view(&state, id).await
}

/// A `PUT` body (`None`: back to the default), or every field wrong with it.
fn parse(body: &Value) -> Result<Option<CooperativeLimit>, Vec<FieldError>> {
    let Some(map) = body.as_object() else {
        return Err(vec![FieldError::at(
            "",
            "the body must be a JSON object",
            "يجب أن يكون المحتوى كائن JSON",
        )]);
    };
    if map.len() == 1 && map.get("default") == Some(&Value::Bool(true)) {
        return Ok(None);
    }
    let mut errors = Vec::new();
    for key in map.keys() {
        if !["rate", "burst", "quotaPerDay"].contains(&key.as_str()) {
            errors.push(FieldError::at(
                format!("/{}", crate::envelope::escape(key)),
                "unknown field (allowed: rate, burst, quotaPerDay; or `default` alone)",
                "حقل غير معروف (المسموح: rate وburst وquotaPerDay؛ أو default وحده)",
            ));
        }
    }
    let rate = rate(map, &mut errors);
    let quota_per_day = match map.get("quotaPerDay") {
        None | Some(Value::Null) => None,
        Some(value) => match whole(value) {
            Some(n) if n <= 100_000_000 => Some(n),
            _ => {
                errors.push(FieldError::at(
                    "/quotaPerDay",
                    "must be a whole number from 0 to 100000000, or null",
                    "يجب أن يكون عددًا صحيحًا من 0 إلى 100000000، أو null",
                ));
                None
            }
        },
    };
    if errors.is_empty() {
        Ok(Some(CooperativeLimit {
            rate,
            quota_per_day,
        }))
    } else {
        Err(errors)
    }
}

/// This route's part of the OpenAPI document.
pub(crate) fn paths(
    security: &Value,
    auth: &dyn Fn(Value) -> Value,
    problem_ref: &dyn Fn(&str) -> Value,
) -> Map<String, Value> {
    let id =
        json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } });
    let nullable_limit = json!({
        "type": "object",
        "properties": {
            "rate": { "type": ["string", "null"], "description": "N/s, N/m or N/h; null: no rate limit." },
            "burst": { "type": ["integer", "null"] },
            "quotaPerDay": { "type": ["integer", "null"] },
        },
    });
    let view = json!({ "application/json": { "schema": {
        "type": "object",
        "required": ["cooperative", "own", "default", "effective"],
        "properties": {
            "cooperative": { "type": "string" },
            "own": { "oneOf": [nullable_limit.clone(), { "type": "null" }], "description": "Its own limits; null: the default applies." },
            "default": nullable_limit.clone(),
            "effective": nullable_limit,
        },
    } } });
    let body = json!({ "application/json": { "schema": { "oneOf": [
        {
            "type": "object", "additionalProperties": false, "required": ["rate"],
            // No burst without a rate.
            "if": { "properties": { "rate": { "type": "null" } } },
            "then": { "properties": { "burst": { "type": "null" } } },
            "properties": {
                "rate": { "oneOf": [
                    // At most 10,000 a second, in whichever period it is written.
                    { "type": "string", "pattern": "^(([1-9][0-9]{0,3}|10000)/s|([1-9][0-9]{0,4}|[1-5][0-9]{5}|600000)/m|([1-9][0-9]{0,6}|[12][0-9]{7}|3[0-5][0-9]{6}|36000000)/h)$" },
                    { "type": "null" },
                ] },
                "burst": { "type": ["integer", "null"], "minimum": 1, "maximum": 100_000, "description": "Calls that may go back to back; null or left out: one period's worth." },
                "quotaPerDay": { "type": ["integer", "null"], "minimum": 0, "maximum": 100_000_000 },
            },
        },
        { "type": "object", "additionalProperties": false, "required": ["default"], "properties": { "default": { "const": true } } },
    ] } } });
    let mut paths = Map::new();
    paths.insert("/ops/v1/cooperatives/{id}/limit".into(), json!({
        "get": {
            "operationId": "getCooperativeLimit",
            "summary": "A cooperative's rate limit and daily quota: its own, the default, what applies (viewer)",
            "security": security, "parameters": [id],
            "responses": auth(json!({ "200": { "description": "The limits.", "content": view }, "404": problem_ref("not-found") })),
        },
        "put": {
            "operationId": "setCooperativeLimit",
            "summary": "Set a cooperative's own limits, or go back to the default with {\"default\": true} (operator; audited; applies within 2 s)",
            "security": security, "parameters": [id],
            "requestBody": { "required": true, "content": body },
            "responses": auth(json!({
                "200": { "description": "The limits now.", "content": view },
                "400": problem_ref("malformed-json"),
                "404": problem_ref("not-found"),
                "415": problem_ref("unsupported-media-type"),
                "422": problem_ref("validation-failed"),
            })),
        },
    }));
    paths
}

/// A whole number, written `10` or `10.0` (JSON Schema counts both as integers).
fn whole(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= 9.0e15)
            .map(|f| f as u64)
    })
}

fn rate(map: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<RateLimit> {
    let burst = match map.get("burst") {
        None | Some(Value::Null) => None,
        Some(value) => match whole(value).and_then(|b| u32::try_from(b).ok()) {
            Some(b) => Some(b),
            None => {
                errors.push(FieldError::at(
                    "/burst",
                    "must be a whole number from 1 to 100000",
                    "يجب أن يكون عددًا صحيحًا من 1 إلى 100000",
                ));
                return None;
            }
        },
    };
    let text = match map.get("rate") {
        Some(Value::Null) => {
            if burst.is_some() {
                errors.push(FieldError::at(
                    "/burst",
                    "a burst needs a rate",
                    "لا معنى لعدد الدفعة دون معدل",
                ));
            }
            return None;
        }
        Some(Value::String(text)) => text,
        _ => {
            errors.push(FieldError::at(
                "/rate",
                "must be a rate such as \"5/s\", \"300/m\" or \"10000/h\", or null for none",
                "يجب أن يكون معدلًا مثل \"5/s\" أو \"300/m\" أو \"10000/h\"، أو null لعدم التحديد",
            ));
            return None;
        }
    };
    // Without a burst, one period's worth may go at once (at most 100,000 calls).
    let parsed = RateLimit::parse(text, burst.unwrap_or(1)).and_then(|r| match burst {
        Some(_) => Ok(r),
        None => RateLimit::new(
            r.events(),
            r.period(),
            r.events().clamp(1, RateLimit::MAX_BURST),
        ),
    });
    match parsed {
        Ok(rate) => Some(rate),
        Err(err) => {
            let pointer = match err {
                rabt_core::RateLimitError::Burst => "/burst",
                _ => "/rate",
            };
            errors.push(FieldError::at(pointer, err.to_string(), err.to_string()));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_parse_or_name_every_mistake() {
        assert_eq!(parse(&json!({"default": true})).unwrap(), None);
        let limit = parse(&json!({"rate": "5/s", "burst": 10, "quotaPerDay": 10000}))
            .unwrap()
            .unwrap();
        assert_eq!(limit.rate.map(|r| (r.events(), r.burst())), Some((5, 10)));
        assert_eq!(limit.quota_per_day, Some(10_000));
        assert_eq!(
            limit_json(&limit),
            json!({"rate": "5/s", "burst": 10, "quotaPerDay": 10000})
        );
        let none = parse(&json!({"rate": null})).unwrap().unwrap();
        assert_eq!((none.rate, none.quota_per_day), (None, None));
        let per_minute = parse(&json!({"rate": "300/m"})).unwrap().unwrap();
        assert_eq!(per_minute.rate.map(|r| r.burst()), Some(300));
        let pointers = |body: Value| -> Vec<String> {
            parse(&body)
                .unwrap_err()
                .into_iter()
                .filter_map(|e| e.pointer)
                .collect()
        };
        assert_eq!(pointers(json!({"rate": "fast"})), ["/rate"]);
        assert_eq!(pointers(json!({"rate": "5/s", "burst": 0})), ["/burst"]);
        assert_eq!(pointers(json!({"rate": null, "burst": 3})), ["/burst"]);
        assert_eq!(
            pointers(json!({"rate": "5/s", "quotaPerDay": -1, "x": 1})),
            ["/x", "/quotaPerDay"]
        );
        assert_eq!(pointers(json!({})), ["/rate"]);
        let floats = parse(&json!({"rate": "5/s", "burst": 10.0, "quotaPerDay": 285.0}))
            .unwrap()
            .unwrap();
        assert_eq!(floats.quota_per_day, Some(285));
        assert_eq!(pointers(json!({"rate": "5/s", "burst": 1.5})), ["/burst"]);
        assert_eq!(pointers(json!({"default": false})), ["/default", "/rate"]);
    }
}

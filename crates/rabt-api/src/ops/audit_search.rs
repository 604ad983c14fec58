//! `POST /ops/v1/audit/search`: every request that concerned a person, found by the
//! keyed digest of their identity number or mobile (viewer). The number travels in the
//! body, never in a URL (URLs end up in access logs); it is digested at once and never
//! stored or logged. Each search is itself audited, with the operator as actor and the
//! digest searched for.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::SecondsFormat;
use rabt_audit::Subject;
use rabt_core::{Mobile, NationalId};
use rabt_store::{Actor, NewAuditEntry, OperatorRole};
use serde_json::{Value, json};

use super::auth::OperatorCaller;
use super::body::OperatorBody;
use super::retrying;
use crate::problem::{ApiError, FieldError, ProblemKind};
use crate::state::AppState;

/// The most requests one search answers.
const MAX_MATCHES: u32 = 1000;

/// What to search for: exactly one identifier, as its normalised text and kind.
fn subject(body: &Value) -> Result<(Subject, String), ApiError> {
    let invalid = |errors| ApiError::new(ProblemKind::ValidationFailed).errors(errors);
    let Some(fields) = body.as_object() else {
        return Err(invalid(vec![FieldError::at(
            "",
            "must be an object with `idNumber` or `mobile`",
            "يجب أن يكون كائنًا فيه `idNumber` أو `mobile`",
        )]));
    };
    let mut errors = Vec::new();
    for name in fields
        .keys()
        .filter(|k| !matches!(k.as_str(), "idNumber" | "mobile"))
    {
        errors.push(FieldError::at(
            format!("/{}", name.replace('~', "~0").replace('/', "~1")),
            "unknown field (allowed: idNumber, mobile)",
            "حقل غير معروف (المسموح: idNumber وmobile)",
        ));
    }
    let found = match (fields.get("idNumber"), fields.get("mobile")) {
        (Some(id), None) => match id.as_str().map(NationalId::parse) {
            Some(Ok(id)) => Some((Subject::IdNumber, id.to_string())),
            _ => {
                errors.push(FieldError::at(
                    "/idNumber",
                    "must be a national ID or iqama number (10 digits, valid check digit)",
                    "يجب أن يكون رقم هوية وطنية أو إقامة (10 أرقام بخانة تحقق صحيحة)",
                ));
                None
            }
        },
        (None, Some(mobile)) => match mobile.as_str().map(Mobile::parse) {
            Some(Ok(mobile)) => Some((Subject::Mobile, mobile.to_string())),
            _ => {
                errors.push(FieldError::at(
                    "/mobile",
                    "must be a Saudi mobile number (05XXXXXXXX or 9665XXXXXXXX)",
                    "يجب أن يكون رقم جوال سعودي (05XXXXXXXX أو 9665XXXXXXXX)",
                ));
                None
            }
        },
        _ => {
            errors.push(FieldError::at(
                "",
                "give exactly one of `idNumber` and `mobile`",
                "أرسل واحدًا فقط من `idNumber` و`mobile`",
            ));
            None
        }
    };
    match found {
        Some(found) if errors.is_empty() => Ok(found),
        _ => Err(invalid(errors)),
    }
}

/// `POST /ops/v1/audit/search` with `{"idNumber": "…"}` or `{"mobile": "…"}`.
pub(crate) async fn search(
    State(state): State<AppState>,
    caller: OperatorCaller,
    body: OperatorBody,
) -> Result<Response, ApiError> {
    let operator = caller.require(OperatorRole::Viewer)?.name.clone();
    let body = body.json()?;
    let (kind, value) = subject(&body)?;
    let Some(key) = state.settings().pii_key.as_ref() else {
        return Err(ApiError::internal(
            "searching the audit log",
            &"no personal-data key (RABT_PII_KEY) is configured",
        ));
    };
    let digest = key.digest(kind, &value);
    let digests = [digest.clone()];
    let found = retrying("searching the audit log", || {
        state.store().requests_by_subject(&digests, MAX_MATCHES)
    })
    .await?;
    let mut entry = NewAuditEntry::new(Actor::Operator(operator), "operator.audit_search");
    entry.detail = json!({ "subject": digest, "kind": kind.label(), "found": found.len() });
    retrying("auditing a search", || state.store().record_audit(&entry)).await?;
    let items: Vec<Value> = found
        .iter()
        .map(|m| {
            json!({
                "request": m.request.to_string(),
                "cooperative": m.cooperative.to_string(),
                "service": m.service.as_str(),
                "status": m.status.as_str(),
                "verdict": m.verdict.map(|v| v.as_str()),
                "createdAt": m.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            })
        })
        .collect();
    Ok(Json(json!({ "subject": digest, "items": items })).into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test reports a failure
mod tests {
    use super::*;

    #[test]
    fn one_valid_identifier_and_nothing_else() {
        assert_eq!(
            subject(&json!({"idNumber": "1000000008"})).unwrap(),
            (Subject::IdNumber, "1000000008".to_owned())
        );
        assert_eq!(
            subject(&json!({"mobile": "0512345678"})).unwrap(),
            (Subject::Mobile, "966512345678".to_owned())
        );
        for bad in [
            json!({}),
            json!([]),
            json!({"idNumber": "1000000009"}),
            json!({"idNumber": 1000000008u64}),
            json!({"idNumber": "1000000008", "mobile": "0512345678"}),
            json!({"idNumber": "1000000008", "name": "x"}),
        ] {
            let err = subject(&bad).unwrap_err();
            assert_eq!(err.problem().kind, ProblemKind::ValidationFailed, "{bad}");
            let text = format!("{:?}", err.problem());
            assert!(!text.contains("1000000009"), "the value is never echoed");
        }
    }
}

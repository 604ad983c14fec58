//! How requests look to a cooperative: the JSON of `GET /v1/requests/{id}` and of the
//! list, built from the store's records.

use chrono::{DateTime, SecondsFormat, Utc};
use rabt_catalogue::Catalogue;
use rabt_catalogue::composite::CompositeSpec;
use rabt_core::RequestId;
use rabt_store::AgencyPause;
use rabt_store::{RequestRecord, RequestSummary, TaskView};
use serde_json::{Value, json};

/// The path of a request.
pub(crate) fn request_path(id: RequestId) -> String {
    format!("/v1/requests/{id}")
}

/// The answer to `POST /v1/requests` before the request completes (202).
pub(crate) fn accepted(id: RequestId) -> Value {
    json!({
        "id": id.to_string(),
        "status": "ACCEPTED",
        "links": { "self": request_path(id) },
    })
}

fn time(t: DateTime<Utc>) -> Value {
    Value::String(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn opt_time(t: Option<DateTime<Utc>>) -> Value {
    t.map(time).unwrap_or(Value::Null)
}

/// One check (task) of a request. Checks of a composite also name their child
/// (`check`, e.g. `municipalLicense`), its title and, for a child run per element, the
/// element's `index`; a late answer (after the check timed out) is shown beside it.
fn check(task: &TaskView, catalogue: &Catalogue, composite: Option<&CompositeSpec>) -> Value {
    let mut check = json!({
        "id": task.id.to_string(),
        "service": task.service.as_str(),
        "agency": task.agency.as_str(),
        "required": task.required,
        "status": task.state.status().as_str(),
        "outcome": task.state.outcome().map(|o| o.as_str()),
        "data": task.data.clone().unwrap_or(Value::Null),
        "attempts": task.attempts,
        "upstreamRef": task.upstream_ref,
        "error": task.last_error,
        "createdAt": time(task.created_at),
        "startedAt": opt_time(task.started_at),
        "completedAt": opt_time(task.completed_at),
        "deadlineAt": time(task.deadline_at),
        "latencyMs": task.latency_ms,
    });
    if let Some(child) = &task.child {
        check["check"] = json!(child);
        if let Some(index) = task.index {
            check["index"] = json!(index);
        }
        if let Some(title) = composite.and_then(|c| c.child(child)).map(|c| &c.title) {
            check["title"] = json!({ "en": title.en, "ar": title.ar });
        }
    } else if let Some(service) = catalogue.service(task.service.as_str()) {
        check["title"] = json!({ "en": service.title.en, "ar": service.title.ar });
    }
    if let Some(late) = &task.late {
        check["late"] = json!({
            "outcome": late.outcome.as_str(),
            "data": late.data,
            "at": time(late.at),
        });
    }
    check
}

/// A completed composite's output, as its output schema describes: the verdict and
/// every check's outcome and data.
fn composite_output(
    record: &RequestRecord,
    verdict: rabt_core::Verdict,
    spec: &CompositeSpec,
) -> Value {
    let checks: Vec<Value> = record
        .tasks
        .iter()
        .map(|task| {
            let mut check = json!({
                // Proven: fanout names the child of every task of a composite request,
                // and only a composite request's tasks come here.
                "check": task.child.as_deref().unwrap_or_default(),
                "service": task.service.as_str(),
                "required": task.required,
                "outcome": task.state.outcome().map(|o| o.as_str()),
                "late": task.late.is_some(),
            });
            if let Some(index) = task.index {
                check["index"] = json!(index);
            }
            if let Some(title) = task
                .child
                .as_deref()
                .and_then(|c| spec.child(c))
                .map(|c| &c.title)
            {
                check["title"] = json!({ "en": title.en, "ar": title.ar });
            }
            if let Some(data @ Value::Object(_)) = &task.data {
                check["data"] = data.clone();
            }
            check
        })
        .collect();
    json!({ "verdict": verdict.as_str(), "checks": checks })
}

/// The full representation of a request. A request of a single-agency service also
/// carries its one check's `outcome` and `data` at the top, so the common case reads
/// `response.outcome` without digging into `checks`; a completed composite carries its
/// output (verdict and every check) as `data`.
pub(crate) fn full(record: &RequestRecord, catalogue: &Catalogue) -> Value {
    let composite = catalogue
        .service(record.service.as_str())
        .and_then(|s| s.composite());
    let mut body = json!({
        "id": record.id.to_string(),
        "service": record.service.as_str(),
        "status": record.status.as_str(),
        "verdict": record.verdict.map(|v| v.as_str()),
        "reference": record.reference,
        "createdAt": time(record.created_at),
        "updatedAt": time(record.updated_at),
        "completedAt": opt_time(record.completed_at),
        "deadlineAt": time(record.deadline_at),
        "checks": record.tasks.iter().map(|t| check(t, catalogue, composite)).collect::<Vec<_>>(),
        "payload": payload(record),
        "links": {
            "self": request_path(record.id),
            "evidence": format!("{}/evidence", request_path(record.id)),
        },
    });
    // The trace of all the request's work (API, queue, workers, agencies, callbacks,
    // notification), for an operator following an incident.
    if let Some(trace) = record
        .traceparent
        .as_deref()
        .and_then(rabt_trace::trace_id_of)
    {
        body["traceId"] = json!(trace);
    }
    match (composite, record.verdict) {
        (Some(spec), Some(verdict)) => body["data"] = composite_output(record, verdict, spec),
        (Some(_), None) => body["data"] = Value::Null,
        (None, _) => {
            if let [only] = record.tasks.as_slice() {
                body["outcome"] = json!(only.state.outcome().map(|o| o.as_str()));
                body["data"] = only.data.clone().unwrap_or(Value::Null);
            }
        }
    }
    body
}

/// Whether the request's input and its agencies' answers are still kept: after
/// `retention.payloads` they are replaced by digests, and every check's `data` is null.
fn payload(record: &RequestRecord) -> Value {
    match record.payload_expired_at {
        Some(at) => json!({ "expired": true, "expiredAt": time(at) }),
        None => json!({ "expired": false }),
    }
}

/// Says why the open checks of a paused agency wait: `waiting` on each, with the
/// expected end the operators gave (their reason stays with them).
pub(crate) fn mark_waiting(body: &mut Value, record: &RequestRecord, pauses: &[AgencyPause]) {
    let Some(checks) = body["checks"].as_array_mut() else {
        return;
    };
    for (check, task) in checks.iter_mut().zip(&record.tasks) {
        if task.state.is_terminal() {
            continue;
        }
        if let Some(pause) = pauses.iter().find(|p| p.agency == task.agency) {
            check["waiting"] = json!({
                "cause": "agency_maintenance",
                "detail": {
                    "en": format!("{} is paused for maintenance; this check runs when it is back", task.agency),
                    "ar": format!("الجهة {} متوقفة للصيانة؛ يُجرى هذا الفحص عند عودتها", task.agency),
                },
                "since": time(pause.paused_at),
                "expectedEnd": opt_time(pause.expected_end),
            });
        }
    }
}

/// A line of `GET /v1/requests`.
pub(crate) fn summary(item: &RequestSummary) -> Value {
    json!({
        "id": item.id.to_string(),
        "service": item.service.as_str(),
        "status": item.status.as_str(),
        "verdict": item.verdict.map(|v| v.as_str()),
        "reference": item.reference,
        "createdAt": time(item.created_at),
        "completedAt": opt_time(item.completed_at),
        "links": { "self": request_path(item.id) },
    })
}

//! What a cooperative reads back: one request with its checks, or a filtered page of
//! its requests. Every read is scoped to the cooperative: another cooperative's
//! request id finds nothing.

use chrono::{DateTime, Utc};
use rabt_core::{
    Agency, CooperativeId, Outcome, RequestId, RequestStatus, ServiceName, TaskId, TaskState,
    TaskStatus, Verdict,
};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::codec::{
    get_bool, get_count, get_enum, get_json, get_opt_enum, get_opt_json, get_opt_time, get_parsed,
    get_time, page_limit,
};
use crate::connect::Store;
use crate::error::StoreError;
use crate::filter::Filtered;

/// A request with all its checks.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// Its id.
    pub id: RequestId,
    /// Whose it is.
    pub cooperative: CooperativeId,
    /// The service asked for.
    pub service: ServiceName,
    /// Where it is in its lifecycle.
    pub status: RequestStatus,
    /// Its verdict, once completed.
    pub verdict: Option<Verdict>,
    /// The cooperative's own reference.
    pub reference: Option<String>,
    /// Where the cooperative is notified.
    pub notify_url: Option<String>,
    /// The W3C `traceparent` of the span that accepted it: the trace of all its work.
    pub traceparent: Option<String>,
    /// When it was accepted.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it got its verdict.
    pub completed_at: Option<DateTime<Utc>>,
    /// When it must have its verdict.
    pub deadline_at: DateTime<Utc>,
    /// The validated input (personal data: for workers composing checks, never shown
    /// back in lists or logs).
    pub input: serde_json::Value,
    /// Its tasks, in creation order.
    pub tasks: Vec<TaskView>,
    /// When its input and its checks' data were replaced by digests
    /// (`retention.payloads`); from then on `input` holds that digest and no check has
    /// `data`.
    pub payload_expired_at: Option<DateTime<Utc>>,
}

/// One check of a request, as shown to the cooperative.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskView {
    /// Its id.
    pub id: TaskId,
    /// The agency called.
    pub agency: Agency,
    /// The agency service called.
    pub service: ServiceName,
    /// Its state, with the outcome once completed.
    pub state: TaskState,
    /// What the agency answered (service output).
    pub data: Option<serde_json::Value>,
    /// How many times a worker started it.
    pub attempts: u32,
    /// The agency's own reference (asynchronous agencies).
    pub upstream_ref: Option<String>,
    /// The last error, if an attempt failed.
    pub last_error: Option<String>,
    /// Whether its outcome counts in the verdict.
    pub required: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When a worker last started it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it got its outcome.
    pub completed_at: Option<DateTime<Utc>>,
    /// How long the agency took.
    pub latency_ms: Option<i64>,
    /// When it times out.
    pub deadline_at: DateTime<Utc>,
    /// An answer that arrived after the task had timed out: shown, but it does not
    /// change the outcome or the verdict.
    pub late: Option<LateAnswer>,
    /// For a check of a composite request: the catalogue's child id.
    pub child: Option<String>,
    /// For a child run once per element of an input array: the element's index.
    pub index: Option<u32>,
}

/// An agency's answer that came after its task timed out.
#[derive(Debug, Clone, PartialEq)]
pub struct LateAnswer {
    /// What the agency answered.
    pub outcome: Outcome,
    /// Its data.
    pub data: Option<serde_json::Value>,
    /// When it arrived.
    pub at: DateTime<Utc>,
}

/// A page of a cooperative's requests, newest first. Filters combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Only this service.
    pub service: Option<ServiceName>,
    /// Only this status.
    pub status: Option<RequestStatus>,
    /// Only this reference.
    pub reference: Option<String>,
    /// Only requests older than this one (the last id of the previous page: ids are
    /// UUIDv7, so they sort by creation).
    pub before: Option<RequestId>,
    /// Page size, clamped to 1..=1000.
    pub limit: u32,
}

/// A request in a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSummary {
    /// Its id.
    pub id: RequestId,
    /// The service asked for.
    pub service: ServiceName,
    /// Where it is in its lifecycle.
    pub status: RequestStatus,
    /// Its verdict, once completed.
    pub verdict: Option<Verdict>,
    /// The cooperative's own reference.
    pub reference: Option<String>,
    /// When it was accepted.
    pub created_at: DateTime<Utc>,
    /// When it got its verdict.
    pub completed_at: Option<DateTime<Utc>>,
}

/// The largest page [`Store::list_requests`] returns.
const MAX_LIST_PAGE: u32 = 1000;

impl Store {
    /// A request with its checks, if it exists and belongs to `cooperative`.
    pub async fn get_request(
        &self,
        cooperative: CooperativeId,
        id: RequestId,
    ) -> Result<Option<RequestRecord>, StoreError> {
        self.read_request(id, Some(cooperative)).await
    }

    /// A request with its checks, whoever it belongs to: for workers and operators,
    /// never for a cooperative's call.
    pub async fn request_for_work(
        &self,
        id: RequestId,
    ) -> Result<Option<RequestRecord>, StoreError> {
        self.read_request(id, None).await
    }

    async fn read_request(
        &self,
        id: RequestId,
        cooperative: Option<CooperativeId>,
    ) -> Result<Option<RequestRecord>, StoreError> {
        fetch_request(&self.pool, id, cooperative).await
    }
}

impl Store {
    /// A page of the cooperative's requests, newest first.
    pub async fn list_requests(
        &self,
        cooperative: CooperativeId,
        query: &ListQuery,
    ) -> Result<Vec<RequestSummary>, StoreError> {
        let mut filtered = Filtered::new(
            "SELECT id, service, status, verdict, reference, created_at, completed_at \
             FROM requests WHERE 1 = 1",
        );
        filtered.text("cooperative_id =", cooperative.to_string());
        if let Some(service) = &query.service {
            filtered.text("service =", service.to_string());
        }
        if let Some(status) = query.status {
            filtered.text("status =", status.as_str().to_owned());
        }
        if let Some(reference) = &query.reference {
            filtered.text("reference =", reference.clone());
        }
        if let Some(before) = query.before {
            filtered.text("id <", before.to_string());
        }
        let rows = filtered
            .fetch_page(
                "id DESC",
                page_limit(query.limit, MAX_LIST_PAGE),
                &self.pool,
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(RequestSummary {
                    id: get_parsed(row, "id")?,
                    service: get_parsed(row, "service")?,
                    status: get_enum(row, "status", RequestStatus::parse)?,
                    verdict: get_opt_enum(row, "verdict", Verdict::parse)?,
                    reference: row.try_get("reference")?,
                    created_at: get_time(row, "created_at")?,
                    completed_at: get_opt_time(row, "completed_at")?,
                })
            })
            .collect()
    }
}

/// Rebuilds a task's state from its `status` and `outcome` columns (named as given).
pub(crate) fn task_state(
    row: &AnyRow,
    status_column: &'static str,
) -> Result<TaskState, StoreError> {
    let status = get_enum(row, status_column, TaskStatus::parse)?;
    let outcome = get_opt_enum(row, "outcome", Outcome::parse)?;
    TaskState::from_parts(status, outcome).ok_or_else(|| StoreError::Corrupt {
        column: "outcome",
        value: format!("{status} with {outcome:?}"),
    })
}

fn task_view(row: &AnyRow) -> Result<TaskView, StoreError> {
    let late = match get_opt_enum(row, "late_outcome", Outcome::parse)? {
        Some(outcome) => Some(LateAnswer {
            outcome,
            data: get_opt_json(row, "late_data")?,
            at: get_time(row, "late_at")?,
        }),
        None => None,
    };
    Ok(TaskView {
        id: get_parsed(row, "task_id")?,
        agency: get_parsed(row, "agency")?,
        service: get_parsed(row, "task_service")?,
        state: task_state(row, "task_status")?,
        data: get_opt_json(row, "data")?,
        attempts: get_count(row, "attempts")?,
        upstream_ref: row.try_get("upstream_ref")?,
        last_error: row.try_get("last_error")?,
        required: get_bool(row, "required")?,
        created_at: get_time(row, "task_created_at")?,
        started_at: get_opt_time(row, "started_at")?,
        completed_at: get_opt_time(row, "task_completed_at")?,
        latency_ms: row.try_get("latency_ms")?,
        deadline_at: get_time(row, "task_deadline_at")?,
        late,
        child: row.try_get("child")?,
        index: row
            .try_get::<Option<i64>, _>("item_index")?
            .map(|i| {
                u32::try_from(i).map_err(|_| StoreError::Corrupt {
                    column: "item_index",
                    value: i.to_string(),
                })
            })
            .transpose()?,
    })
}

/// A request with all its checks, in one statement (so from one snapshot on both
/// backends), through the pool or inside a transaction (a composite decided where its
/// check completes); scoped to `cooperative` unless it is `None`.
pub(crate) async fn fetch_request<'e, E>(
    executor: E,
    id: RequestId,
    cooperative: Option<CooperativeId>,
) -> Result<Option<RequestRecord>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    // One statement, so the request and its tasks come from one snapshot on both
    // backends. `$2 IS NULL` lets one prepared statement serve both callers.
    let rows = sqlx::query(
        "SELECT r.id, r.cooperative_id, r.service, r.status, r.verdict, r.reference, \
         r.notify_url, r.traceparent, r.created_at, r.updated_at, r.completed_at, r.deadline_at, r.input, \
         r.payload_expired_at, \
         t.id AS task_id, t.agency, t.service AS task_service, t.status AS task_status, \
         t.outcome, t.data, t.attempts, t.upstream_ref, t.last_error, t.required, \
         t.created_at AS task_created_at, t.started_at, \
         t.completed_at AS task_completed_at, t.latency_ms, \
         t.deadline_at AS task_deadline_at, t.late_outcome, t.late_data, t.late_at, \
         t.child, t.item_index \
         FROM requests r JOIN tasks t ON t.request_id = r.id \
         WHERE r.id = $1 AND (r.cooperative_id = $2 OR $2 IS NULL) ORDER BY t.ordinal",
    )
    .bind(id.to_string())
    .bind(cooperative.map(|c| c.to_string()))
    .fetch_all(executor)
    .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let payload_expired_at = get_opt_time(first, "payload_expired_at")?;
    let mut tasks = rows.iter().map(task_view).collect::<Result<Vec<_>, _>>()?;
    if payload_expired_at.is_some() {
        // What the columns hold now is a digest, not an agency's answer.
        for task in &mut tasks {
            task.data = None;
            if let Some(late) = task.late.as_mut() {
                late.data = None;
            }
        }
    }
    Ok(Some(RequestRecord {
        id: get_parsed(first, "id")?,
        cooperative: get_parsed(first, "cooperative_id")?,
        service: get_parsed(first, "service")?,
        status: get_enum(first, "status", RequestStatus::parse)?,
        verdict: get_opt_enum(first, "verdict", Verdict::parse)?,
        reference: first.try_get("reference")?,
        notify_url: first.try_get("notify_url")?,
        traceparent: first.try_get("traceparent")?,
        created_at: get_time(first, "created_at")?,
        updated_at: get_time(first, "updated_at")?,
        completed_at: get_opt_time(first, "completed_at")?,
        deadline_at: get_time(first, "deadline_at")?,
        input: get_json(first, "input")?,
        tasks,
        payload_expired_at,
    }))
}

//! The tasks a request fans out to: one for a service of an agency; for a composite,
//! one per child (and per element, for a child run over an input array), as the
//! catalogue declares. Children that wait for others start BLOCKED; the worker releases
//! them with the input the answers they wait for give them.

use chrono::{DateTime, Utc};
use rabt_catalogue::composite::{Child, CompositeSpec};
use rabt_catalogue::{Catalogue, Service, ServiceKind};
use rabt_store::NewTask;
use serde_json::Value;

use crate::problem::{ApiError, FieldError, ProblemKind};

/// The tasks of a request for `service` with `input`, accepted at `now`.
pub(crate) fn tasks(
    catalogue: &Catalogue,
    service: &Service,
    input: &Value,
    now: DateTime<Utc>,
    deadline_at: DateTime<Utc>,
) -> Result<Vec<NewTask>, ApiError> {
    match &service.kind {
        ServiceKind::Agency { agency, .. } => Ok(vec![NewTask::queued(
            *agency,
            service.name.clone(),
            input.clone(),
            deadline_at,
        )]),
        ServiceKind::Composite(spec) => composite_tasks(catalogue, spec, input, now, deadline_at),
    }
}

fn composite_tasks(
    catalogue: &Catalogue,
    spec: &CompositeSpec,
    input: &Value,
    now: DateTime<Utc>,
    deadline_at: DateTime<Utc>,
) -> Result<Vec<NewTask>, ApiError> {
    let mut tasks = Vec::new();
    for child in spec.children() {
        let agency = catalogue
            .service(child.service.as_str())
            .and_then(Service::agency)
            .ok_or_else(|| {
                ApiError::internal(
                    "fanning out a composite",
                    &format!("child `{}` names no agency service", child.id),
                )
            })?;
        // Elements come from the composite's own input, which is known now; outputs of
        // other children are not, so an element list must not depend on them.
        let items = child
            .items(input, |_| None)
            .map_err(|missing| ApiError::internal("fanning out a composite", &missing))?;
        let instances: Vec<(Option<u32>, Option<&Value>)> = match items {
            Some(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| (Some(i as u32), Some(item)))
                .collect(),
            None => vec![(None, None)],
        };
        for (index, item) in instances {
            tasks.push(child_task(
                catalogue,
                child,
                agency,
                input,
                item,
                index,
                now,
                deadline_at,
            )?);
        }
    }
    Ok(tasks)
}

#[allow(clippy::too_many_arguments)]
fn child_task(
    catalogue: &Catalogue,
    child: &Child,
    agency: rabt_core::Agency,
    input: &Value,
    item: Option<&Value>,
    index: Option<u32>,
    now: DateTime<Utc>,
    deadline_at: DateTime<Utc>,
) -> Result<NewTask, ApiError> {
    let blocked = !child.after.is_empty();
    let (task_input, task_deadline) = if blocked {
        // Built when released; until then it can wait as long as the whole request.
        (Value::Null, deadline_at)
    } else {
        let mut built = child
            .build_input(input, item, |_| None)
            .map_err(|missing| ApiError::internal("fanning out a composite", &missing))?;
        let service = catalogue.service(child.service.as_str());
        if let Some(service) = service {
            service.normalize_input(&mut built);
        }
        if let Some(service) = service
            && let Err(violations) = service.validate_input(&built)
        {
            let errors = violations
                .into_iter()
                .map(|v| {
                    FieldError::at(
                        "/input",
                        format!(
                            "for the `{}` check: {}{}",
                            child.id, v.pointer, v.message.en
                        ),
                        v.message.ar,
                    )
                })
                .collect();
            return Err(ApiError::new(ProblemKind::ValidationFailed).errors(errors));
        }
        let own = now + chrono::Duration::from_std(child.deadline).unwrap_or(chrono::Duration::MAX);
        (built, own.min(deadline_at))
    };
    let mut task = NewTask::queued(agency, child.service.clone(), task_input, task_deadline);
    task.required = child.required;
    task.child = Some((child.id.clone(), index));
    task.blocked = blocked;
    Ok(task)
}

/// Whether every agency a service needs has an adapter here.
pub(crate) fn callable(
    catalogue: &Catalogue,
    service: &Service,
    is_callable: impl Fn(&rabt_core::ServiceName) -> bool,
) -> bool {
    match &service.kind {
        ServiceKind::Agency { .. } => is_callable(&service.name),
        ServiceKind::Composite(spec) => spec.children().iter().all(|child| {
            catalogue
                .service(child.service.as_str())
                .is_some_and(|s| is_callable(&s.name))
        }),
    }
}

//! Composite requests built as the API's fan-out builds them (`rabt-api`'s `fanout.rs`
//! is private to it): from the catalogue's declaration, one task per child and per
//! element of a `forEach` array; the children that wait for nothing queued with the
//! input their bindings give, those that wait BLOCKED with a `null` input and the
//! request's deadline.

use rabt_catalogue::Service;
use rabt_core::TaskId;
use rabt_store::{NewRequest, NewTask};
use serde_json::Value;

use crate::rig::Rig;

impl Rig {
    /// A request for the composite `service` with `input`, fanned out as the API does.
    pub(crate) fn composite_request(&self, service: &str, input: Value) -> NewRequest {
        let catalogue = self.catalogue.clone();
        self.request_with(service, input, |service, input, now, deadline_at| {
            let spec = service.composite().expect("a composite service");
            let mut tasks = Vec::new();
            for child in spec.children() {
                let agency = catalogue
                    .service(child.service.as_str())
                    .and_then(Service::agency)
                    .expect("a child calls an agency service");
                let items = child.items(input, |_| None).unwrap();
                let instances: Vec<(Option<u32>, Option<&Value>)> = match items {
                    Some(items) => (0u32..)
                        .zip(items)
                        .map(|(i, v)| (Some(i), Some(v)))
                        .collect(),
                    None => vec![(None, None)],
                };
                for (index, item) in instances {
                    let blocked = !child.after.is_empty();
                    let (task_input, task_deadline) = if blocked {
                        (Value::Null, deadline_at)
                    } else {
                        let built = child.build_input(input, item, |_| None).unwrap();
                        let own = now + chrono::Duration::from_std(child.deadline).unwrap();
                        (built, own.min(deadline_at))
                    };
                    tasks.push(NewTask {
                        id: TaskId::new(),
                        agency,
                        service: child.service.clone(),
                        input: task_input,
                        required: child.required,
                        deadline_at: task_deadline,
                        child: Some((child.id.clone(), index)),
                        blocked,
                    });
                }
            }
            tasks
        })
    }
}

/// The task of `new` for the check `child` (and element `index` of a `forEach` child).
pub(crate) fn task_of(new: &NewRequest, child: &str, index: Option<u32>) -> TaskId {
    new.tasks
        .iter()
        .find(|t| t.child == Some((child.to_owned(), index)))
        .unwrap_or_else(|| panic!("no task for `{child}` {index:?}"))
        .id
}

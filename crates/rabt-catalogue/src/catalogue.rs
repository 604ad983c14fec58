//! The catalogue: `catalogue.json` checked against its schema, every schema compiled
//! once, composites checked against the services they call.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rabt_core::{Agency, RetryPolicy, ServiceName};
use serde_json::Value;

use crate::composite::{self, Known};
use crate::error::CatalogueError;
use crate::file::{CatalogueFile, ServiceEntry};
use crate::schema::{Documents, Schema};
use crate::service::{Service, ServiceHead, ServiceKind};
use crate::violation::Violation;
use crate::{CATALOGUE_FILE, CATALOGUE_SCHEMA_FILE};

/// Every service Rabt offers, with compiled schemas. Load it once and share it.
#[derive(Debug)]
pub struct Catalogue {
    services: BTreeMap<String, Service>,
    callbacks: BTreeMap<Agency, Schema>,
    documents: Arc<Documents>,
}

impl Catalogue {
    /// The catalogue of the `schemas/` folder embedded at compile time.
    pub fn bundled() -> Result<Catalogue, CatalogueError> {
        Catalogue::from_files(crate::bundled_files().iter().copied())
    }

    /// A catalogue from files given as `(path under schemas/, contents)`: `catalogue.json`,
    /// `catalogue.schema.json` and every schema they name or refer to.
    pub fn from_files<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Catalogue, CatalogueError> {
        let mut parsed = BTreeMap::new();
        for (path, text) in files {
            let value: Value =
                serde_json::from_str(text).map_err(|source| CatalogueError::Json {
                    file: path.to_owned(),
                    source,
                })?;
            parsed.insert(path, value);
        }
        let catalogue =
            parsed
                .remove(CATALOGUE_FILE)
                .ok_or_else(|| CatalogueError::MissingFile {
                    file: CATALOGUE_FILE.to_owned(),
                })?;
        let documents = Arc::new(Documents::new(parsed.iter().map(|(p, v)| (*p, v)))?);
        Schema::compile(&documents, CATALOGUE_SCHEMA_FILE)?
            .validate(&catalogue)
            .map_err(|violations| CatalogueError::Shape { violations })?;
        let file: CatalogueFile =
            serde_path_to_error::deserialize(&catalogue).map_err(|e| CatalogueError::Parse {
                path: e.path().to_string(),
                source: e.into_inner(),
            })?;
        load(file, &documents)
    }

    /// The service of this name.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.get(name)
    }

    /// Checks `output` against the output schema of `service`; `None` when the catalogue
    /// has no such service. In the shape the conformance kit's `output_validator` takes,
    /// so that every adapter's tests validate outputs the same way.
    pub fn check_output(
        &self,
        service: &ServiceName,
        output: &Value,
    ) -> Option<Result<(), Vec<Violation>>> {
        self.service(service.as_str())
            .map(|service| service.validate_output(output))
    }

    /// Every service, sorted by name.
    pub fn services(&self) -> impl Iterator<Item = &Service> {
        self.services.values()
    }

    /// Replaces a deadline, for operators whose agencies are slower or faster than the
    /// catalogue assumes (and for tests): `key` is a service name, or
    /// `<composite>/<child>` for one check of a composite. A composite's own deadline
    /// stays an upper bound for its checks.
    pub fn set_deadline(&mut self, key: &str, deadline: Duration) -> Result<(), CatalogueError> {
        let unknown = || CatalogueError::UnknownDeadline {
            key: key.to_owned(),
        };
        if deadline.is_zero() {
            return Err(unknown());
        }
        match key.split_once('/') {
            None => self.services.get_mut(key).ok_or_else(unknown)?.deadline = deadline,
            Some((composite, child)) => {
                let service = self.services.get_mut(composite).ok_or_else(unknown)?;
                let ServiceKind::Composite(spec) = &mut service.kind else {
                    return Err(unknown());
                };
                spec.child_mut(child).ok_or_else(unknown)?.deadline = deadline;
            }
        }
        Ok(())
    }

    /// The schema of the callback bodies an agency POSTs to `/v1/callbacks/{agency}`;
    /// `None` for an agency that answers synchronously.
    pub fn callback_schema(&self, agency: Agency) -> Option<&Schema> {
        self.callbacks.get(&agency)
    }

    /// Every service's input and output schema and every callback schema, with all
    /// they refer to, as flat OpenAPI components named by
    /// [`openapi::component_name`](crate::openapi::component_name).
    pub fn openapi_components(&self) -> BTreeMap<String, Value> {
        let roots: Vec<&str> = self
            .services
            .values()
            .flat_map(|s| [s.input().file(), s.output().file()])
            .chain(self.callbacks.values().map(Schema::file))
            .collect();
        crate::openapi::components(&self.documents, &roots)
    }
}

fn load(file: CatalogueFile, documents: &Arc<Documents>) -> Result<Catalogue, CatalogueError> {
    let mut known = BTreeMap::new();
    for entry in &file.services {
        let facts = Known {
            input: entry.input.clone(),
            output: entry.output.clone(),
            composite: entry.composite.is_some(),
        };
        if known.insert(entry.name.to_string(), facts).is_some() {
            return Err(CatalogueError::DuplicateService {
                service: entry.name.clone(),
            });
        }
    }
    let mut callbacks = BTreeMap::new();
    for (agency, path) in &file.callbacks {
        callbacks.insert(*agency, Schema::compile(documents, path)?);
    }
    let mut services = BTreeMap::new();
    for entry in file.services {
        let service = build_service(entry, &known, documents)?;
        if let ServiceKind::Agency { agency, mode } = &service.kind
            && *mode == crate::Mode::Callback
            && !callbacks.contains_key(agency)
        {
            return Err(CatalogueError::MissingCallbackSchema {
                service: service.name.clone(),
                agency: *agency,
            });
        }
        services.insert(service.name.to_string(), service);
    }
    Ok(Catalogue {
        services,
        callbacks,
        documents: Arc::clone(documents),
    })
}

fn build_service(
    entry: ServiceEntry,
    known: &BTreeMap<String, Known>,
    documents: &Arc<Documents>,
) -> Result<Service, CatalogueError> {
    let input = Schema::compile(documents, &entry.input)?;
    let output = Schema::compile(documents, &entry.output)?;
    let head = ServiceHead {
        name: entry.name,
        title: entry.title,
        description: entry.description,
        deadline: Duration::from_millis(entry.deadline_ms),
    };
    // catalogue.schema.json admits either agency + mode + retry or composite, so one
    // of the two arms below always matches; the last is a guard, not a case.
    let (kind, retry) = match (entry.agency, entry.mode, entry.retry, entry.composite) {
        (Some(agency), Some(mode), Some(retry), None) => {
            (ServiceKind::Agency { agency, mode }, retry)
        }
        (None, None, None, Some(declaration)) => {
            let cx = composite::Context {
                input: &entry.input,
                deadline: head.deadline,
                services: known,
                documents,
            };
            let spec = composite::build(declaration, &cx).map_err(|problem| {
                CatalogueError::Composite {
                    service: head.name.clone(),
                    problem,
                }
            })?;
            (ServiceKind::Composite(spec), single_attempt())
        }
        _ => {
            return Err(CatalogueError::Composite {
                service: head.name,
                problem: "a service has either `agency` + `mode` + `retry`, or `composite`"
                    .to_owned(),
            });
        }
    };
    Ok(Service::new(head, kind, retry, input, output))
}

/// The policy of a composite, which is never retried itself.
fn single_attempt() -> RetryPolicy {
    let ms = Duration::from_millis(1);
    // One attempt, 1 ms ≤ 1 ms and a multiplier of 1 satisfy every rule of try_new.
    RetryPolicy::try_new(1, ms, ms, 1.0).unwrap_or_default()
}

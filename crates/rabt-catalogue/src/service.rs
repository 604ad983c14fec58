//! One service of the catalogue: who serves it, how long it may take, how it is
//! retried, and its compiled input and output schemas.

use std::time::Duration;

use rabt_core::{Agency, RetryPolicy, ServiceName};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::composite::CompositeSpec;
use crate::schema::Schema;
use crate::violation::Violation;

/// A text in English and Arabic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Localized {
    /// English.
    pub en: String,
    /// Arabic.
    pub ar: String,
}

/// How an agency answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// In the response to the call.
    Sync,
    /// It accepts the call with a reference and answers later at
    /// `POST /v1/callbacks/{agency}`.
    Callback,
}

impl Mode {
    /// The name in `catalogue.json`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Sync => "sync",
            Mode::Callback => "callback",
        }
    }
}

/// Who answers a service.
#[derive(Debug)]
pub enum ServiceKind {
    /// One agency, through its adapter.
    Agency {
        /// The agency.
        agency: Agency,
        /// Whether it answers in the call or by callback.
        mode: Mode,
    },
    /// Other services of the catalogue, as the declaration says.
    Composite(CompositeSpec),
}

/// A service of the catalogue.
#[derive(Debug)]
pub struct Service {
    /// E.g. `post.address.verify`.
    pub name: ServiceName,
    /// A short name for people.
    pub title: Localized,
    /// What the service answers.
    pub description: Localized,
    /// An agency's service or a composite.
    pub kind: ServiceKind,
    /// From acceptance until the answer is due; a later answer is recorded and shown
    /// but does not change the result.
    pub deadline: Duration,
    /// How calls to the agency are retried after transient failures. A composite is
    /// never retried itself (its policy allows one attempt); each child follows its
    /// own service's policy.
    pub retry: RetryPolicy,
    /// The input schema as written (with `$ref`s to `../common.json`).
    pub input_schema: Value,
    /// The output schema as written.
    pub output_schema: Value,
    input: Schema,
    output: Schema,
}

impl Service {
    pub(crate) fn new(
        head: ServiceHead,
        kind: ServiceKind,
        retry: RetryPolicy,
        input: Schema,
        output: Schema,
    ) -> Service {
        Service {
            name: head.name,
            title: head.title,
            description: head.description,
            kind,
            deadline: head.deadline,
            retry,
            input_schema: input.document().clone(),
            output_schema: output.document().clone(),
            input,
            output,
        }
    }

    /// Writes a cooperative's input in its canonical spelling (see [`Schema::normalize`]):
    /// call it before [`Service::validate_input`].
    pub fn normalize_input(&self, input: &mut Value) {
        self.input.normalize(input);
    }

    /// Checks a cooperative's input; on failure, every offending field.
    pub fn validate_input(&self, input: &Value) -> Result<(), Vec<Violation>> {
        self.input.validate(input)
    }

    /// Checks an answer before it is recorded; on failure, every offending field.
    pub fn validate_output(&self, output: &Value) -> Result<(), Vec<Violation>> {
        self.output.validate(output)
    }

    /// The agency that serves the service; `None` for a composite.
    pub fn agency(&self) -> Option<Agency> {
        match &self.kind {
            ServiceKind::Agency { agency, .. } => Some(*agency),
            ServiceKind::Composite(_) => None,
        }
    }

    /// How the agency answers; `None` for a composite.
    pub fn mode(&self) -> Option<Mode> {
        match &self.kind {
            ServiceKind::Agency { mode, .. } => Some(*mode),
            ServiceKind::Composite(_) => None,
        }
    }

    /// The composite's declaration; `None` for an agency's service.
    pub fn composite(&self) -> Option<&CompositeSpec> {
        match &self.kind {
            ServiceKind::Composite(spec) => Some(spec),
            ServiceKind::Agency { .. } => None,
        }
    }

    /// The compiled input schema (its file, its bundled form).
    pub fn input(&self) -> &Schema {
        &self.input
    }

    /// The compiled output schema.
    pub fn output(&self) -> &Schema {
        &self.output
    }
}

/// The fields every service has, whatever its kind.
#[derive(Debug)]
pub(crate) struct ServiceHead {
    pub(crate) name: ServiceName,
    pub(crate) title: Localized,
    pub(crate) description: Localized,
    pub(crate) deadline: Duration,
}

//! The contract between Rabt and one agency: the [`Adapter`] trait, what an adapter may
//! answer ([`Answer`]) and how it may fail ([`AdapterError`], which says whether a retry
//! can help).
//!
//! Adapters (one crate each under `adapters/`) depend on this crate and `rabt-core` only:
//! never on the queue, the store or the API. The worker hands an adapter one
//! [`ServiceCall`] at a time and records what comes back.
//!
//! Layout:
//! - this file: the trait and its types.
//! - [`http`]: the shared HTTP client (reqwest + rustls, timeouts), what an adapter's
//!   configuration is checked into (a base URL, header credentials), one exchange with
//!   an agency (the task id, trace and timeout on every request; the whole answer read),
//!   and the classification of transport failures and status codes.
//! - [`agency`]: what every adapter's constructor does (a checked base URL, one HTTP
//!   client, an API key in a header), its [`ConfigError`], and the constructor's tests
//!   ([`constructor_tests!`]).
//! - [`registry`]: how an adapter crate describes its agency to the binary (services,
//!   credentials, how its adapter is built from the deployment's settings).
//! - [`oauth2`]: OAuth2 client credentials: a token cache shared by an adapter's tasks,
//!   refreshed shortly before expiry and once on a 401, one fetch for all concurrent
//!   callers.
//!
//! The sandbox world, the simulators' framework and the conformance kit are not here:
//! they are `rabt-sandbox`, which production code never depends on.

#![forbid(unsafe_code)]

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use rabt_core::{Agency, Outcome, ServiceName, TaskId};

pub mod agency;
pub mod http;
pub mod oauth2;
pub mod registry;

pub use agency::{AgencyClient, ApiKeyClient, ApiKeyConfig, ConfigError};
pub use registry::{Registration, Settings};

/// A boxed future, so that adapters can live behind `Arc<dyn Adapter>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One call to one service of an agency, on behalf of one task.
#[derive(Debug, Clone, Copy)]
pub struct ServiceCall<'a> {
    /// The task being run; adapters send it to the agency as their request id where the
    /// protocol has one, so the agency can deduplicate a retried call.
    pub task: TaskId,
    /// Which service of this adapter's agency.
    pub service: &'a ServiceName,
    /// The task's input, already valid against the service's input schema.
    pub input: &'a serde_json::Value,
    /// 1 for the first call, 2 for the first retry…
    pub attempt: u32,
    /// How long this call may take, at most; the adapter's HTTP timeout.
    pub timeout: Duration,
    /// The W3C `traceparent` of the task, to forward to the agency.
    pub traceparent: Option<&'a str>,
}

/// What an agency answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A final answer.
    Final {
        /// `Ok`, `NotFound`, `Mismatch` or `InvalidInput`: a definite answer.
        outcome: Outcome,
        /// The service's output, valid against its output schema (`null` when the
        /// agency said nothing more than the outcome).
        data: serde_json::Value,
        /// The agency's own reference for this call (Yakeen `logId`, Qiwa
        /// `TransactionId`…), for support cases.
        upstream_ref: Option<String>,
    },
    /// The agency accepted the call and will answer by callback, quoting
    /// `upstream_ref`.
    Submitted {
        /// The agency's reference, which its callback will quote.
        upstream_ref: String,
    },
}

/// Why a call did not produce an [`Answer`].
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// The agency is unavailable or overloaded (5xx, 429, connection refused or reset).
    /// Retrying later can help; `retry_after` is the agency's own hint.
    #[error("agency unavailable: {reason}")]
    Unavailable {
        /// What happened, for logs (never contains credentials or personal data).
        reason: String,
        /// The agency's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// No answer within the call's timeout. Retrying can help.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The agency answered something that does not follow its own protocol. Retrying
    /// can help (a broken node behind a load balancer), but rarely does.
    #[error("malformed answer from the agency: {0}")]
    Malformed(String),
    /// The agency refused the call for a reason a retry cannot fix: it rejected our
    /// credentials, or it rejected the input although our schema accepted it.
    #[error("agency refused the call ({outcome}): {reason}")]
    Refused {
        /// `InvalidInput` when the agency rejected the input, `UpstreamError` for
        /// anything else (credentials, permissions, unknown operation).
        outcome: Outcome,
        /// What the agency said.
        reason: String,
    },
    /// The adapter does not serve this service. A wiring bug, never retried.
    #[error("service {0} is not served by this adapter")]
    UnsupportedService(ServiceName),
    /// A callback came for an agency that never calls back, or its body is not what the
    /// agency's callbacks look like (after Rabt's schema check passed). Never retried.
    #[error("unusable callback: {0}")]
    BadCallback(String),
}

impl AdapterError {
    /// A refusal of the input ([`AdapterError::Refused`] with `InvalidInput`): what an
    /// adapter answers for an input its agency cannot take, before calling it.
    pub fn invalid_input(reason: impl Into<String>) -> Self {
        AdapterError::Refused {
            outcome: Outcome::InvalidInput,
            reason: reason.into(),
        }
    }

    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            AdapterError::Unavailable { .. }
            | AdapterError::Timeout(_)
            | AdapterError::Malformed(_) => true,
            AdapterError::Refused { .. }
            | AdapterError::UnsupportedService(_)
            | AdapterError::BadCallback(_) => false,
        }
    }

    /// The agency's `Retry-After` hint, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            AdapterError::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The outcome a task ends with when this is its last error.
    pub fn final_outcome(&self) -> Outcome {
        match self {
            AdapterError::Timeout(_) => Outcome::Timeout,
            AdapterError::Refused { outcome, .. } => *outcome,
            AdapterError::Unavailable { .. }
            | AdapterError::Malformed(_)
            | AdapterError::UnsupportedService(_)
            | AdapterError::BadCallback(_) => Outcome::UpstreamError,
        }
    }

    /// A short, stable label for metrics and the audit log.
    pub fn kind(&self) -> &'static str {
        match self {
            AdapterError::Unavailable { .. } => "unavailable",
            AdapterError::Timeout(_) => "timeout",
            AdapterError::Malformed(_) => "malformed",
            AdapterError::Refused { .. } => "refused",
            AdapterError::UnsupportedService(_) => "unsupported_service",
            AdapterError::BadCallback(_) => "bad_callback",
        }
    }
}

/// One agency, as Rabt's worker sees it: it serves some services and answers calls.
///
/// An implementation translates a [`ServiceCall`] into the agency's own wire protocol
/// and its answer back into an [`Answer`], classifying every failure into an
/// [`AdapterError`]. It holds no state about tasks: the worker records outcomes, and a
/// retried call must be safe to make again.
pub trait Adapter: Send + Sync + fmt::Debug + 'static {
    /// The agency this adapter speaks to.
    fn agency(&self) -> Agency;

    /// The catalogue services it serves, e.g. `["post.address.verify"]`.
    fn services(&self) -> &'static [&'static str];

    /// Calls the agency once.
    fn call<'a>(&'a self, call: ServiceCall<'a>) -> BoxFuture<'a, Result<Answer, AdapterError>>;

    /// Reads a callback the agency sent to `POST /v1/callbacks/{agency}`: the answers it
    /// carries, each for the agency reference an earlier [`Answer::Submitted`] returned.
    /// Rabt has already checked the signature, the timestamp, replays and the agency's
    /// callback schema. An agency that never calls back answers
    /// [`AdapterError::BadCallback`] (explicitly: there is no default).
    fn callback(&self, body: &serde_json::Value) -> Result<Vec<CallbackAnswer>, AdapterError>;
}

/// One answer carried by an agency's callback.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackAnswer {
    /// The reference the agency gave when it accepted the call.
    pub upstream_ref: String,
    /// `Ok`, `NotFound`, `Mismatch` or `InvalidInput`.
    pub outcome: Outcome,
    /// The service's output, valid against its output schema.
    pub data: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_errors_and_their_final_outcomes() {
        let unavailable = AdapterError::Unavailable {
            reason: "503".into(),
            retry_after: Some(Duration::from_secs(3)),
            source: None,
        };
        assert!(unavailable.is_retryable());
        assert_eq!(unavailable.retry_after(), Some(Duration::from_secs(3)));
        assert_eq!(unavailable.final_outcome(), Outcome::UpstreamError);

        let timeout = AdapterError::Timeout(Duration::from_secs(1));
        assert!(timeout.is_retryable());
        assert_eq!(timeout.final_outcome(), Outcome::Timeout);

        let refused = AdapterError::invalid_input("bad id");
        assert!(matches!(
            &refused,
            AdapterError::Refused {
                outcome: Outcome::InvalidInput,
                reason,
            } if reason == "bad id"
        ));
        assert!(!refused.is_retryable());
        assert_eq!(refused.final_outcome(), Outcome::InvalidInput);
    }
}

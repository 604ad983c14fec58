//! The Ministry of Health's health certificates of food-handling workers (MOH / Balady),
//! as Rabt's `health.certificates.verify` service.
//!
//! The ministry works by batch and answers later. The adapter submits one
//! establishment licence and its workers (`POST /api/v1/health-certificates/batches`,
//! REST JSON, `X-API-Key` header, the task id as `X-Request-Id`); the ministry accepts
//! with `202` and a reference, and the adapter answers [`Answer::Submitted`] with that
//! reference. When the ministry has checked every worker it POSTs one signed callback
//! for the whole batch to Rabt's `/v1/callbacks/health` (schemas/callbacks/health.json);
//! Rabt checks the signature and the schema and hands the body to
//! [`Adapter::callback`], which maps it to one [`CallbackAnswer`] for that reference.
//!
//! Outcomes:
//! - every worker holds a certificate for the establishment that is VALID, FIT and not
//!   expired on the day the ministry completed the batch → `OK`, `allValid: true`;
//! - some worker has no certificate there, or an EXPIRED, CANCELLED, UNFIT or past-due
//!   one → `MISMATCH`, `allValid: false`, with every worker's detail;
//! - the ministry knows no such establishment licence: it refuses the batch at once
//!   (`404 ESTABLISHMENT_NOT_FOUND`) → a final `NOT_FOUND` without a callback.
//!
//! Errors: 400 (and 413) for a batch it refuses, 401 / 403 for the key, 409 for a
//! request id reused with another batch, 429 with `Retry-After`, 5xx when it fails;
//! bodies `{"code", "messageEn", "messageAr"}`. A batch holds at most
//! [`MAX_WORKERS`] workers.
//!
//! This crate depends on `rabt-core`, `rabt-adapter` and (for its simulator)
//! `rabt-sandbox` only: never on the queue, the store or the API.
//!
//! Layout:
//! - this file: the adapter, its configuration and its error.
//! - [`batch`](crate::batch) (private): the service's input as a batch.
//! - [`client`](crate::client) (private): the HTTP call and the mapping of the
//!   ministry's status codes.
//! - [`wire`]: the ministry's own types, named as it names them, and the translation of
//!   its callback.
//! - [`output`]: the service's output, as the catalogue's schema describes it.
//! - [`simulator`]: the ministry as an axum app serving the sandbox world, calling back
//!   through a [`rabt_sandbox::callback::CallbackSender`], with fault knobs.

#![forbid(unsafe_code)]

use std::sync::Arc;

use rabt_adapter::registry::Credential;
use rabt_adapter::{
    Adapter, AdapterError, Answer, ApiKeyClient, ApiKeyConfig, BoxFuture, CallbackAnswer,
    ConfigError, Registration, ServiceCall, Settings,
};
use rabt_core::{Agency, Outcome};
use reqwest::header::HeaderName;
use serde::Deserialize;

mod batch;
mod client;
pub mod output;
pub mod simulator;
pub mod wire;

pub use batch::MAX_WORKERS;

use client::{API_KEY_HEADER, MohClient, Submission};
use wire::{BatchResult, MohBatchCallback};

/// The one service of this agency.
pub const CERTIFICATES_VERIFY: &str = "health.certificates.verify";

/// The services this adapter serves.
pub const SERVICES: &[&str] = &[CERTIFICATES_VERIFY];

/// How to reach the ministry: its API root (a simulator's in tests), its key (sent as
/// `X-API-Key`) and the longest one submission may take.
pub type HealthConfig = ApiKeyConfig;

/// What can go wrong in this crate besides a call's [`AdapterError`] and a
/// configuration's [`ConfigError`].
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// A field of the ministry's document breaks its own format.
    #[error("MOH's {field} is not {expected}: `{value}`")]
    Field {
        /// The ministry's name of the field.
        field: &'static str,
        /// What it should be.
        expected: &'static str,
        /// What it was (truncated; empty where it could be personal data).
        value: String,
    },
    /// The two calendars of a date name different days.
    #[error("MOH's {field} is {gregorian} in one calendar and {hijri} in the other")]
    DatesDisagree {
        /// The ministry's name of the date.
        field: &'static str,
        /// The Gregorian half.
        gregorian: String,
        /// The Hijri half.
        hijri: String,
    },
}

/// The adapter: the ministry's batch API behind `health.certificates.verify`.
#[derive(Debug)]
pub struct HealthAdapter {
    client: MohClient,
}

impl HealthAdapter {
    /// Validates the configuration and builds the client.
    pub fn new(config: HealthConfig) -> Result<Self, ConfigError> {
        let header = HeaderName::from_static(API_KEY_HEADER);
        let api = ApiKeyClient::new(Agency::Health, header, config)?;
        Ok(Self {
            client: MohClient { api },
        })
    }

    async fn certificates_verify(&self, call: ServiceCall<'_>) -> Result<Answer, AdapterError> {
        let batch = batch::Batch::parse(call.input)?;
        let ctx = self.client.api.context(&call);
        match self.client.submit(ctx, &batch.request()).await? {
            Submission::EstablishmentNotFound => Ok(Answer::Final {
                outcome: Outcome::NotFound,
                // The ministry said nothing about the workers: there is no output.
                data: serde_json::Value::Null,
                upstream_ref: None,
            }),
            Submission::Accepted(accepted) => {
                // An acceptance of another batch would be answered by a callback about
                // other workers.
                if accepted.establishment_license_number != batch.licence
                    || accepted.workers_count != batch.workers.len()
                {
                    return Err(AdapterError::Malformed(
                        "MOH accepted a batch other than the one submitted".to_owned(),
                    ));
                }
                Ok(Answer::Submitted {
                    upstream_ref: accepted.reference,
                })
            }
        }
    }
}

impl Adapter for HealthAdapter {
    fn agency(&self) -> Agency {
        Agency::Health
    }

    fn services(&self) -> &'static [&'static str] {
        SERVICES
    }

    fn call<'a>(&'a self, call: ServiceCall<'a>) -> BoxFuture<'a, Result<Answer, AdapterError>> {
        Box::pin(async move {
            match call.service.as_str() {
                CERTIFICATES_VERIFY => self.certificates_verify(call).await,
                _ => Err(AdapterError::UnsupportedService(call.service.clone())),
            }
        })
    }

    fn callback(&self, body: &serde_json::Value) -> Result<Vec<CallbackAnswer>, AdapterError> {
        callback_answer(body).map(|answer| vec![answer])
    }
}

/// Maps one callback body to the answer it carries: `OK` when every worker holds a
/// valid certificate, else `MISMATCH` (see the crate docs).
pub fn callback_answer(body: &serde_json::Value) -> Result<CallbackAnswer, AdapterError> {
    let callback = MohBatchCallback::deserialize(body)
        .map_err(|e| AdapterError::BadCallback(format!("not a MOH batch callback: {e}")))?;
    let result =
        BatchResult::try_from(callback).map_err(|e| AdapterError::BadCallback(e.to_string()))?;
    let data = serde_json::to_value(&result.output)
        .map_err(|e| AdapterError::BadCallback(format!("output not serialisable: {e}")))?;
    Ok(CallbackAnswer {
        upstream_ref: result.reference,
        outcome: result.outcome,
        data,
    })
}

/// The health agency, as the binary registers it.
#[derive(Debug, Clone, Copy)]
pub struct Health;

impl Registration for Health {
    fn agency(&self) -> Agency {
        Agency::Health
    }

    fn services(&self) -> &'static [&'static str] {
        SERVICES
    }

    fn uses_api_key(&self) -> bool {
        true
    }

    fn credentials(&self) -> &'static [Credential] {
        &[]
    }

    fn mutual_tls(&self) -> bool {
        false
    }

    fn adapter(&self, settings: &dyn Settings) -> Result<Arc<dyn Adapter>, ConfigError> {
        let config = ApiKeyConfig::from_settings(settings)?;
        Ok(Arc::new(HealthAdapter::new(config)?))
    }
}

#[cfg(test)]
mod tests;

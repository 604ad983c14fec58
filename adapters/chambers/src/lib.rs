//! The Federation of Saudi Chambers (FSC), as Rabt's `chambers.membership.verify`
//! service: is this establishment a member of a chamber of commerce, in which class,
//! since when and until when, and is the membership in force today?
//!
//! FSC's `GetCoCRecordByMemberShipID` is a SOAP operation that REGA's Apigee publishes as
//! REST and JSON: `GET /v1/fsc/coc-records?cocMemberChamberCity=1&cocMemberId=123456`,
//! answered with the SOAP result's own element names (see [`wire`]). The sandbox's FSC
//! also takes `cocMemberUnifiedNumber` for the service's unified-number form. Every call
//! goes over **mutual TLS** (the adapter presents a client certificate; FSC's server
//! certificate is checked against the configured CA) and carries a bearer token.
//!
//! Answers: a record is `OK` when its expiry is today or later (in Riyadh) and
//! `MISMATCH` with `valid: false` when it has expired — the membership exists but does
//! not hold, so a composite check that needs it fails; 404 with FSC's "no record"
//! exception is `NOT_FOUND`. Errors: 400 is the input; 401 and 403 the token or the
//! certificate; 404 with Apigee's envelope a wrong base URL; 405 and 415 a request
//! Apigee does not take; 429 (spike arrest) and 5xx are retried, honouring
//! `Retry-After`. A refused TLS handshake is a connection failure (retried), as for any
//! agency that cannot be reached.
//!
//! This crate depends on `rabt-core`, `rabt-adapter` and (for its simulator)
//! `rabt-sandbox` only: never on the queue, the store or the API.
//!
//! Layout:
//! - this file: the adapter, its configuration and its error.
//! - [`client`](crate::client) (private): the HTTP call and the mapping of FSC's
//!   statuses.
//! - [`query`]: the service's two input forms.
//! - [`wire`]: FSC's own types, named as FSC names them, and their translation.
//! - [`output`]: the service's output, as the catalogue's schema describes it.
//! - [`simulator`]: FSC as an axum app serving the sandbox world, with fault knobs.
//! - [`tls`]: the simulator's mutual-TLS server (rustls, client certificates required).
//! - [`pki`]: throwaway CAs and certificates, generated in memory for the sandbox.

#![forbid(unsafe_code)]

use std::io;
use std::time::Duration;

use chrono::NaiveDate;
use rabt_adapter::http::{
    BaseUrl, CallContext, ClientConfigError, ClientIdentity, HeaderSecret, HttpClientConfig,
    Secret, build_client,
};
use rabt_adapter::{Adapter, AdapterError, Answer, BoxFuture, CallbackAnswer, ServiceCall};
use rabt_core::{Agency, Outcome};
use reqwest::Url;

mod client;
pub mod output;
pub mod pki;
pub mod query;
pub mod simulator;
pub mod tls;
pub mod wire;

use client::{FscClient, Lookup};
use output::{MembershipOutput, MembershipRecord};
use query::MembershipQuery;

/// The one service of this agency.
pub const MEMBERSHIP_VERIFY: &str = "chambers.membership.verify";

/// The services this adapter serves.
pub const SERVICES: &[&str] = &[MEMBERSHIP_VERIFY];

/// How to reach FSC.
#[derive(Debug, Clone)]
pub struct ChambersConfig {
    /// FSC's gateway, `https://…` (the path `/v1/fsc/coc-records` is appended).
    pub base_url: Url,
    /// The bearer token FSC's gateway issued to Rabt.
    pub token: Secret,
    /// Rabt's client certificate and key, which FSC requires.
    pub client_identity: ClientIdentity,
    /// CAs (PEM bundles) trusted for FSC's server certificate besides the system's: FSC's
    /// private CA, or the sandbox's.
    pub server_ca_pem: Vec<Vec<u8>>,
    /// The longest one call may take; a task's own timeout may be shorter.
    pub timeout: Duration,
}

/// What can go wrong in this crate besides a call's [`AdapterError`].
#[derive(Debug, thiserror::Error)]
pub enum ChambersError {
    /// The base URL cannot be FSC's.
    #[error("the chambers base URL must be https without query or fragment, got `{0}`")]
    BaseUrl(String),
    /// The token is empty or cannot travel in an HTTP header.
    #[error("the chambers token must be non-empty visible ASCII")]
    Token,
    /// The HTTP client could not be built (a bad client certificate or CA bundle).
    #[error(transparent)]
    Client(#[from] ClientConfigError),
    /// A field of FSC's answer breaks its own format.
    #[error("FSC's {field} is not {expected}: `{value}`")]
    Field {
        /// FSC's name of the field.
        field: &'static str,
        /// What it should be.
        expected: &'static str,
        /// What it was (truncated).
        value: String,
    },
    /// A certificate or key of the simulator's TLS server is not PEM.
    #[error("the {what} is not valid PEM")]
    Pem {
        /// Which one.
        what: &'static str,
        /// What the parser said.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// A PEM bundle of the simulator's TLS server holds no certificate.
    #[error("the {0} bundle holds no certificate")]
    NoCertificate(&'static str),
    /// rustls refused the simulator's certificate, key or CA.
    #[error("the simulator's TLS configuration is invalid")]
    Tls(#[source] rustls::Error),
    /// The verifier of client certificates could not be built.
    #[error("the simulator's client CA cannot verify certificates")]
    ClientVerifier(#[source] rustls::server::VerifierBuilderError),
    /// A sandbox certificate could not be generated.
    #[error("a sandbox certificate could not be generated")]
    Certificate(#[source] rcgen::Error),
    /// The simulator could not listen.
    #[error("the chambers simulator could not listen")]
    Listen(#[source] io::Error),
}

/// The adapter: FSC's chamber of commerce records behind `chambers.membership.verify`.
#[derive(Debug)]
pub struct ChambersAdapter {
    client: FscClient,
    timeout: Duration,
}

impl ChambersAdapter {
    /// Validates the configuration and builds the mutual-TLS client.
    pub fn new(config: ChambersConfig) -> Result<Self, ChambersError> {
        // Over plain HTTP the client certificate would never be presented, and the
        // token would travel in clear.
        let base = BaseUrl::https_only(config.base_url)
            .map_err(|bad| ChambersError::BaseUrl(bad.into_shown()))?;
        // Stricter than a header allows: a token is one word of visible ASCII.
        let token = config.token.expose();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ChambersError::Token);
        }
        let bearer = HeaderSecret::bearer(&config.token).ok_or(ChambersError::Token)?;
        let http = build_client(&HttpClientConfig {
            identity: Some(config.client_identity),
            extra_root_certs_pem: config.server_ca_pem,
            ..HttpClientConfig::with_timeout(config.timeout)
        })?;
        Ok(Self {
            client: FscClient { http, base, bearer },
            timeout: config.timeout,
        })
    }

    async fn membership_verify(&self, call: ServiceCall<'_>) -> Result<Answer, AdapterError> {
        let query = MembershipQuery::parse(call.input)?;
        let ctx = CallContext::of(&call, self.timeout);
        // reqwest's timeout covers connecting, the handshake and the body; this bound
        // keeps the promise whatever the client stack does.
        let lookup = ctx.bound(self.client.coc_record(ctx, &query)).await?;
        answer(lookup, &query, riyadh_today())
    }
}

/// Today's date in Riyadh (UTC+3 all year: the Kingdom keeps no daylight saving time),
/// the day a membership's validity is judged on.
fn riyadh_today() -> NaiveDate {
    (chrono::Utc::now() + chrono::TimeDelta::hours(3)).date_naive()
}

/// The answer to `query` from what FSC said, judged on `today`: `OK` for a membership in
/// force, `MISMATCH` for an expired one, `NOT_FOUND` for none.
pub(crate) fn answer(
    lookup: Lookup,
    query: &MembershipQuery,
    today: NaiveDate,
) -> Result<Answer, AdapterError> {
    let record = match lookup {
        Lookup::NoRecord => {
            return final_answer(Outcome::NotFound, &MembershipOutput::not_found());
        }
        Lookup::Found(response) => MembershipRecord::try_from(response.result)
            .map_err(|e| AdapterError::Malformed(e.to_string()))?,
    };
    let record = answers_the_query(record, query)?;
    let output = MembershipOutput::found(record, today);
    let outcome = if output.valid == Some(true) {
        Outcome::Ok
    } else {
        Outcome::Mismatch
    };
    final_answer(outcome, &output)
}

/// The record, if it is the one asked for (FSC answering about another membership is a
/// broken answer, not an answer), with the unified number asked when FSC does not say.
fn answers_the_query(
    mut record: MembershipRecord,
    query: &MembershipQuery,
) -> Result<MembershipRecord, AdapterError> {
    let same = match query {
        MembershipQuery::ByUnifiedNumber(asked) => match &record.unified_number {
            Some(said) => said == asked,
            None => {
                record.unified_number = Some(asked.clone());
                true
            }
        },
        MembershipQuery::ByMembership { chamber, number } => {
            // FSC may pad membership numbers with zeros, or not.
            let digits = |n: &str| n.trim_start_matches('0').to_owned();
            record.chamber.code == *chamber && digits(&record.membership_number) == digits(number)
        }
    };
    if !same {
        return Err(AdapterError::Malformed(
            "FSC answered about another membership".to_owned(),
        ));
    }
    Ok(record)
}

fn final_answer(outcome: Outcome, output: &MembershipOutput) -> Result<Answer, AdapterError> {
    let data = serde_json::to_value(output)
        .map_err(|e| AdapterError::Malformed(format!("the output could not be written: {e}")))?;
    Ok(Answer::Final {
        outcome,
        data,
        upstream_ref: None,
    })
}

impl Adapter for ChambersAdapter {
    fn agency(&self) -> Agency {
        Agency::Chambers
    }

    fn services(&self) -> &'static [&'static str] {
        SERVICES
    }

    fn callback(&self, _body: &serde_json::Value) -> Result<Vec<CallbackAnswer>, AdapterError> {
        Err(AdapterError::BadCallback(
            "FSC answers synchronously and never calls back".to_owned(),
        ))
    }

    fn call<'a>(&'a self, call: ServiceCall<'a>) -> BoxFuture<'a, Result<Answer, AdapterError>> {
        Box::pin(async move {
            match call.service.as_str() {
                MEMBERSHIP_VERIFY => self.membership_verify(call).await,
                _ => Err(AdapterError::UnsupportedService(call.service.clone())),
            }
        })
    }
}

#[cfg(test)]
#[path = "lib_tests.rs"]
mod tests;

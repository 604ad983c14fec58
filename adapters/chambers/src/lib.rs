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
//! - [`simulator`]: FSC as an axum app serving the sandbox world, with fault knobs
//!   (served over mutual TLS by [`rabt_sandbox::tls`]).

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use rabt_adapter::http::{ClientIdentity, HeaderSecret, HttpClientConfig, Secret};
use rabt_adapter::registry::{Credential, MUTUAL_TLS_FILES, Registration, Settings};
use rabt_adapter::{
    Adapter, AdapterError, AgencyClient, Answer, BoxFuture, CallbackAnswer, ConfigError,
    ServiceCall,
};
use rabt_core::{Agency, Outcome};
use reqwest::Url;

mod client;
pub mod output;
pub mod query;
pub mod simulator;
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

/// What can go wrong in this crate besides a call's [`AdapterError`] and a
/// configuration's [`ConfigError`].
#[derive(Debug, thiserror::Error)]
pub enum ChambersError {
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
}

/// The adapter: FSC's chamber of commerce records behind `chambers.membership.verify`.
#[derive(Debug)]
pub struct ChambersAdapter {
    client: FscClient,
}

impl ChambersAdapter {
    /// Validates the configuration and builds the mutual-TLS client.
    pub fn new(config: ChambersConfig) -> Result<Self, ConfigError> {
        let agency = Agency::Chambers;
        let token = ConfigError::Credential {
            agency,
            name: "token",
        };
        // Over plain HTTP the client certificate would never be presented, and the
        // token would travel in clear.
        let client = AgencyClient::https_only(
            agency,
            config.base_url,
            HttpClientConfig {
                identity: Some(config.client_identity),
                extra_root_certs_pem: config.server_ca_pem,
                ..HttpClientConfig::with_timeout(config.timeout)
            },
        )?;
        // Stricter than a header allows: a token is one word of visible ASCII.
        let word = config.token.expose();
        if word.is_empty() || !word.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(token);
        }
        let bearer = HeaderSecret::bearer(&config.token).ok_or(token)?;
        Ok(Self {
            client: FscClient {
                agency: client,
                bearer,
            },
        })
    }

    async fn membership_verify(&self, call: ServiceCall<'_>) -> Result<Answer, AdapterError> {
        let query = MembershipQuery::parse(call.input)?;
        let ctx = self.client.agency.context(&call);
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

/// The chambers agency, as the binary registers it.
#[derive(Debug, Clone, Copy)]
pub struct Chambers;

impl Registration for Chambers {
    fn agency(&self) -> Agency {
        Agency::Chambers
    }

    fn services(&self) -> &'static [&'static str] {
        SERVICES
    }

    fn uses_api_key(&self) -> bool {
        // The bearer token FSC's gateway issued.
        true
    }

    fn credentials(&self) -> &'static [Credential] {
        &MUTUAL_TLS_FILES
    }

    fn mutual_tls(&self) -> bool {
        true
    }

    fn adapter(&self, settings: &dyn Settings) -> Result<Arc<dyn Adapter>, ConfigError> {
        let tls = settings.mutual_tls()?;
        Ok(Arc::new(ChambersAdapter::new(ChambersConfig {
            base_url: settings.url().clone(),
            token: settings.api_key()?,
            client_identity: tls.identity,
            server_ca_pem: vec![tls.server_ca_pem],
            timeout: settings.timeout(),
        })?))
    }
}

#[cfg(test)]
mod tests;

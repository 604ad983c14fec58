//! `interior.identity.verify`: the input, the Yakeen operation it needs, and the answer.
//!
//! Outcomes: Yakeen's result is `OK`; fault 1 (no such ID) is `NOT_FOUND` with
//! `{"found": false}`; fault 2 (birth month) is `MISMATCH` with `{"found": true,
//! "birthDateMatches": false}` and no personal data. When `expectedNameAr` is given
//! and does not match the registered Arabic name (see [`crate::names`]), the answer is
//! `MISMATCH` with the full record and `expectedNameMatches: false`: the caller has
//! shown it knows the ID and the birth month, which is what Yakeen itself asks before
//! it gives the name, so the record tells it nothing it could not ask for without a
//! name, and lets it correct its own. `expectedNameMatches` is left out of the
//! `NOT_FOUND` and birth-month `MISMATCH` answers: Yakeen gave no name to compare.

use rabt_adapter::http::CallContext;
use rabt_adapter::{AdapterError, Answer};
use rabt_core::{BirthMonth, Calendar, IdKind, NationalId, Outcome};
use serde::Deserialize;

use crate::client::YakeenClient;
use crate::fault::{self, FaultMeaning};
use crate::names;
use crate::output::{IdentityOutput, IdentityRecord};
use crate::wire::{
    AlienInfoByIqamaRequest, CitizenInfoRequest, GetAlienInfoByIqama, GetCitizenInfo,
    YakeenRequest, YakeenResponse,
};

/// The service's input, as the catalogue's input schema describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawInput {
    id_number: String,
    birth_date: BirthMonth,
    #[serde(default)]
    expected_name_ar: Option<String>,
}

/// A checked `interior.identity.verify` input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IdentityQuery {
    pub(crate) id: NationalId,
    pub(crate) birth: BirthMonth,
    pub(crate) expected_name_ar: Option<String>,
}

impl IdentityQuery {
    /// Parses an input the schema accepted; a disagreement is `INVALID_INPUT`.
    pub(crate) fn parse(input: &serde_json::Value) -> Result<Self, AdapterError> {
        let raw = RawInput::deserialize(input).map_err(|e| {
            AdapterError::invalid_input(format!("interior.identity.verify input: {e}"))
        })?;
        let id = NationalId::parse(&raw.id_number)
            .map_err(|e| AdapterError::invalid_input(e.to_string()))?;
        let expected = match id.kind() {
            IdKind::Citizen => Calendar::Hijri,
            IdKind::Resident => Calendar::Gregorian,
        };
        if raw.birth_date.calendar != expected {
            return Err(AdapterError::invalid_input(format!(
                "a {:?} ID takes a {expected:?} birth month",
                id.kind()
            )));
        }
        Ok(Self {
            id,
            birth: raw.birth_date,
            expected_name_ar: raw.expected_name_ar,
        })
    }

    /// The Yakeen operation for this ID, and the response element it answers with.
    pub(crate) fn request(
        &self,
        client: &YakeenClient,
        ctx: CallContext<'_>,
    ) -> (YakeenRequest, &'static str) {
        let credentials = client.credentials(ctx.task);
        let (id, month) = (self.id.as_str(), self.birth.mm_yyyy());
        match self.id.kind() {
            IdKind::Citizen => (
                YakeenRequest::CitizenInfo(GetCitizenInfo {
                    request: CitizenInfoRequest::new(id, &month, credentials),
                }),
                "getCitizenInfoResponse",
            ),
            IdKind::Resident => (
                YakeenRequest::AlienInfo(GetAlienInfoByIqama {
                    request: AlienInfoByIqamaRequest::new(id, &month, credentials),
                }),
                "getAlienInfoByIqamaResponse",
            ),
        }
    }

    /// Yakeen's reply as the task's answer.
    pub(crate) fn answer(
        &self,
        reply: YakeenResponse,
        retry_after: Option<std::time::Duration>,
    ) -> Result<Answer, AdapterError> {
        let record = match &reply {
            YakeenResponse::CitizenInfo(r) if self.id.kind() == IdKind::Citizen => {
                IdentityRecord::try_from(&r.result)
            }
            YakeenResponse::AlienInfo(r) if self.id.kind() == IdKind::Resident => {
                IdentityRecord::try_from(&r.result)
            }
            YakeenResponse::CitizenInfo(_) | YakeenResponse::AlienInfo(_) => {
                return Err(AdapterError::Malformed(
                    "Yakeen answered another operation's result".into(),
                ));
            }
            YakeenResponse::Fault(f) => {
                return match fault::meaning(f, retry_after) {
                    FaultMeaning::NotFound => Ok(final_answer(
                        Outcome::NotFound,
                        &IdentityOutput::not_found(),
                        None,
                    )),
                    FaultMeaning::BirthDateMismatch => Ok(final_answer(
                        Outcome::Mismatch,
                        &IdentityOutput::birth_date_mismatch(),
                        None,
                    )),
                    FaultMeaning::Error(err) => Err(err),
                };
            }
        }
        .map_err(|e| AdapterError::Malformed(e.to_string()))?;
        let name_matches = self
            .expected_name_ar
            .as_deref()
            .map(|expected| names::same_name(expected, &record.full_name().ar));
        let outcome = match name_matches {
            Some(false) => Outcome::Mismatch,
            Some(true) | None => Outcome::Ok,
        };
        let output = IdentityOutput::found(&record, name_matches);
        Ok(final_answer(outcome, &output, record.log_id.clone()))
    }
}

fn final_answer(outcome: Outcome, output: &IdentityOutput, upstream_ref: Option<String>) -> Answer {
    Answer::Final {
        outcome,
        data: output.to_json(),
        upstream_ref,
    }
}

/// Runs the one SOAP call of a query.
pub(crate) async fn run(
    client: &YakeenClient,
    ctx: CallContext<'_>,
    query: &IdentityQuery,
) -> Result<Answer, AdapterError> {
    let (request, expected) = query.request(client, ctx);
    let reply = client.soap(ctx, request, expected).await?;
    query.answer(reply.response, reply.retry_after)
}

#[cfg(test)]
mod tests {
    use rabt_sandbox::conformance::assert_refused;
    use serde_json::json;

    use super::*;

    #[test]
    fn inputs_parse_and_refusals_are_invalid_input() {
        let query = IdentityQuery::parse(&json!({
            "idNumber": "1000000008",
            "birthDate": {"calendar": "hijri", "year": 1400, "month": 7},
            "expectedNameAr": "محمد"
        }))
        .unwrap();
        assert_eq!(query.birth.mm_yyyy(), "07-1400");
        assert_eq!(query.expected_name_ar.as_deref(), Some("محمد"));
        for bad in [
            json!({"idNumber": "1000000009", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}}),
            json!({"idNumber": "1000000008", "birthDate": {"calendar": "gregorian", "year": 1980, "month": 5}}),
            json!({"idNumber": "2000000006", "birthDate": {"calendar": "hijri", "year": 1405, "month": 3}}),
            json!({"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400, "month": 13}}),
            json!({"idNumber": "1000000008"}),
            json!({"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}, "x": 1}),
        ] {
            let err = IdentityQuery::parse(&bad).unwrap_err();
            assert_refused(&err, Outcome::InvalidInput, bad);
        }
    }
}

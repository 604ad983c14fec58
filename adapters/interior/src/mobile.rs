//! `interior.mobile.verify`: is this mobile registered to the holder of this ID?
//!
//! Answered by Elm's Yakeen lite REST API (see [`crate::lite`]): it is the interface
//! Elm publishes for mobile ownership, and Yakeen's SOAP service has no such
//! operation. Outcomes: `isOwner: true` is `OK`; `isOwner: false` is `MISMATCH` (the
//! registry contradicts the input) with `{"isOwner": false, "mobile"}`; code 101 for
//! an ID that passed our check digit means Elm has no such person: `NOT_FOUND`, with no
//! data.

use rabt_adapter::http::CallContext;
use rabt_adapter::{AdapterError, Answer};
use rabt_core::{Mobile, NationalId, Outcome};
use serde::Deserialize;

use crate::client::{LiteAnswer, YakeenClient};
use crate::output::MobileOutput;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawInput {
    id_number: String,
    mobile: String,
}

/// A checked `interior.mobile.verify` input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MobileQuery {
    pub(crate) id: NationalId,
    pub(crate) mobile: Mobile,
}

impl MobileQuery {
    /// Parses an input the schema accepted; a disagreement is `INVALID_INPUT`.
    pub(crate) fn parse(input: &serde_json::Value) -> Result<Self, AdapterError> {
        let raw = RawInput::deserialize(input).map_err(|e| {
            AdapterError::invalid_input(format!("interior.mobile.verify input: {e}"))
        })?;
        Ok(Self {
            id: NationalId::parse(&raw.id_number)
                .map_err(|e| AdapterError::invalid_input(e.to_string()))?,
            mobile: Mobile::parse(&raw.mobile)
                .map_err(|e| AdapterError::invalid_input(e.to_string()))?,
        })
    }

    /// Yakeen lite's answer as the task's answer.
    pub(crate) fn answer(&self, answer: LiteAnswer) -> Result<Answer, AdapterError> {
        let (is_owner, reference_number, echoed) = match answer {
            LiteAnswer::UnknownId => {
                return Ok(Answer::Final {
                    outcome: Outcome::NotFound,
                    data: serde_json::Value::Null,
                    upstream_ref: None,
                });
            }
            LiteAnswer::Owner {
                is_owner,
                reference_number,
                mobile,
            } => (is_owner, reference_number, mobile),
        };
        // Elm echoes the nine digits after 966; anything else answers another question.
        let ours = self.mobile.subscriber_number();
        if echoed.trim() != ours {
            return Err(AdapterError::Malformed(
                "Yakeen lite echoed another mobile number".into(),
            ));
        }
        let output = MobileOutput {
            is_owner,
            mobile: self.mobile.as_str().to_owned(),
        };
        Ok(Answer::Final {
            outcome: if is_owner {
                Outcome::Ok
            } else {
                Outcome::Mismatch
            },
            data: output.to_json(),
            upstream_ref: Some(reference_number).filter(|r| !r.trim().is_empty()),
        })
    }
}

/// Runs the one call of a query.
pub(crate) async fn run(
    client: &YakeenClient,
    ctx: CallContext<'_>,
    query: &MobileQuery,
) -> Result<Answer, AdapterError> {
    let answer = client.owns_mobile(ctx, &query.id, &query.mobile).await?;
    query.answer(answer)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn query() -> MobileQuery {
        MobileQuery::parse(&json!({"idNumber": "1000000008", "mobile": "0512345678"})).unwrap()
    }

    #[test]
    fn inputs_parse_and_normalise() {
        assert_eq!(query().mobile.as_str(), "966512345678");
        for bad in [
            json!({"idNumber": "1000000009", "mobile": "0512345678"}),
            json!({"idNumber": "1000000008", "mobile": "0412345678"}),
            json!({"idNumber": "1000000008"}),
        ] {
            assert!(matches!(
                MobileQuery::parse(&bad),
                Err(AdapterError::Refused {
                    outcome: Outcome::InvalidInput,
                    ..
                })
            ));
        }
    }

    #[test]
    fn answers_map_to_outcomes() {
        let owner = |is_owner, mobile: &str| LiteAnswer::Owner {
            is_owner,
            reference_number: "ref-1".into(),
            mobile: mobile.into(),
        };
        assert_eq!(
            query().answer(owner(true, "512345678")).unwrap(),
            Answer::Final {
                outcome: Outcome::Ok,
                data: json!({"isOwner": true, "mobile": "966512345678"}),
                upstream_ref: Some("ref-1".into()),
            }
        );
        let Answer::Final { outcome, data, .. } =
            query().answer(owner(false, "512345678")).unwrap()
        else {
            panic!("not final");
        };
        assert_eq!(
            (outcome, data),
            (
                Outcome::Mismatch,
                json!({"isOwner": false, "mobile": "966512345678"})
            )
        );
        let Answer::Final { outcome, data, .. } = query().answer(LiteAnswer::UnknownId).unwrap()
        else {
            panic!("not final");
        };
        assert_eq!(
            (outcome, data),
            (Outcome::NotFound, serde_json::Value::Null)
        );
        assert!(matches!(
            query().answer(owner(true, "599999999")),
            Err(AdapterError::Malformed(_))
        ));
    }
}

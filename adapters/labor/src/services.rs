//! The two services: their input, the operation each calls, and how MHRSD's
//! `ResponseStatus` and body become an [`Answer`].
//!
//! | MHRSD answers | `labor.establishment.compliance` | `labor.cooperative.registration` |
//! |---|---|---|
//! | `SUCCESS` | `OK` if the band is at least LOW_GREEN, else `MISMATCH`, with the file | `OK` if the society is ACTIVE, else `MISMATCH`, with the record |
//! | `E0000142`, `E0000949`, `E0002001` | `NOT_FOUND`, `{"found": false}` | `NOT_FOUND`, `{"found": false}` |
//! | `ODM00102` | `MISMATCH`, no data (MHRSD said only that) | `Malformed`: not a registry answer |
//! | `E0000001` | `Refused(INVALID_INPUT)` | `Refused(INVALID_INPUT)` |
//! | `E0000500` | `Unavailable` (retried) | `Unavailable` (retried) |
//! | another code | `Malformed` (retried) | `Malformed` (retried) |

use rabt_adapter::http::CallContext;
use rabt_adapter::{AdapterError, Answer};
use rabt_core::{Outcome, UnifiedNumber};
use serde_json::Value;

use crate::client::QiwaClient;
use crate::output::{Compliance, Registration, found, not_found};
use crate::wire::codes::{self, Meaning};
use crate::wire::establishment::{EstablishmentQuery, GetEstablishmentInformation};
use crate::wire::society::{GetCooperativeSocietyInformation, SocietyQuery, is_in_good_standing};
use crate::wire::{QiwaResponse, ResponseStatus, Status};

/// `labor.establishment.compliance`.
pub(crate) async fn establishment_compliance(
    client: &QiwaClient,
    ctx: CallContext<'_>,
    input: &Value,
) -> Result<Answer, AdapterError> {
    let unified = unified_number(input)?;
    let query = EstablishmentQuery {
        seven_hundred_number: Some(unified.as_str().to_owned()),
        ..EstablishmentQuery::default()
    };
    let answer = client
        .call::<GetEstablishmentInformation>(ctx, query)
        .await?;
    let upstream_ref = answer.header.transaction_id.clone();
    let (outcome, data) = match read(&answer)? {
        Read::Body(body) => {
            let compliance = Compliance::try_from(body).map_err(malformed)?;
            let outcome = if compliance.compliant {
                Outcome::Ok
            } else {
                Outcome::Mismatch
            };
            (outcome, found(&compliance))
        }
        Read::NotFound => (Outcome::NotFound, not_found()),
        Read::BelowLowGreen => (Outcome::Mismatch, Value::Null),
    };
    Ok(Answer::Final {
        outcome,
        data,
        upstream_ref,
    })
}

/// `labor.cooperative.registration`.
pub(crate) async fn cooperative_registration(
    client: &QiwaClient,
    ctx: CallContext<'_>,
    input: &Value,
) -> Result<Answer, AdapterError> {
    let unified = unified_number(input)?;
    let query = SocietyQuery {
        seven_hundred_number: unified.as_str().to_owned(),
    };
    let answer = client
        .call::<GetCooperativeSocietyInformation>(ctx, query)
        .await?;
    let upstream_ref = answer.header.transaction_id.clone();
    let (outcome, data) = match read(&answer)? {
        Read::Body(body) => {
            let registration = Registration::try_from(body).map_err(malformed)?;
            // A suspended, liquidating or dissolved society is on the register, but not
            // as the establishment check needs it: the record is shown, as a mismatch.
            let outcome = if is_in_good_standing(registration.status) {
                Outcome::Ok
            } else {
                Outcome::Mismatch
            };
            (outcome, found(&registration))
        }
        Read::NotFound => (Outcome::NotFound, not_found()),
        Read::BelowLowGreen => {
            return Err(AdapterError::Malformed(format!(
                "MHRSD's registry answered {}, a Nitaqat code",
                codes::BELOW_LOW_GREEN
            )));
        }
    };
    Ok(Answer::Final {
        outcome,
        data,
        upstream_ref,
    })
}

/// The `unifiedNumber` of the input, which the schema has already checked.
fn unified_number(input: &Value) -> Result<UnifiedNumber, AdapterError> {
    input
        .get("unifiedNumber")
        .and_then(Value::as_str)
        .and_then(|s| UnifiedNumber::parse(s).ok())
        .ok_or_else(|| {
            AdapterError::invalid_input("unifiedNumber must be a unified number 7xxxxxxxxx")
        })
}

/// What an answer's status says, for the services to act on.
#[derive(Debug)]
enum Read<'a, B> {
    Body(&'a B),
    NotFound,
    BelowLowGreen,
}

fn read<B>(answer: &QiwaResponse<B>) -> Result<Read<'_, B>, AdapterError> {
    let status = &answer.header.response_status;
    if status.status == Status::Success {
        return answer.body.as_ref().map(Read::Body).ok_or_else(|| {
            AdapterError::Malformed(format!("MHRSD answered {} without a Body", status.code))
        });
    }
    let code = codes::status_code(&status.code).map(|known| known.meaning);
    match code {
        Some(Meaning::NotFound) => Ok(Read::NotFound),
        Some(Meaning::BelowLowGreen) => Ok(Read::BelowLowGreen),
        Some(Meaning::InvalidRequest) => Err(AdapterError::Refused {
            outcome: Outcome::InvalidInput,
            reason: format!("MHRSD rejected the request: {}", shown(status)),
        }),
        Some(Meaning::Internal) => Err(AdapterError::Unavailable {
            reason: format!("MHRSD failed: {}", shown(status)),
            retry_after: None,
            source: None,
        }),
        Some(Meaning::Success) | None => Err(AdapterError::Malformed(format!(
            "MHRSD answered ERROR with code {}",
            shown(status)
        ))),
    }
}

/// The status code, cut short: never the messages, which may quote the input.
fn shown(status: &ResponseStatus) -> String {
    status.code.chars().take(16).collect()
}

fn malformed(err: crate::LaborError) -> AdapterError {
    AdapterError::Malformed(err.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::wire::RsHeader;

    fn answer(status: Status, code: &str, body: Option<u8>) -> QiwaResponse<u8> {
        QiwaResponse {
            header: RsHeader {
                transaction_id: None,
                channel_id: None,
                session_id: None,
                request_time: None,
                mw_request_time: None,
                mw_response_time: None,
                service_code: None,
                response_status: ResponseStatus {
                    status,
                    code: code.to_owned(),
                    arabic_msg: String::new(),
                    english_msg: String::new(),
                },
            },
            body,
        }
    }

    #[test]
    fn statuses_read_as_documented() {
        let ok = answer(Status::Success, codes::SUCCESS, Some(7));
        assert!(matches!(read(&ok), Ok(Read::Body(7))));
        let empty = answer(Status::Success, codes::SUCCESS, None);
        assert!(matches!(read(&empty), Err(AdapterError::Malformed(_))));
        for code in [
            codes::ESTABLISHMENT_NOT_FOUND,
            codes::NOT_IN_NITAQAT,
            codes::SOCIETY_NOT_FOUND,
        ] {
            assert!(matches!(
                read(&answer(Status::Error, code, None)),
                Ok(Read::NotFound)
            ));
        }
        let odm = answer(Status::Error, codes::BELOW_LOW_GREEN, None);
        assert!(matches!(read(&odm), Ok(Read::BelowLowGreen)));
        let invalid = read(&answer(Status::Error, codes::INVALID_REQUEST, None)).unwrap_err();
        assert!(matches!(
            invalid,
            AdapterError::Refused {
                outcome: Outcome::InvalidInput,
                ..
            }
        ));
        let internal = read(&answer(Status::Error, codes::INTERNAL_ERROR, None)).unwrap_err();
        assert!(matches!(internal, AdapterError::Unavailable { .. }));
        for code in [codes::SUCCESS, "E1234567"] {
            let err = read(&answer(Status::Error, code, None)).unwrap_err();
            assert!(matches!(err, AdapterError::Malformed(_)), "{code}");
        }
    }

    #[test]
    fn an_input_without_a_unified_number_is_invalid() {
        for input in [json!({}), json!({"unifiedNumber": "1000000008"}), json!([])] {
            let err = unified_number(&input).unwrap_err();
            assert!(!err.is_retryable());
            assert_eq!(err.final_outcome(), Outcome::InvalidInput);
        }
        assert!(unified_number(&json!({"unifiedNumber": "7000000001"})).is_ok());
    }
}

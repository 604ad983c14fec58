//! Yakeen's error codes, and what each means for a task.
//!
//! Yakeen answers every refusal with a SOAP fault whose detail is
//! `Yakeen4RabtFault/commonErrorObject{ErrorCode, ErrorMessage, Type}`. Elm does not
//! publish its code list; this table is Rabt's, shaped after what integrators report:
//! business answers (not found, birth date mismatch), validation of the input, security
//! (credentials, charge code) and technical failures. When Elm's real codes are known,
//! this table is the one place to change: it is written once, here, and both the
//! adapter and the simulator use it.
//!
//! | code | type | meaning | the task |
//! |---|---|---|---|
//! | 1 | BUSINESS | no person holds this ID | `NOT_FOUND` |
//! | 2 | BUSINESS | not born in the month given | `MISMATCH` |
//! | 3, 4, 5 | VALIDATION | bad ID, bad birth date, citizen/resident operation mixed up | `INVALID_INPUT` |
//! | 6 | VALIDATION | a mandatory field missing (our envelope and the WSDL disagree) | `UPSTREAM_ERROR` |
//! | 10, 11, 12 | SECURITY | credentials, charge code, authorisation | `UPSTREAM_ERROR` |
//! | 13 | TECHNICAL | rate limit (with `Retry-After`) | retried |
//! | 99 | TECHNICAL | internal error | retried |
//! | other | | unknown: not retried, since every call is charged | `UPSTREAM_ERROR` |

use std::time::Duration;

use rabt_adapter::AdapterError;
use rabt_core::Outcome;

use crate::soap::{CommonErrorObject, FaultClass, SoapFault};

/// A code of Yakeen's `commonErrorObject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum YakeenErrorCode {
    /// `1`: no person holds this ID.
    NotFound,
    /// `2`: the person exists, but was not born in the month given.
    BirthDateMismatch,
    /// `3`: the ID is not ten digits with a valid check digit.
    InvalidId,
    /// `4`: the birth date is not `MM-YYYY` in the calendar of the ID.
    InvalidBirthDate,
    /// `5`: a citizen's ID asked of the resident operation, or the reverse.
    WrongIdKind,
    /// `6`: a mandatory field (the reference number…) is missing.
    MissingField,
    /// `10`: the user name or password is wrong.
    InvalidCredentials,
    /// `11`: the charge code is wrong or exhausted.
    InvalidChargeCode,
    /// `12`: this client may not call this operation.
    NotAuthorised,
    /// `13`: too many requests; the fault comes with `Retry-After`.
    RateLimited,
    /// `99`: Yakeen failed.
    Internal,
}

/// The `Type` of a [`CommonErrorObject`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// An answer about the person.
    Business,
    /// The request's fields are wrong.
    Validation,
    /// The caller's credentials are wrong.
    Security,
    /// Yakeen itself.
    Technical,
}

impl ErrorType {
    /// The wire value.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorType::Business => "BUSINESS",
            ErrorType::Validation => "VALIDATION",
            ErrorType::Security => "SECURITY",
            ErrorType::Technical => "TECHNICAL",
        }
    }
}

impl YakeenErrorCode {
    /// Every code, for tests and docs.
    pub const ALL: [YakeenErrorCode; 11] = [
        YakeenErrorCode::NotFound,
        YakeenErrorCode::BirthDateMismatch,
        YakeenErrorCode::InvalidId,
        YakeenErrorCode::InvalidBirthDate,
        YakeenErrorCode::WrongIdKind,
        YakeenErrorCode::MissingField,
        YakeenErrorCode::InvalidCredentials,
        YakeenErrorCode::InvalidChargeCode,
        YakeenErrorCode::NotAuthorised,
        YakeenErrorCode::RateLimited,
        YakeenErrorCode::Internal,
    ];

    /// The numeric code, its type and its message, in one place.
    const fn table(self) -> (u16, ErrorType, &'static str) {
        use ErrorType::{Business, Security, Technical, Validation};
        match self {
            Self::NotFound => (
                1,
                Business,
                "لا توجد بيانات لرقم الهوية / No data found for the given ID",
            ),
            Self::BirthDateMismatch => (
                2,
                Business,
                "تاريخ الميلاد غير مطابق / Date of birth does not match",
            ),
            Self::InvalidId => (3, Validation, "رقم الهوية غير صحيح / Invalid ID number"),
            Self::InvalidBirthDate => (
                4,
                Validation,
                "صيغة تاريخ الميلاد غير صحيحة / Invalid date of birth, expected MM-YYYY",
            ),
            Self::WrongIdKind => (
                5,
                Validation,
                "رقم الهوية لا يخص هذه الخدمة / The ID does not belong to this operation",
            ),
            Self::MissingField => (
                6,
                Validation,
                "حقل إلزامي مفقود / A mandatory field is missing",
            ),
            Self::InvalidCredentials => (
                10,
                Security,
                "اسم المستخدم أو كلمة المرور غير صحيحة / Invalid user name or password",
            ),
            Self::InvalidChargeCode => (11, Security, "رمز التحصيل غير صحيح / Invalid charge code"),
            Self::NotAuthorised => (
                12,
                Security,
                "غير مصرح بهذه الخدمة / Not authorised for this operation",
            ),
            Self::RateLimited => (
                13,
                Technical,
                "تم تجاوز حد الطلبات / Request limit exceeded, try again later",
            ),
            Self::Internal => (99, Technical, "خطأ داخلي / Internal error, try again later"),
        }
    }

    /// The numeric code.
    pub const fn code(self) -> u16 {
        self.table().0
    }

    /// The code's `Type`.
    pub const fn error_type(self) -> ErrorType {
        self.table().1
    }

    /// The code's `ErrorMessage`, Arabic then English.
    pub const fn message(self) -> &'static str {
        self.table().2
    }

    /// The code of a number, if Yakeen's table has it.
    pub fn from_code(code: u16) -> Option<YakeenErrorCode> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    /// The `commonErrorObject` of this code.
    pub fn error_object(self) -> CommonErrorObject {
        CommonErrorObject {
            error_code: self.code().to_string(),
            error_message: self.message().to_owned(),
            error_type: self.error_type().as_str().to_owned(),
        }
    }

    /// The SOAP fault of this code; JAX-WS raises every service exception as
    /// `Server`.
    pub fn fault(self) -> SoapFault {
        SoapFault::yakeen("Server", self.error_object())
    }
}

/// What a fault means for the task.
#[derive(Debug)]
pub enum FaultMeaning {
    /// No such person: a final `NOT_FOUND`.
    NotFound,
    /// The birth month does not match: a final `MISMATCH`.
    BirthDateMismatch,
    /// Not an answer about the person.
    Error(AdapterError),
}

/// Classifies a fault; `retry_after` is the `Retry-After` that came with it.
pub fn meaning(fault: &SoapFault, retry_after: Option<Duration>) -> FaultMeaning {
    let Some(error) = fault.common_error() else {
        return FaultMeaning::Error(plain_fault(fault, retry_after));
    };
    let number = error.error_code.trim().parse::<u16>().ok();
    let Some(code) = number.and_then(YakeenErrorCode::from_code) else {
        // Each call is charged: retrying an answer nobody understands would only
        // cost more. An operator reads the code in the reason and extends the table.
        return FaultMeaning::Error(refused(
            Outcome::UpstreamError,
            format!(
                "Yakeen fault with an unknown code `{}`",
                short(&error.error_code)
            ),
        ));
    };
    let reason = || {
        format!(
            "Yakeen fault {} ({})",
            code.code(),
            code.error_type().as_str()
        )
    };
    let unavailable = |reason: String| AdapterError::Unavailable {
        reason,
        retry_after,
        source: None,
    };
    FaultMeaning::Error(match code {
        YakeenErrorCode::NotFound => return FaultMeaning::NotFound,
        YakeenErrorCode::BirthDateMismatch => return FaultMeaning::BirthDateMismatch,
        YakeenErrorCode::InvalidId
        | YakeenErrorCode::InvalidBirthDate
        | YakeenErrorCode::WrongIdKind => refused(Outcome::InvalidInput, reason()),
        // We always send every field: a missing one means our envelope and Yakeen's
        // WSDL disagree, which no input can fix.
        YakeenErrorCode::MissingField
        | YakeenErrorCode::InvalidCredentials
        | YakeenErrorCode::InvalidChargeCode
        | YakeenErrorCode::NotAuthorised => refused(Outcome::UpstreamError, reason()),
        YakeenErrorCode::RateLimited | YakeenErrorCode::Internal => unavailable(reason()),
    })
}

/// A fault without Yakeen's detail, raised by the SOAP stack in front of it.
fn plain_fault(fault: &SoapFault, retry_after: Option<Duration>) -> AdapterError {
    let code = short(&fault.faultcode);
    match fault.class() {
        FaultClass::Server => AdapterError::Unavailable {
            reason: format!("Yakeen SOAP fault {code}"),
            retry_after,
            source: None,
        },
        // Our envelope was refused as a message: a bug or a WSDL change, not input.
        FaultClass::Client | FaultClass::VersionMismatch | FaultClass::MustUnderstand => refused(
            Outcome::UpstreamError,
            format!("Yakeen refused the SOAP message: {code}"),
        ),
        FaultClass::Unknown => AdapterError::Malformed(format!("a SOAP fault with code {code}")),
    }
}

fn refused(outcome: Outcome, reason: String) -> AdapterError {
    AdapterError::Refused { outcome, reason }
}

/// A value quoted in a reason, cut short: never a whole body.
pub(crate) fn short(value: &str) -> String {
    value.chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let numbers: HashSet<u16> = YakeenErrorCode::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(numbers.len(), YakeenErrorCode::ALL.len());
        for code in YakeenErrorCode::ALL {
            assert_eq!(YakeenErrorCode::from_code(code.code()), Some(code));
        }
        assert_eq!(YakeenErrorCode::from_code(7), None);
    }

    #[test]
    fn every_code_maps_as_documented() {
        let after = Some(Duration::from_secs(4));
        for code in YakeenErrorCode::ALL {
            let meaning = meaning(&code.fault(), after);
            match (code, meaning) {
                (YakeenErrorCode::NotFound, FaultMeaning::NotFound)
                | (YakeenErrorCode::BirthDateMismatch, FaultMeaning::BirthDateMismatch) => {}
                (
                    YakeenErrorCode::InvalidId
                    | YakeenErrorCode::InvalidBirthDate
                    | YakeenErrorCode::WrongIdKind,
                    FaultMeaning::Error(AdapterError::Refused {
                        outcome: Outcome::InvalidInput,
                        ..
                    }),
                ) => {}
                (
                    YakeenErrorCode::MissingField
                    | YakeenErrorCode::InvalidCredentials
                    | YakeenErrorCode::InvalidChargeCode
                    | YakeenErrorCode::NotAuthorised,
                    FaultMeaning::Error(AdapterError::Refused {
                        outcome: Outcome::UpstreamError,
                        ..
                    }),
                ) => {}
                (
                    YakeenErrorCode::RateLimited | YakeenErrorCode::Internal,
                    FaultMeaning::Error(err @ AdapterError::Unavailable { .. }),
                ) => {
                    assert!(err.is_retryable());
                    assert_eq!(err.retry_after(), after);
                }
                (code, other) => panic!("{code:?} → {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_codes_and_plain_faults() {
        let mut unknown = YakeenErrorCode::NotFound.fault();
        if let Some(detail) = unknown.detail.as_mut() {
            detail.fault.common_error_object = Some(CommonErrorObject {
                error_code: "777".into(),
                error_message: "?".into(),
                error_type: "BUSINESS".into(),
            });
        }
        match meaning(&unknown, None) {
            FaultMeaning::Error(err @ AdapterError::Refused { .. }) => {
                assert!(!err.is_retryable());
                assert!(err.to_string().contains("777"), "{err}");
            }
            other => panic!("{other:?}"),
        }
        let server = SoapFault::plain("Server", "boom");
        assert!(matches!(
            meaning(&server, None),
            FaultMeaning::Error(AdapterError::Unavailable { .. })
        ));
        let client = SoapFault {
            faultcode: "soap:Client.Authentication".into(),
            ..SoapFault::plain("Client", "no")
        };
        assert_eq!(client.class(), FaultClass::Client);
        assert!(matches!(
            meaning(&client, None),
            FaultMeaning::Error(AdapterError::Refused {
                outcome: Outcome::UpstreamError,
                ..
            })
        ));
        let odd = SoapFault::plain("Whatever", "?");
        assert!(matches!(
            meaning(&odd, None),
            FaultMeaning::Error(AdapterError::Malformed(_))
        ));
    }
}

//! The request bodies every stage sends: real, valid requests from the sandbox's golden
//! data (docs/sandbox.md), so each is accepted and completes with `PASS`.

use serde_json::{Value, json};

use crate::error::{BenchError, Result};

/// The body of `POST /v1/requests` for `service`.
pub fn body(service: &str) -> Result<Value> {
    match service {
        "post.address.verify" => Ok(json!({
            "service": "post.address.verify",
            "input": {"shortAddress": "RRRD2929"},
        })),
        // The golden cooperative and its board: every one of the nine checks is OK.
        "cooperative.establishment.check" => Ok(json!({
            "service": "cooperative.establishment.check",
            "input": {
                "unifiedNumber": "7000000001",
                "board": [
                    {"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}},
                    {"idNumber": "1000000016", "birthDate": {"calendar": "hijri", "year": 1392, "month": 11}},
                    {"idNumber": "1000000024", "birthDate": {"calendar": "hijri", "year": 1405, "month": 2}},
                    {"idNumber": "1000000032", "birthDate": {"calendar": "hijri", "year": 1398, "month": 9}},
                ],
            },
        })),
        other => Err(BenchError::invalid(
            "service",
            format!(
                "`{other}` has no benchmark body (post.address.verify, cooperative.establishment.check)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_services_have_a_body_naming_them() {
        for service in ["post.address.verify", "cooperative.establishment.check"] {
            assert_eq!(body(service).unwrap()["service"], service);
        }
        assert!(body("interior.identity.verify").is_err());
    }
}

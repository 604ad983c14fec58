//! The two input forms of `chambers.membership.verify` and the query parameters each
//! becomes on FSC's `coc-records`.

use rabt_adapter::AdapterError;
use rabt_core::UnifiedNumber;
use serde_json::Value;

/// FSC's parameter for the chamber ("chamber city") code.
pub(crate) const PARAM_CHAMBER: &str = "cocMemberChamberCity";
/// FSC's parameter for the membership number.
pub(crate) const PARAM_MEMBER: &str = "cocMemberId";
/// The sandbox FSC's parameter for the unified number *(sandbox: FSC's published
/// document names only the chamber form)*.
pub(crate) const PARAM_UNIFIED: &str = "cocMemberUnifiedNumber";

/// What the caller asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipQuery {
    /// The membership of this establishment, whichever chamber holds it.
    ByUnifiedNumber(UnifiedNumber),
    /// This membership number in this chamber.
    ByMembership {
        /// The chamber's code, 1–999.
        chamber: u16,
        /// The membership number, 1–12 digits.
        number: String,
    },
}

impl MembershipQuery {
    /// Reads the service's input. The catalogue's schema has already accepted it, so a
    /// refusal here means the schema and the adapter disagree: `InvalidInput`, never
    /// retried.
    pub fn parse(input: &Value) -> Result<Self, AdapterError> {
        let text = |name: &str| input.get(name).and_then(Value::as_str);
        let unified = input.get("unifiedNumber");
        let chamber = input.get("chamberCode");
        let number = input.get("membershipNumber");
        match (unified, chamber, number) {
            (Some(_), None, None) => {
                let unified = text("unifiedNumber")
                    .and_then(|s| UnifiedNumber::parse(s).ok())
                    .ok_or_else(|| {
                        AdapterError::invalid_input("unifiedNumber must be 7 and nine digits")
                    })?;
                Ok(Self::ByUnifiedNumber(unified))
            }
            (None, Some(chamber), Some(_)) => {
                let chamber = chamber
                    .as_str()
                    .filter(|c| !c.is_empty() && c.len() <= 3)
                    .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|c| c.parse::<u16>().ok())
                    .filter(|c| (1..=999).contains(c))
                    .ok_or_else(|| {
                        AdapterError::invalid_input(
                            "chamberCode must be 1 to 3 digits, from 1 to 999",
                        )
                    })?;
                let number = text("membershipNumber")
                    .filter(|n| !n.is_empty() && n.len() <= 12)
                    .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| {
                        AdapterError::invalid_input("membershipNumber must be 1 to 12 digits")
                    })?;
                Ok(Self::ByMembership {
                    chamber,
                    number: number.to_owned(),
                })
            }
            _ => Err(AdapterError::invalid_input(
                "give either unifiedNumber, or chamberCode and membershipNumber",
            )),
        }
    }

    /// The query parameters of `GET /v1/fsc/coc-records`.
    pub(crate) fn params(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::ByUnifiedNumber(unified) => vec![(PARAM_UNIFIED, unified.to_string())],
            Self::ByMembership { chamber, number } => vec![
                (PARAM_CHAMBER, chamber.to_string()),
                (PARAM_MEMBER, number.clone()),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use rabt_core::Outcome;
    use rabt_sandbox::conformance::assert_refused;
    use serde_json::json;

    use super::*;

    #[test]
    fn both_forms_parse() {
        assert_eq!(
            MembershipQuery::parse(&json!({"unifiedNumber": "7000000001"})).unwrap(),
            MembershipQuery::ByUnifiedNumber(UnifiedNumber::parse("7000000001").unwrap())
        );
        let by_number =
            MembershipQuery::parse(&json!({"chamberCode": "1", "membershipNumber": "123456"}))
                .unwrap();
        assert_eq!(
            by_number,
            MembershipQuery::ByMembership {
                chamber: 1,
                number: "123456".into()
            }
        );
        assert_eq!(
            by_number.params(),
            vec![
                ("cocMemberChamberCity", "1".to_owned()),
                ("cocMemberId", "123456".to_owned())
            ]
        );
    }

    #[test]
    fn refusals_are_invalid_input_and_final() {
        for input in [
            json!({}),
            json!({"unifiedNumber": "8000000001"}),
            json!({"unifiedNumber": 7000000001_u64}),
            json!({"unifiedNumber": "7000000001", "chamberCode": "1"}),
            json!({"chamberCode": "1"}),
            json!({"chamberCode": "0", "membershipNumber": "1"}),
            json!({"chamberCode": "1000", "membershipNumber": "1"}),
            // The catalogue writes a chamber code as a string before an adapter sees it.
            json!({"chamberCode": 1, "membershipNumber": "1"}),
            json!({"chamberCode": "1", "membershipNumber": "12a"}),
            json!({"chamberCode": "1", "membershipNumber": "1234567890123"}),
        ] {
            let err = MembershipQuery::parse(&input).unwrap_err();
            assert_refused(&err, Outcome::InvalidInput, input);
        }
    }
}

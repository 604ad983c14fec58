//! The input of `municipal.license.verify`, parsed: what the catalogue's input schema
//! accepted, read into types, so that a disagreement between schema and adapter is a
//! clear `INVALID_INPUT` instead of a request Balady would refuse.

use std::fmt;

use rabt_adapter::AdapterError;
use rabt_core::UnifiedNumber;
use serde::Deserialize;

use crate::wire::{BaladyLicenseType, BaladyVerificationRequest};

/// A unified licence number: 8 to 20 ASCII digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LicenceNumber(String);

impl LicenceNumber {
    /// Parses a licence number, refusing anything but 8 to 20 digits.
    pub fn parse(s: &str) -> Option<LicenceNumber> {
        let ok = (8..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| LicenceNumber(s.to_owned()))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LicenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the service was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenceQuery {
    /// The licence.
    pub number: LicenceNumber,
    /// Its type; `COMMERCIAL` when the input leaves it out (the schema's default).
    pub kind: BaladyLicenseType,
    /// The establishment that claims it, if the input names one.
    pub holder: Option<UnifiedNumber>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawInput {
    license_number: String,
    #[serde(default)]
    license_type: Option<String>,
    #[serde(default)]
    unified_number: Option<String>,
}

impl LicenceQuery {
    /// Reads the service's input.
    pub fn parse(input: &serde_json::Value) -> Result<LicenceQuery, AdapterError> {
        // serde reads a struct from an array too (`["4000012345"]`); the schema does
        // not, and neither does this.
        if !input.is_object() {
            return Err(AdapterError::invalid_input(
                "the input is not a JSON object".to_owned(),
            ));
        }
        let raw = RawInput::deserialize(input).map_err(|e| {
            AdapterError::invalid_input(format!("the input is not a licence query: {e}"))
        })?;
        let number = LicenceNumber::parse(&raw.license_number).ok_or_else(|| {
            AdapterError::invalid_input("licenseNumber must be 8 to 20 digits".to_owned())
        })?;
        let kind = match raw.license_type.as_deref() {
            None => BaladyLicenseType::Commercial,
            Some(kind) => BaladyLicenseType::parse(kind).ok_or_else(|| {
                AdapterError::invalid_input(
                    "licenseType must be COMMERCIAL or BUILDING_PERMIT".to_owned(),
                )
            })?,
        };
        let holder = raw
            .unified_number
            .map(|u| UnifiedNumber::parse(&u))
            .transpose()
            .map_err(|e| AdapterError::invalid_input(format!("unifiedNumber: {e}")))?;
        Ok(LicenceQuery {
            number,
            kind,
            holder,
        })
    }

    /// The query as Balady's verification request.
    pub fn to_wire(&self) -> BaladyVerificationRequest {
        BaladyVerificationRequest {
            license_number: self.number.to_string(),
            license_type: self.kind,
            unified_number: self.holder.as_ref().map(ToString::to_string),
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
    fn every_form_the_schema_allows_parses() {
        let plain = LicenceQuery::parse(&json!({"licenseNumber": "4000012345"})).unwrap();
        assert_eq!(plain.number.as_str(), "4000012345");
        assert_eq!(plain.kind, BaladyLicenseType::Commercial);
        assert_eq!(plain.holder, None);
        let full = LicenceQuery::parse(&json!({
            "licenseNumber": "5000012345", "licenseType": "BUILDING_PERMIT",
            "unifiedNumber": "7000000001"
        }))
        .unwrap();
        assert_eq!(full.kind, BaladyLicenseType::BuildingPermit);
        assert_eq!(full.holder.unwrap().as_str(), "7000000001");
        let twenty = "1".repeat(20);
        assert!(LicenceQuery::parse(&json!({ "licenseNumber": twenty })).is_ok());
    }

    #[test]
    fn the_wire_request_carries_every_field() {
        let query = LicenceQuery::parse(&json!({
            "licenseNumber": "4000012345", "unifiedNumber": "7000000001"
        }))
        .unwrap();
        assert_eq!(
            serde_json::to_value(query.to_wire()).unwrap(),
            json!({"licenseNumber": "4000012345", "licenseType": "COMMERCIAL",
                   "unifiedNumber": "7000000001"})
        );
    }

    #[test]
    fn what_the_schema_refuses_is_invalid_input_and_never_retried() {
        for bad in [
            json!({}),
            json!({"licenseNumber": 4000012345_u64}),
            json!({"licenseNumber": "1234567"}),
            json!({"licenseNumber": "1".repeat(21)}),
            json!({"licenseNumber": "40000x2345"}),
            json!({"licenseNumber": "٤٠٠٠٠١٢٣٤٥"}),
            json!({"licenseNumber": "4000012345", "licenseType": "SHOP"}),
            json!({"licenseNumber": "4000012345", "unifiedNumber": "8000000001"}),
            json!({"licenseNumber": "4000012345", "extra": true}),
            json!(["4000012345"]),
        ] {
            let err = LicenceQuery::parse(&bad).unwrap_err();
            assert_refused(&err, Outcome::InvalidInput, bad);
        }
    }
}

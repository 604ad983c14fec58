//! Rabt's own outputs of the two labour services (the catalogue's output schemas), which
//! the wire types of [`crate::wire`] translate into. A record that was found serialises
//! with `"found": true`; one that was not is just `{"found": false}`.

use rabt_core::DualDate;
use serde::Serialize;
use serde_json::{Value, json};

/// A text in Arabic and English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Names {
    /// Arabic.
    pub ar: String,
    /// English.
    pub en: String,
}

/// `labor.establishment.compliance`: an establishment's file in Nitaqat.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Compliance {
    /// The establishment's unified number.
    pub unified_number: String,
    /// `LaborOfficeId-SequenceNumber`, e.g. `1-63293`.
    pub establishment_number: String,
    /// Its name.
    pub establishment_name: Names,
    /// `RED`, `LOW_GREEN`, `MEDIUM_GREEN`, `HIGH_GREEN` or `PLATINUM`.
    pub nitaqat_band: &'static str,
    /// Whether the band is at least `LOW_GREEN`.
    pub compliant: bool,
    /// Saudi employees in percent of all, 0–100.
    pub saudization_rate: f64,
    /// Employees.
    pub headcount: Headcount,
    /// Its Saudization certificate, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saudization_certificate: Option<Certificate>,
    /// Its GOSI registration, if MHRSD reports one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gosi: Option<Gosi>,
}

/// Employees by nationality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Headcount {
    /// Saudi employees.
    pub saudi: u32,
    /// Non-Saudi employees.
    pub non_saudi: u32,
    /// Both.
    pub total: u32,
}

/// A Saudization certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Certificate {
    /// Its number.
    pub number: String,
    /// `VALID`, `EXPIRED` or `CANCELLED`, as MHRSD states it.
    pub status: &'static str,
    /// Whether MHRSD states it VALID.
    pub valid: bool,
    /// When it was issued.
    pub issued_at: DualDate,
    /// When it expires or expired.
    pub expires_at: DualDate,
}

/// The establishment's GOSI (social insurance) standing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Gosi {
    /// Its GOSI registration number.
    pub registration_number: String,
    /// Whether its contributions are up to date.
    pub compliant: bool,
}

/// `labor.cooperative.registration`: a cooperative society's registry record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    /// Its unified number.
    pub unified_number: String,
    /// Its number in the cooperative societies register.
    pub registration_number: String,
    /// Its name.
    pub name: Names,
    /// `MULTI_PURPOSE`, `AGRICULTURAL`, … (the schema's enum).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `ACTIVE`, `SUSPENDED`, `UNDER_LIQUIDATION` or `DISSOLVED`.
    pub status: &'static str,
    /// When it was registered.
    pub registered_at: DualDate,
    /// How many members it has.
    pub member_count: u32,
    /// Its board.
    pub board: Vec<BoardMember>,
    /// Its headquarters: later checks read `/headquarters/shortAddress`.
    pub headquarters: Headquarters,
    /// The municipal licence it trades under: later checks read it.
    pub municipal_license_number: String,
}

/// One seat of a board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BoardMember {
    /// The member's national ID.
    pub id_number: String,
    /// `CHAIRMAN`, `VICE_CHAIRMAN`, `TREASURER`, `SECRETARY` or `MEMBER`.
    pub role: &'static str,
    /// The member's full name.
    pub name: Names,
    /// When the seat's term ends, if MHRSD says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term_ends_at: Option<DualDate>,
}

/// Where a society has its seat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Headquarters {
    /// Its National Address short address.
    pub short_address: String,
    /// Its city, if the registry records it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<Names>,
}

/// The answer's `data` for a record that was found: the record with `"found": true`.
pub fn found(record: &impl Serialize) -> Value {
    let mut value = serde_json::to_value(record).unwrap_or(Value::Null);
    match value.as_object_mut() {
        Some(object) => {
            object.insert("found".to_owned(), Value::Bool(true));
            value
        }
        // Every record is a struct; `Null` would only hide a bug, and the worker's
        // output validation would catch it.
        None => Value::Null,
    }
}

/// The answer's `data` for a record that does not exist.
pub fn not_found() -> Value {
    json!({"found": false})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn found_adds_the_flag_and_not_found_is_just_the_flag() {
        let hq = Headquarters {
            short_address: "RRRD2929".to_owned(),
            city: None,
        };
        assert_eq!(
            found(&hq),
            json!({"found": true, "shortAddress": "RRRD2929"})
        );
        assert_eq!(not_found(), json!({"found": false}));
        assert_eq!(found(&"not a record"), Value::Null);
    }
}

//! Rabt's own output of `post.address.verify` (the catalogue's output schema), which
//! the wire types of [`crate::wire`] translate into.

use serde::Serialize;

/// A name in Arabic and English.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Names {
    /// Arabic, from SPL's `language=A` answer.
    pub ar: String,
    /// English, from SPL's `language=E` answer.
    pub en: String,
}

/// A point in WGS 84 degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Location {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lng: f64,
}

/// The `data` of a `post.address.verify` answer. Only `found` is always present: a
/// `NOT_FOUND` answer is `{"found": false}`, and the numbers form may honestly know no
/// more than the numbers it was given (see the crate docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressOutput {
    /// Whether SPL knows the address.
    pub found: bool,
    /// The short address (`RRRD2929`), when the call gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub short_address: Option<String>,
    /// Four digits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub building_number: Option<String>,
    /// Four digits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_number: Option<String>,
    /// Five digits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// The street.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street: Option<Names>,
    /// The district (حي).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub district: Option<Names>,
    /// The city.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<Names>,
    /// The region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<Names>,
    /// The building's location.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

impl AddressOutput {
    /// The answer for an address SPL does not know.
    pub fn not_found() -> Self {
        Self {
            found: false,
            short_address: None,
            building_number: None,
            additional_number: None,
            postal_code: None,
            street: None,
            district: None,
            city: None,
            region: None,
            location: None,
        }
    }

    /// The answer as JSON, for [`rabt_adapter::Answer::Final`].
    pub fn to_json(&self) -> serde_json::Value {
        // Serialising plain strings, numbers and options cannot fail; `Null` would only
        // hide a bug, and the conformance kit's output validation would catch it.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_is_just_found_false() {
        assert_eq!(
            AddressOutput::not_found().to_json(),
            serde_json::json!({"found": false})
        );
    }
}

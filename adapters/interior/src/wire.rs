//! Yakeen's own SOAP types, named as its WSDL names them, and their translation into
//! [`IdentityRecord`](crate::output::IdentityRecord).
//!
//! Two operations: `getCitizenInfo(nin, dateOfBrith)` for citizens (the misspelling is
//! Yakeen's) with a Hijri `MM-YYYY`, and `getAlienInfoByIqama(iqamaNumber,
//! dateOfBirth)` for residents with a Gregorian one. The credentials travel inside each
//! request, beside the caller's `referenceNumber`. Results name a citizen's parts
//! `firstName/fatherName/grandFatherName/familyName` and a resident's
//! `firstName/secondName/thirdName/lastName`, both with `english*Name`s; dates are
//! `dd-MM-yyyy`. Fields are in alphabetical order, as JAX-WS writes them, and every
//! field is optional on the way in: a missing one is a validation fault of the
//! simulator, or a malformed answer for the adapter, never a parse error.

use serde::{Deserialize, Serialize};

use crate::soap::SoapFault;

mod record;

pub use record::{format_date, parse_date};

/// The body of a request: one operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum YakeenRequest {
    /// `getCitizenInfo`.
    #[serde(rename(serialize = "yak:getCitizenInfo", deserialize = "getCitizenInfo"))]
    CitizenInfo(GetCitizenInfo),
    /// `getAlienInfoByIqama`.
    #[serde(rename(
        serialize = "yak:getAlienInfoByIqama",
        deserialize = "getAlienInfoByIqama"
    ))]
    AlienInfo(GetAlienInfoByIqama),
}

/// The body of a response: the operation's result, or a fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum YakeenResponse {
    /// `getCitizenInfoResponse`.
    #[serde(rename(
        serialize = "ns2:getCitizenInfoResponse",
        deserialize = "getCitizenInfoResponse"
    ))]
    CitizenInfo(GetCitizenInfoResponse),
    /// `getAlienInfoByIqamaResponse`.
    #[serde(rename(
        serialize = "ns2:getAlienInfoByIqamaResponse",
        deserialize = "getAlienInfoByIqamaResponse"
    ))]
    AlienInfo(GetAlienInfoByIqamaResponse),
    /// A SOAP fault.
    #[serde(rename(serialize = "S:Fault", deserialize = "Fault"))]
    Fault(SoapFault),
}

/// The `getCitizenInfo` wrapper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetCitizenInfo {
    /// Its one parameter.
    #[serde(rename = "CitizenInfoRequest")]
    pub request: CitizenInfoRequest,
}

/// The `getAlienInfoByIqama` wrapper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetAlienInfoByIqama {
    /// Its one parameter.
    #[serde(rename = "AlienInfoByIqamaRequest")]
    pub request: AlienInfoByIqamaRequest,
}

/// The `getCitizenInfoResponse` wrapper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetCitizenInfoResponse {
    /// The result.
    #[serde(rename = "CitizenInfoResult")]
    pub result: CitizenInfoResult,
}

/// The `getAlienInfoByIqamaResponse` wrapper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetAlienInfoByIqamaResponse {
    /// The result.
    #[serde(rename = "AlienInfoByIqamaResult")]
    pub result: AlienInfoByIqamaResult,
}

/// What every request carries besides the person: the caller's credentials and
/// reference. Not `Debug`-printed with its values (see the manual impls).
#[derive(Clone, PartialEq, Default)]
pub struct Credentials {
    /// `chargeCode`.
    pub charge_code: Option<String>,
    /// `password`.
    pub password: Option<String>,
    /// `referenceNumber`: Rabt sends the task id.
    pub reference_number: Option<String>,
    /// `userName`.
    pub user_name: Option<String>,
}

macro_rules! request {
    ($(#[$meta:meta])* $name:ident { $id:ident = $id_wire:literal, $dob:ident = $dob_wire:literal }) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
        pub struct $name {
            /// `chargeCode`.
            #[serde(rename = "chargeCode", default, skip_serializing_if = "Option::is_none")]
            pub charge_code: Option<String>,
            /// The birth month, `MM-YYYY`.
            #[serde(rename = $dob_wire, default, skip_serializing_if = "Option::is_none")]
            pub $dob: Option<String>,
            /// The ID.
            #[serde(rename = $id_wire, default, skip_serializing_if = "Option::is_none")]
            pub $id: Option<String>,
            /// `password`.
            #[serde(rename = "password", default, skip_serializing_if = "Option::is_none")]
            pub password: Option<String>,
            /// `referenceNumber`.
            #[serde(rename = "referenceNumber", default, skip_serializing_if = "Option::is_none")]
            pub reference_number: Option<String>,
            /// `userName`.
            #[serde(rename = "userName", default, skip_serializing_if = "Option::is_none")]
            pub user_name: Option<String>,
        }

        impl $name {
            /// A request for this ID and birth month with these credentials.
            pub fn new(id: &str, birth_month: &str, credentials: Credentials) -> Self {
                Self {
                    charge_code: credentials.charge_code,
                    $dob: Some(birth_month.to_owned()),
                    $id: Some(id.to_owned()),
                    password: credentials.password,
                    reference_number: credentials.reference_number,
                    user_name: credentials.user_name,
                }
            }

            /// The credentials and reference it carries.
            pub fn credentials(&self) -> Credentials {
                Credentials {
                    charge_code: self.charge_code.clone(),
                    password: self.password.clone(),
                    reference_number: self.reference_number.clone(),
                    user_name: self.user_name.clone(),
                }
            }
        }

        impl std::fmt::Debug for $name {
            // The password and charge code must never reach a log line.
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field($id_wire, &self.$id)
                    .field($dob_wire, &self.$dob)
                    .field("referenceNumber", &self.reference_number)
                    .finish_non_exhaustive()
            }
        }
    };
}

request!(
    /// `CitizenInfoRequest`: `nin` and the Hijri `dateOfBrith`.
    CitizenInfoRequest { nin = "nin", date_of_brith = "dateOfBrith" }
);

request!(
    /// `AlienInfoByIqamaRequest`: `iqamaNumber` and the Gregorian `dateOfBirth`.
    AlienInfoByIqamaRequest { iqama_number = "iqamaNumber", date_of_birth = "dateOfBirth" }
);

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("referenceNumber", &self.reference_number)
            .finish_non_exhaustive()
    }
}

/// `CitizenInfoResult`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CitizenInfoResult {
    /// `dd-MM-yyyy`, Gregorian.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth_g: Option<String>,
    /// `dd-MM-yyyy`, Hijri: the date of record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth_h: Option<String>,
    /// English first name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub english_first_name: Option<String>,
    /// English family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub english_last_name: Option<String>,
    /// English father's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub english_second_name: Option<String>,
    /// English grandfather's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub english_third_name: Option<String>,
    /// Arabic family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// Arabic father's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub father_name: Option<String>,
    /// Arabic first name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// `M`, `F` or `U`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// Arabic grandfather's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grand_father_name: Option<String>,
    /// `dd-MM-yyyy`, Hijri.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_expiry_date: Option<String>,
    /// Yakeen's reference for this call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_id: Option<String>,
    /// Digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality_code: Option<String>,
    /// An occupation code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occupation_code: Option<String>,
}

/// `AlienInfoByIqamaResult`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlienInfoByIqamaResult {
    /// `dd-MM-yyyy`, Gregorian: the date of record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth_g: Option<String>,
    /// `dd-MM-yyyy`, Hijri.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth_h: Option<String>,
    /// English first name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub english_first_name: Option<String>,
    /// English last (family) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub english_last_name: Option<String>,
    /// English second (father's) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub english_second_name: Option<String>,
    /// English third (grandfather's) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub english_third_name: Option<String>,
    /// Arabic first name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// `M`, `F` or `U`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// `dd-MM-yyyy`, Gregorian.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iqama_expiry_date_g: Option<String>,
    /// `dd-MM-yyyy`, Hijri.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iqama_expiry_date_h: Option<String>,
    /// Arabic last (family) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Yakeen's reference for this call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_id: Option<String>,
    /// Digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality_code: Option<String>,
    /// An occupation code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occupation_code: Option<String>,
    /// Arabic second (father's) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_name: Option<String>,
    /// Arabic third (grandfather's) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub third_name: Option<String>,
}

#[cfg(test)]
mod tests;

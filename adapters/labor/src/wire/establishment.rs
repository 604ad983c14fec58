//! `GetEstablishmentInformation` (`qiwa/esb/getestablishmentinformation`, service code
//! `GEI00001`): an establishment's Nitaqat file, by its unified number
//! (`SevenHundredNumber`) or by its labour office and sequence number (MHRSD's own
//! spelling, `EstablishmentSequanceNumber`, in the request).

use chrono::NaiveDate;
use rabt_core::{DualDate, UnifiedNumber};
use serde::{Deserialize, Serialize};

use super::codes::{self, CERTIFICATE_STATUSES, NITAQAT_COLORS};
use super::{CodeName, Operation};
use crate::LaborError;
use crate::output::{Certificate, Compliance, Gosi, Headcount, Names};

/// The operation.
#[derive(Debug, Clone, Copy)]
pub struct GetEstablishmentInformation;

impl Operation for GetEstablishmentInformation {
    const NAME: &'static str = "GetEstablishmentInformation";
    const SERVICE_CODE: &'static str = "GEI00001";
    const PATH: &'static str = "/qiwa/esb/getestablishmentinformation";
    type RqBody = EstablishmentQuery;
    type RsBody = EstablishmentInformation;
}

/// Which establishment: a unified number, or an office and sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EstablishmentQuery {
    /// The unified ("700") number.
    #[serde(
        rename = "SevenHundredNumber",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub seven_hundred_number: Option<String>,
    /// The labour office.
    #[serde(
        rename = "LaborOfficeId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub labor_office_id: Option<String>,
    /// The sequence number within the office.
    #[serde(
        rename = "EstablishmentSequanceNumber",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sequence_number: Option<String>,
}

/// The answer's body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EstablishmentInformation {
    /// The establishment and its Nitaqat standing.
    pub establishment_details: EstablishmentDetails,
    /// Its Saudization certificate, `null` if it has none.
    #[serde(default)]
    pub saudi_certificate: Option<SaudiCertificate>,
    /// Its GOSI registration, `null` if MHRSD has none on file.
    #[serde(default)]
    pub gosi: Option<GosiDetails>,
}

/// The establishment's file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EstablishmentDetails {
    /// The labour office, digits.
    pub labor_office_id: String,
    /// The sequence number, digits (MHRSD's spelling).
    pub sequance_number: String,
    /// The unified number.
    pub seven_hundred_number: String,
    /// Its name in Arabic.
    pub establishment_name_ar: String,
    /// Its name in English.
    pub establishment_name_en: String,
    /// Its Nitaqat colour ([`codes::NITAQAT_COLORS`]).
    pub nitaqat_color: CodeName,
    /// Saudi employees in percent, two decimals.
    pub saudization_percentage: String,
    /// Saudi employees.
    pub saudis: String,
    /// Non-Saudi employees.
    pub foreigners: String,
}

/// A Saudization certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SaudiCertificate {
    /// Its number.
    pub certificate_number: String,
    /// `yyyy-MM-dd`, Gregorian.
    pub saudi_cert_issue_date: String,
    /// `yyyy-MM-dd`, Gregorian.
    pub saudi_cert_expiry_date: String,
    /// Its status ([`codes::CERTIFICATE_STATUSES`]).
    pub saudi_cert_status: CodeName,
}

/// GOSI's view of the establishment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GosiDetails {
    /// The GOSI registration number, digits.
    pub gosi_registration_no: String,
    /// Whether its contributions are up to date.
    pub is_compliant: bool,
}

impl TryFrom<&EstablishmentInformation> for Compliance {
    type Error = LaborError;

    /// Checks MHRSD's strings against their formats and the schema's bounds.
    fn try_from(info: &EstablishmentInformation) -> Result<Self, Self::Error> {
        let d = &info.establishment_details;
        let unified = UnifiedNumber::parse(&d.seven_hundred_number)
            .map_err(|_| field("SevenHundredNumber", "a unified number"))?;
        let office = digits(&d.labor_office_id, 3, "LaborOfficeId")?;
        let sequence = digits(&d.sequance_number, 8, "SequanceNumber")?;
        let band = codes::by_id(&NITAQAT_COLORS, &d.nitaqat_color.id)
            .ok_or_else(|| field("NitaqatColor.Id", "a Nitaqat colour id"))?;
        let rate = percentage(&d.saudization_percentage)?;
        let saudi = count(&d.saudis, "Saudis")?;
        let non_saudi = count(&d.foreigners, "Foreigners")?;
        let total = saudi
            .checked_add(non_saudi)
            .ok_or_else(|| field("Foreigners", "a plausible headcount"))?;
        Ok(Compliance {
            unified_number: unified.as_str().to_owned(),
            establishment_number: format!("{office}-{sequence}"),
            establishment_name: names(
                &d.establishment_name_ar,
                &d.establishment_name_en,
                "EstablishmentName",
            )?,
            nitaqat_band: band.rabt,
            compliant: is_compliant(band.rabt),
            saudization_rate: rate,
            headcount: Headcount {
                saudi,
                non_saudi,
                total,
            },
            saudization_certificate: info
                .saudi_certificate
                .as_ref()
                .map(certificate)
                .transpose()?,
            gosi: info.gosi.as_ref().map(gosi).transpose()?,
        })
    }
}

/// Whether a colour is at least Low Green.
pub fn is_compliant(rabt_band: &str) -> bool {
    let rank = |name: &str| NITAQAT_COLORS.iter().position(|c| c.rabt == name);
    rank(rabt_band) >= rank(codes::LOWEST_COMPLIANT_COLOR)
}

fn certificate(c: &SaudiCertificate) -> Result<Certificate, LaborError> {
    let number = c.certificate_number.trim();
    if number.is_empty() || number.chars().count() > 40 {
        return Err(field("CertificateNumber", "1 to 40 characters"));
    }
    let status = codes::by_id(&CERTIFICATE_STATUSES, &c.saudi_cert_status.id)
        .ok_or_else(|| field("SaudiCertStatus.Id", "a certificate status id"))?;
    Ok(Certificate {
        number: number.to_owned(),
        status: status.rabt,
        valid: status.rabt == "VALID",
        issued_at: gregorian(&c.saudi_cert_issue_date, "SaudiCertIssueDate")?,
        expires_at: gregorian(&c.saudi_cert_expiry_date, "SaudiCertExpiryDate")?,
    })
}

fn gosi(g: &GosiDetails) -> Result<Gosi, LaborError> {
    Ok(Gosi {
        registration_number: digits(&g.gosi_registration_no, 12, "GosiRegistrationNo")?,
        compliant: g.is_compliant,
    })
}

/// A field that breaks its format; its value is never quoted (it may be personal data).
pub(crate) fn field(field: &'static str, expected: &'static str) -> LaborError {
    LaborError::Field { field, expected }
}

/// One to `max` ASCII digits.
pub(crate) fn digits(value: &str, max: usize, name: &'static str) -> Result<String, LaborError> {
    let ok = (1..=max).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(value.to_owned())
    } else {
        Err(field(name, "digits"))
    }
}

fn count(value: &str, name: &'static str) -> Result<u32, LaborError> {
    digits(value, 9, name)?
        .parse()
        .map_err(|_| field(name, "a count"))
}

fn percentage(value: &str) -> Result<f64, LaborError> {
    match value.trim().parse::<f64>() {
        // One decimal, as the schema's example and MHRSD's portal show it.
        Ok(p) if (0.0..=100.0).contains(&p) => Ok((p * 10.0).round() / 10.0),
        _ => Err(field("SaudizationPercentage", "a percentage from 0 to 100")),
    }
}

/// Both calendars of a Gregorian `yyyy-MM-dd`.
pub(crate) fn gregorian(value: &str, name: &'static str) -> Result<DualDate, LaborError> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|date| DualDate::from_gregorian(date).ok())
        .ok_or_else(|| field(name, "a date yyyy-MM-dd from 1882 to 2174"))
}

/// A name in both languages, neither empty.
pub(crate) fn names(ar: &str, en: &str, name: &'static str) -> Result<Names, LaborError> {
    let (ar, en) = (ar.trim(), en.trim());
    if ar.is_empty() || en.is_empty() {
        return Err(field(name, "a name in Arabic and English"));
    }
    Ok(Names {
        ar: ar.to_owned(),
        en: en.to_owned(),
    })
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::wire::{QiwaResponse, unwrap_envelope};

    const OK: &str = include_str!("../../tests/fixtures/wire/gei-7000000001.json");
    const RED: &str = include_str!("../../tests/fixtures/wire/gei-7000000003.json");
    /// What [`OK`] maps to: the service's output the golden tests expect too.
    const OUTPUT_OK: &str = include_str!("../../tests/fixtures/output/compliance-7000000001.json");

    fn body(text: &str) -> EstablishmentInformation {
        let rs: QiwaResponse<EstablishmentInformation> =
            unwrap_envelope(text.as_bytes(), "GetEstablishmentInformationRs").unwrap();
        rs.body.unwrap()
    }

    #[test]
    fn the_golden_file_maps_to_the_output() {
        let output = Compliance::try_from(&body(OK)).unwrap();
        let expected: serde_json::Value = serde_json::from_str(OUTPUT_OK).unwrap();
        assert_eq!(crate::output::found(&output), expected);
    }

    #[test]
    fn red_is_not_compliant() {
        let output = Compliance::try_from(&body(RED)).unwrap();
        assert_eq!(output.nitaqat_band, "RED");
        assert!(!output.compliant);
        let certificate = output.saudization_certificate.unwrap();
        assert_eq!((certificate.status, certificate.valid), ("EXPIRED", false));
        assert!(is_compliant("LOW_GREEN") && is_compliant("PLATINUM"));
        assert!(!is_compliant("RED") && !is_compliant("YELLOW"));
    }

    #[test]
    fn fields_that_break_their_format_are_refused_by_name() {
        type Breaker = fn(&mut EstablishmentInformation);
        let cases: [(&str, Breaker); 10] = [
            ("SevenHundredNumber", |b| {
                b.establishment_details.seven_hundred_number = "1000000001".into()
            }),
            ("LaborOfficeId", |b| {
                b.establishment_details.labor_office_id = "1234".into()
            }),
            ("SequanceNumber", |b| {
                b.establishment_details.sequance_number = "".into()
            }),
            ("NitaqatColor.Id", |b| {
                b.establishment_details.nitaqat_color.id = "7".into()
            }),
            ("SaudizationPercentage", |b| {
                b.establishment_details.saudization_percentage = "101".into()
            }),
            ("Saudis", |b| b.establishment_details.saudis = "-1".into()),
            ("EstablishmentName", |b| {
                b.establishment_details.establishment_name_en = " ".into()
            }),
            ("SaudiCertStatus.Id", |b| {
                if let Some(c) = b.saudi_certificate.as_mut() {
                    c.saudi_cert_status.id = "9".into();
                }
            }),
            ("SaudiCertExpiryDate", |b| {
                if let Some(c) = b.saudi_certificate.as_mut() {
                    c.saudi_cert_expiry_date = "15/01/2037".into();
                }
            }),
            ("GosiRegistrationNo", |b| {
                if let Some(g) = b.gosi.as_mut() {
                    g.gosi_registration_no = "GOSI-1".into();
                }
            }),
        ];
        for (name, break_it) in cases {
            let mut broken = body(OK);
            break_it(&mut broken);
            match Compliance::try_from(&broken) {
                Err(LaborError::Field { field, .. }) => assert_eq!(field, name),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn certificate_and_gosi_may_be_absent() {
        let mut info = body(OK);
        info.saudi_certificate = None;
        info.gosi = None;
        let output = Compliance::try_from(&info).unwrap();
        let json = crate::output::found(&output);
        assert!(json.get("saudizationCertificate").is_none() && json.get("gosi").is_none());
    }
}

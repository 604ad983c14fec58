//! `GetCooperativeSocietyInformation` (`cooperatives/esb/getcooperativesocietyinformation`,
//! service code `GCS00001`): a cooperative society's record in the registry MHRSD keeps,
//! by its unified number.

use rabt_core::{NationalId, ShortAddress, UnifiedNumber};
use serde::{Deserialize, Serialize};

use super::codes::{self, BOARD_POSITIONS, SOCIETY_STATUSES, SOCIETY_TYPES};
use super::establishment::{digits, field, gregorian, names};
use super::{CodeName, Operation};
use crate::LaborError;
use crate::output::{BoardMember, Headquarters, Registration};

/// The operation.
#[derive(Debug, Clone, Copy)]
pub struct GetCooperativeSocietyInformation;

impl Operation for GetCooperativeSocietyInformation {
    const NAME: &'static str = "GetCooperativeSocietyInformation";
    const SERVICE_CODE: &'static str = "GCS00001";
    const PATH: &'static str = "/cooperatives/esb/getcooperativesocietyinformation";
    type RqBody = SocietyQuery;
    type RsBody = SocietyInformation;
}

/// Which society.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocietyQuery {
    /// The unified ("700") number.
    #[serde(rename = "SevenHundredNumber")]
    pub seven_hundred_number: String,
}

/// The answer's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SocietyInformation {
    /// The registry record.
    pub society_details: SocietyDetails,
    /// The board, chairman first.
    #[serde(default)]
    pub board_members: Vec<SocietyBoardMember>,
}

/// A society's registry record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SocietyDetails {
    /// The unified number.
    pub seven_hundred_number: String,
    /// The number in the cooperative societies register, digits.
    pub registration_number: String,
    /// Its name in Arabic.
    pub society_name_ar: String,
    /// Its name in English.
    pub society_name_en: String,
    /// What it does ([`codes::SOCIETY_TYPES`]).
    pub society_type: CodeName,
    /// Where it stands ([`codes::SOCIETY_STATUSES`]).
    pub society_status: CodeName,
    /// `yyyy-MM-dd`, Gregorian.
    pub registration_date: String,
    /// Members, digits.
    pub members_count: String,
    /// Its seat.
    pub headquarter: Headquarter,
    /// The unified number of the municipal licence it trades under.
    pub municipal_license_number: String,
}

/// A society's seat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Headquarter {
    /// Its National Address short address.
    pub short_address: String,
    /// Its city in Arabic, if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city_ar: Option<String>,
    /// Its city in English, if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city_en: Option<String>,
}

/// One seat of the board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SocietyBoardMember {
    /// The member's national ID.
    pub id_number: String,
    /// Their full name in Arabic.
    pub name_ar: String,
    /// Their full name in English.
    pub name_en: String,
    /// The seat ([`codes::BOARD_POSITIONS`]).
    pub position: CodeName,
    /// `yyyy-MM-dd`, Gregorian: when the seat's term ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership_end_date: Option<String>,
}

impl TryFrom<&SocietyInformation> for Registration {
    type Error = LaborError;

    /// Checks MHRSD's strings against their formats and the schema's bounds.
    fn try_from(info: &SocietyInformation) -> Result<Self, Self::Error> {
        let d = &info.society_details;
        let unified = UnifiedNumber::parse(&d.seven_hundred_number)
            .map_err(|_| field("SevenHundredNumber", "a unified number"))?;
        let kind = codes::by_id(&SOCIETY_TYPES, &d.society_type.id)
            .ok_or_else(|| field("SocietyType.Id", "a society type id"))?;
        let status = codes::by_id(&SOCIETY_STATUSES, &d.society_status.id)
            .ok_or_else(|| field("SocietyStatus.Id", "a society status id"))?;
        let members = digits(&d.members_count, 9, "MembersCount")?
            .parse()
            .map_err(|_| field("MembersCount", "a count"))?;
        let licence = digits(&d.municipal_license_number, 20, "MunicipalLicenseNumber")?;
        if licence.len() < 8 {
            return Err(field("MunicipalLicenseNumber", "8 to 20 digits"));
        }
        Ok(Registration {
            unified_number: unified.as_str().to_owned(),
            registration_number: digits(&d.registration_number, 10, "RegistrationNumber")?,
            name: names(&d.society_name_ar, &d.society_name_en, "SocietyName")?,
            kind: kind.rabt,
            status: status.rabt,
            registered_at: gregorian(&d.registration_date, "RegistrationDate")?,
            member_count: members,
            board: info
                .board_members
                .iter()
                .map(board_member)
                .collect::<Result<_, _>>()?,
            headquarters: headquarters(&d.headquarter)?,
            municipal_license_number: licence,
        })
    }
}

/// Whether a society in this status is in good standing.
pub fn is_in_good_standing(rabt_status: &str) -> bool {
    rabt_status == codes::ACTIVE_SOCIETY
}

fn board_member(m: &SocietyBoardMember) -> Result<BoardMember, LaborError> {
    let id = NationalId::parse(&m.id_number).map_err(|_| {
        field(
            "BoardMembers.IdNumber",
            "a national ID with its check digit",
        )
    })?;
    let role = codes::by_id(&BOARD_POSITIONS, &m.position.id)
        .ok_or_else(|| field("BoardMembers.Position.Id", "a board position id"))?;
    let term_ends_at = m
        .membership_end_date
        .as_deref()
        .map(|d| gregorian(d, "BoardMembers.MembershipEndDate"))
        .transpose()?;
    Ok(BoardMember {
        id_number: id.as_str().to_owned(),
        role: role.rabt,
        name: names(&m.name_ar, &m.name_en, "BoardMembers.Name")?,
        term_ends_at,
    })
}

fn headquarters(h: &Headquarter) -> Result<Headquarters, LaborError> {
    let short = ShortAddress::parse(&h.short_address)
        .map_err(|_| field("Headquarter.ShortAddress", "a short address AAAA9999"))?;
    let city = match (h.city_ar.as_deref(), h.city_en.as_deref()) {
        (Some(ar), Some(en)) => Some(names(ar, en, "Headquarter.City")?),
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            return Err(field(
                "Headquarter.City",
                "a city in both languages or none",
            ));
        }
    };
    Ok(Headquarters {
        short_address: short.as_str().to_owned(),
        city,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{QiwaResponse, unwrap_envelope};

    const OK: &str = include_str!("../../tests/fixtures/wire/gcs-7000000001.json");

    fn body() -> SocietyInformation {
        let rs: QiwaResponse<SocietyInformation> =
            unwrap_envelope(OK.as_bytes(), "GetCooperativeSocietyInformationRs").unwrap();
        rs.body.unwrap()
    }

    #[test]
    fn the_golden_file_maps_to_the_output() {
        let output = Registration::try_from(&body()).unwrap();
        assert_eq!(output.unified_number, "7000000001");
        assert_eq!((output.kind, output.status), ("MULTI_PURPOSE", "ACTIVE"));
        assert!(is_in_good_standing(output.status));
        assert_eq!(output.headquarters.short_address, "RRRD2929");
        assert_eq!(output.headquarters.city.as_ref().unwrap().en, "Riyadh");
        assert_eq!(output.municipal_license_number, "4000012345");
        let chairman = &output.board[0];
        assert_eq!(
            (chairman.id_number.as_str(), chairman.role),
            ("1000000008", "CHAIRMAN")
        );
        assert_eq!(chairman.name.ar, "محمد عبدالله سعد القحطاني");
        assert!(!is_in_good_standing("SUSPENDED") && !is_in_good_standing("DISSOLVED"));
    }

    #[test]
    fn fields_that_break_their_format_are_refused_by_name() {
        type Breaker = fn(&mut SocietyInformation);
        let cases: [(&str, Breaker); 9] = [
            ("SocietyType.Id", |b| {
                b.society_details.society_type.id = "0".into()
            }),
            ("SocietyStatus.Id", |b| {
                b.society_details.society_status.id = "".into()
            }),
            ("MembersCount", |b| {
                b.society_details.members_count = "many".into()
            }),
            ("MunicipalLicenseNumber", |b| {
                b.society_details.municipal_license_number = "1234".into()
            }),
            ("RegistrationNumber", |b| {
                b.society_details.registration_number = "R-1".into()
            }),
            ("RegistrationDate", |b| {
                b.society_details.registration_date = "1445-01-01x".into()
            }),
            ("Headquarter.ShortAddress", |b| {
                b.society_details.headquarter.short_address = "RRRD29".into()
            }),
            ("Headquarter.City", |b| {
                b.society_details.headquarter.city_en = None
            }),
            ("BoardMembers.IdNumber", |b| {
                b.board_members[0].id_number = "1000000009".into()
            }),
        ];
        for (name, break_it) in cases {
            let mut broken = body();
            break_it(&mut broken);
            match Registration::try_from(&broken) {
                Err(LaborError::Field { field, .. }) => assert_eq!(field, name),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_headquarters_without_a_city_is_fine() {
        let mut info = body();
        info.society_details.headquarter.city_ar = None;
        info.society_details.headquarter.city_en = None;
        let output = Registration::try_from(&info).unwrap();
        assert_eq!(output.headquarters.city, None);
    }
}

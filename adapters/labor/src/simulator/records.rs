//! The sandbox's records as MHRSD writes them: labour files as
//! `GetEstablishmentInformation` bodies, cooperatives as `GetCooperativeSocietyInformation`
//! bodies.

use rabt_core::{DualDate, UnifiedNumber};
use rabt_sandbox::world::{Cooperative, LaborFile, World};

use super::Refusal;
use crate::wire::CodeName;
use crate::wire::codes::{
    self, BOARD_POSITIONS, CERTIFICATE_STATUSES, Coded, NITAQAT_COLORS, SOCIETY_STATUSES,
    SOCIETY_TYPES,
};
use crate::wire::establishment::{
    EstablishmentDetails, EstablishmentInformation, EstablishmentQuery, GosiDetails,
    SaudiCertificate,
};
use crate::wire::society::{
    Headquarter, SocietyBoardMember, SocietyDetails, SocietyInformation, SocietyQuery,
};

/// Answers `GetEstablishmentInformation` from the world.
pub(super) fn establishment(
    world: &World,
    query: &EstablishmentQuery,
) -> Result<EstablishmentInformation, Refusal> {
    let file = match query {
        EstablishmentQuery {
            seven_hundred_number: Some(number),
            ..
        } => {
            let unified = UnifiedNumber::parse(number)
                .map_err(|_| Refusal::Invalid("SevenHundredNumber must be 7 and nine digits"))?;
            match world.labor_file(&unified) {
                Some(file) => file,
                // MHRSD knows the society (it issued the number) but it has no file.
                None if world.cooperative(&unified).is_some() => {
                    return Err(Refusal::Code(codes::NOT_IN_NITAQAT));
                }
                None => return Err(Refusal::Code(codes::ESTABLISHMENT_NOT_FOUND)),
            }
        }
        EstablishmentQuery {
            seven_hundred_number: None,
            labor_office_id: Some(office),
            sequence_number: Some(sequence),
        } => {
            let (Ok(office), Ok(sequence)) = (office.parse::<u16>(), sequence.parse::<u32>())
            else {
                return Err(Refusal::Invalid(
                    "LaborOfficeId and EstablishmentSequanceNumber must be numbers",
                ));
            };
            world
                .labor_file_by_number(office, sequence)
                .ok_or(Refusal::Code(codes::ESTABLISHMENT_NOT_FOUND))?
        }
        EstablishmentQuery { .. } => {
            return Err(Refusal::Invalid(
                "SevenHundredNumber, or LaborOfficeId and EstablishmentSequanceNumber, is required",
            ));
        }
    };
    Ok(establishment_information(file))
}

/// A labour file as MHRSD writes it.
pub(crate) fn establishment_information(file: &LaborFile) -> EstablishmentInformation {
    let certificate = &file.certificate;
    EstablishmentInformation {
        establishment_details: EstablishmentDetails {
            labor_office_id: file.labor_office_id.to_string(),
            sequance_number: file.sequence_number.to_string(),
            seven_hundred_number: file.holder.as_str().to_owned(),
            establishment_name_ar: file.establishment_name.ar.clone(),
            establishment_name_en: file.establishment_name.en.clone(),
            nitaqat_color: coded(&NITAQAT_COLORS, file.band.as_str()),
            saudization_percentage: format!("{:.2}", file.saudization_rate),
            saudis: file.saudi.to_string(),
            foreigners: file.non_saudi.to_string(),
        },
        saudi_certificate: Some(SaudiCertificate {
            certificate_number: certificate.number.clone(),
            saudi_cert_issue_date: gregorian(&certificate.issued_at),
            saudi_cert_expiry_date: gregorian(&certificate.expires_at),
            saudi_cert_status: coded(&CERTIFICATE_STATUSES, certificate.status.as_str()),
        }),
        gosi: Some(GosiDetails {
            gosi_registration_no: file.gosi_registration.clone(),
            is_compliant: file.gosi_compliant,
        }),
    }
}

/// Answers `GetCooperativeSocietyInformation` from the world.
pub(super) fn society(world: &World, query: &SocietyQuery) -> Result<SocietyInformation, Refusal> {
    let unified = UnifiedNumber::parse(&query.seven_hundred_number)
        .map_err(|_| Refusal::Invalid("SevenHundredNumber must be 7 and nine digits"))?;
    let cooperative = world
        .cooperative(&unified)
        .ok_or(Refusal::Code(codes::SOCIETY_NOT_FOUND))?;
    Ok(society_information(world, cooperative))
}

/// A cooperative's registry record as MHRSD writes it.
pub(crate) fn society_information(world: &World, c: &Cooperative) -> SocietyInformation {
    let city = world
        .address_by_short_address(&c.headquarters)
        .map(|a| a.city.clone());
    let board_members = c
        .board
        .iter()
        // Every board member is a person of the world (the world's tests check it).
        .filter_map(|seat| world.person(&seat.person).map(|p| (seat, p.name.full())))
        .map(|(seat, name)| SocietyBoardMember {
            id_number: seat.person.as_str().to_owned(),
            name_ar: name.ar,
            name_en: name.en,
            position: coded(&BOARD_POSITIONS, seat.role.as_str()),
            membership_end_date: Some(gregorian(&seat.term_ends_at)),
        })
        .collect();
    SocietyInformation {
        society_details: SocietyDetails {
            seven_hundred_number: c.unified_number.as_str().to_owned(),
            registration_number: c.registration_number.clone(),
            society_name_ar: c.name.ar.clone(),
            society_name_en: c.name.en.clone(),
            society_type: coded(&SOCIETY_TYPES, c.kind.as_str()),
            society_status: coded(&SOCIETY_STATUSES, c.status.as_str()),
            registration_date: gregorian(&c.registered_at),
            members_count: c.member_count.to_string(),
            headquarter: Headquarter {
                short_address: c.headquarters.as_str().to_owned(),
                city_ar: city.as_ref().map(|n| n.ar.clone()),
                city_en: city.map(|n| n.en),
            },
            municipal_license_number: c.municipal_licence.clone(),
        },
        board_members,
    }
}

/// The `{"Id", "Ar", "En"}` of a sandbox value. The tables cover every sandbox value
/// (a test in `wire::codes` checks), so the fallback is never used.
fn coded(table: &'static [Coded], rabt: &str) -> CodeName {
    codes::by_rabt(table, rabt).map_or_else(
        || CodeName {
            id: "0".to_owned(),
            ar: rabt.to_owned(),
            en: rabt.to_owned(),
        },
        codes::code_name,
    )
}

fn gregorian(date: &DualDate) -> String {
    date.gregorian.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{Compliance, Registration};
    use crate::wire::establishment;

    /// Every record of several worlds reads back through the adapter's mapping: the
    /// simulator never serves what the adapter would call malformed.
    #[test]
    fn every_record_of_the_world_maps_cleanly() {
        for seed in [World::STANDARD_SEED, 7, 2024] {
            let world = World::generate(seed);
            for file in world.labor_files() {
                let output = Compliance::try_from(&establishment_information(file)).unwrap();
                assert_eq!(output.nitaqat_band, file.band.as_str());
                assert_eq!(output.compliant, file.band.is_compliant());
                assert_eq!(output.headcount.total, file.saudi + file.non_saudi);
                assert!((output.saudization_rate - file.saudization_rate).abs() < 0.05);
                assert!(
                    establishment::is_compliant(output.nitaqat_band) == file.band.is_compliant()
                );
            }
            for cooperative in world.cooperatives() {
                let info = society_information(&world, cooperative);
                assert_eq!(info.board_members.len(), cooperative.board.len());
                let output = Registration::try_from(&info).unwrap();
                assert_eq!(output.status, cooperative.status.as_str());
                assert_eq!(output.kind, cooperative.kind.as_str());
            }
        }
    }
}

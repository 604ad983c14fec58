//! Deliberate cases: records every world holds, whatever the seed, so that a developer
//! (and Rabt's own tests) can reach each kind of answer an agency gives. Each constant
//! names one case; docs/sandbox.md lists them with the answers they give.
//!
//! Every fixed cooperative sits at `RRRD2929` (except [`COOP_HQ_NOT_IN_WORLD`]), has the
//! board [`super::golden::BOARD`], and differs from the fully compliant `7000000001` in
//! exactly the one way its name says.

use super::golden::{self, FixedDate};

/// A citizen whose name tests the Arabic normalisation of name matching: hamza forms
/// (إبراهيم, عائشة) and taa marbuta (عائشة).
pub const NAME_NORMALISATION_ID: &str = "1000000040";
/// Her name as registered, first, father, grandfather, family.
pub const NAME_NORMALISATION_AR: [&str; 4] = ["عائشة", "إبراهيم", "عبدالله", "الغامدي"];
/// The same name in English.
pub const NAME_NORMALISATION_EN: [&str; 4] = ["Aisha", "Ibrahim", "Abdullah", "Alghamdi"];
/// 15 Muharram 1410.
pub const NAME_NORMALISATION_BIRTH: FixedDate = FixedDate::hijri(1410, 1, 15);
/// Her name as a cooperative may have typed it (ي for ئ, bare alef for إ, ه for ة):
/// it must match.
pub const NAME_NORMALISATION_VARIANT_AR: &str = "عايشه ابراهيم عبدالله الغامدي";
/// Another person's name: it must not match.
pub const NAME_NORMALISATION_OTHER_AR: &str = "فاطمة إبراهيم عبدالله الغامدي";

/// A Luhn-valid national ID that no world holds: the identity service answers not
/// found.
pub const ID_IN_NO_WORLD: &str = "1000000990";
/// A well-formed unified number that no world holds.
pub const COOP_IN_NO_WORLD: &str = "7000000999";
/// A well-formed licence number that no world holds.
pub const LICENCE_IN_NO_WORLD: &str = "4000000001";
/// The golden resident, for services that take residents.
pub const RESIDENT: &str = golden::RESIDENT_ID;

/// The licence of [`golden::COOP_EXPIRED_LICENCE`]: EXPIRED.
pub const LICENCE_EXPIRED: &str = golden::COOP_EXPIRED_LICENCE_LICENCE;

/// A cooperative whose municipal licence is SUSPENDED.
pub const COOP_LICENCE_SUSPENDED: &str = "7000000004";
/// That SUSPENDED licence.
pub const LICENCE_SUSPENDED: &str = "4000045678";

/// A cooperative whose municipal licence is CANCELLED.
pub const COOP_LICENCE_CANCELLED: &str = "7000000005";
/// That CANCELLED licence.
pub const LICENCE_CANCELLED: &str = "4000056789";
/// The building permit linked to it, CANCELLED with it.
pub const PERMIT_CANCELLED: &str = "5000056789";

/// A cooperative whose chamber membership has expired.
pub const COOP_MEMBERSHIP_EXPIRED: &str = "7000000006";
/// The chamber of that membership: Riyadh.
pub const MEMBERSHIP_EXPIRED_CHAMBER: u16 = 1;
/// The expired membership's number.
pub const MEMBERSHIP_EXPIRED: &str = "123461";

/// A cooperative MHRSD has no Nitaqat file for: `E0000949`.
pub const COOP_NO_LABOR_FILE: &str = "7000000007";
/// A SUSPENDED cooperative.
pub const COOP_SUSPENDED: &str = "7000000008";
/// A cooperative whose headquarters short address is in no world.
pub const COOP_HQ_NOT_IN_WORLD: &str = "7000000009";
/// That short address: well formed, but buildings are numbered from 1000, so no world
/// has building 0512.
pub const HQ_NOT_IN_WORLD: &str = "RRMZ0512";
/// A cooperative with no chamber membership.
pub const COOP_NO_MEMBERSHIP: &str = "7000000010";

/// A cooperative in each Nitaqat band.
pub const COOP_BAND_RED: &str = golden::COOP_RED_BAND;
/// See [`COOP_BAND_RED`].
pub const COOP_BAND_LOW_GREEN: &str = "7000000011";
/// See [`COOP_BAND_RED`].
pub const COOP_BAND_MEDIUM_GREEN: &str = golden::COOP_COMPLIANT;
/// See [`COOP_BAND_RED`].
pub const COOP_BAND_HIGH_GREEN: &str = "7000000012";
/// See [`COOP_BAND_RED`].
pub const COOP_BAND_PLATINUM: &str = "7000000013";

/// A consumer cooperative whose food-handling workers hold every kind of health
/// certificate.
pub const COOP_FOOD: &str = "7000000014";
/// Its licence, the establishment of those certificates.
pub const FOOD_LICENCE: &str = "4000067890";
/// A citizen worker with a valid certificate (VALID, FIT).
pub const WORKER_VALID_CITIZEN: &str = "1000000057";
/// The golden resident works there too, with a valid certificate.
pub const WORKER_VALID_RESIDENT: &str = golden::RESIDENT_ID;
/// A worker whose certificate is VALID but UNFIT: not valid.
pub const WORKER_UNFIT: &str = "2000000014";
/// A worker whose certificate has EXPIRED.
pub const WORKER_CERTIFICATE_EXPIRED: &str = "2000000022";
/// A worker of the world with no certificate for that licence.
pub const WORKER_WITHOUT_CERTIFICATE: &str = "2000000030";

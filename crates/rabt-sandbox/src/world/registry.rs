//! Every record of a world beside its addresses, and the indexes the simulators look
//! them up by.

use std::collections::HashMap;

use rabt_core::{NationalId, UnifiedNumber};

use super::cooperatives::Cooperative;
use super::people::Person;
use super::records::{ChamberMembership, HealthCertificate, LaborFile, MunicipalLicence};

/// The records, in the order they were made: the fixed ones first, then the generated.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Records {
    pub(crate) people: Vec<Person>,
    pub(crate) cooperatives: Vec<Cooperative>,
    pub(crate) licences: Vec<MunicipalLicence>,
    pub(crate) memberships: Vec<ChamberMembership>,
    pub(crate) labor_files: Vec<LaborFile>,
    pub(crate) health_certificates: Vec<HealthCertificate>,
}

/// Positions in [`Records`] by the keys agencies are asked for.
#[derive(Debug, Default)]
pub(crate) struct Index {
    pub(crate) person: HashMap<NationalId, usize>,
    pub(crate) cooperative: HashMap<UnifiedNumber, usize>,
    pub(crate) licence: HashMap<String, usize>,
    pub(crate) membership: HashMap<(u16, String), usize>,
    pub(crate) membership_of: HashMap<UnifiedNumber, usize>,
    pub(crate) labor_file: HashMap<UnifiedNumber, usize>,
    pub(crate) labor_file_by_number: HashMap<(u16, u32), usize>,
    pub(crate) health_certificate: HashMap<(String, NationalId), usize>,
    pub(crate) health_by_licence: HashMap<String, Vec<usize>>,
}

impl Index {
    /// Indexes `records`. Generation keeps every key unique; the tests check that each
    /// map holds as many entries as its records.
    pub(crate) fn build(records: &Records) -> Self {
        let mut index = Index {
            person: keyed(&records.people, |p| p.id.clone()),
            cooperative: keyed(&records.cooperatives, |c| c.unified_number.clone()),
            licence: keyed(&records.licences, |l| l.number.clone()),
            membership: keyed(&records.memberships, |m| {
                (m.chamber_code, m.membership_number.clone())
            }),
            membership_of: keyed(&records.memberships, |m| m.holder.clone()),
            labor_file: keyed(&records.labor_files, |f| f.holder.clone()),
            labor_file_by_number: keyed(&records.labor_files, |f| {
                (f.labor_office_id, f.sequence_number)
            }),
            health_certificate: keyed(&records.health_certificates, |h| {
                (h.establishment_licence.clone(), h.person.clone())
            }),
            health_by_licence: HashMap::new(),
        };
        for (i, h) in records.health_certificates.iter().enumerate() {
            index
                .health_by_licence
                .entry(h.establishment_licence.clone())
                .or_default()
                .push(i);
        }
        index
    }
}

fn keyed<T, K: std::hash::Hash + Eq>(items: &[T], key: impl Fn(&T) -> K) -> HashMap<K, usize> {
    items.iter().enumerate().map(|(i, t)| (key(t), i)).collect()
}

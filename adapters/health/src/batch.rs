//! The service's input, parsed into a batch the ministry accepts.

use std::collections::HashSet;

use rabt_adapter::AdapterError;
use rabt_core::NationalId;
use serde_json::Value;

use crate::wire::{MohBatchRequest, MohWorkerRef, is_licence_number};

/// The most workers one batch may hold: the ministry's limit, and the input schema's
/// `maxItems`.
pub const MAX_WORKERS: usize = 200;

/// A batch: one establishment licence and its workers, distinct, in the order asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Batch {
    pub(crate) licence: String,
    pub(crate) workers: Vec<NationalId>,
}

impl Batch {
    /// Parses `{"establishmentLicenseNumber", "idNumbers"}`. The schema has already
    /// checked it; anything it let through that the ministry would refuse is a
    /// non-retryable `InvalidInput` here, before any call.
    pub(crate) fn parse(input: &Value) -> Result<Batch, AdapterError> {
        let licence = input
            .get("establishmentLicenseNumber")
            .and_then(Value::as_str)
            .filter(|l| is_licence_number(l))
            .ok_or_else(|| {
                AdapterError::invalid_input("establishmentLicenseNumber must be 8 to 20 digits")
            })?;
        let ids = input
            .get("idNumbers")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                AdapterError::invalid_input("idNumbers must be a list of national IDs or iqamas")
            })?;
        if ids.is_empty() || ids.len() > MAX_WORKERS {
            return Err(AdapterError::invalid_input(format!(
                "idNumbers must hold 1 to {MAX_WORKERS} workers, got {}",
                ids.len()
            )));
        }
        let mut seen = HashSet::with_capacity(ids.len());
        let mut workers = Vec::with_capacity(ids.len());
        for (index, id) in ids.iter().enumerate() {
            // The reason names the position, never the value: it is personal data.
            let id = id
                .as_str()
                .and_then(|s| NationalId::parse(s).ok())
                .ok_or_else(|| {
                    AdapterError::invalid_input(format!("idNumbers/{index} is not a national ID"))
                })?;
            if !seen.insert(id.clone()) {
                return Err(AdapterError::invalid_input(format!(
                    "idNumbers/{index} repeats a worker"
                )));
            }
            workers.push(id);
        }
        Ok(Batch {
            licence: licence.to_owned(),
            workers,
        })
    }

    /// The ministry's request body.
    pub(crate) fn request(&self) -> MohBatchRequest {
        MohBatchRequest {
            establishment_license_number: self.licence.clone(),
            workers: self
                .workers
                .iter()
                .map(|id| MohWorkerRef {
                    id_number: id.as_str().to_owned(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use rabt_core::Outcome;
    use serde_json::json;

    use super::*;

    fn refused(input: Value) -> String {
        match Batch::parse(&input) {
            Err(
                err @ AdapterError::Refused {
                    outcome: Outcome::InvalidInput,
                    ..
                },
            ) => {
                assert!(!err.is_retryable());
                err.to_string()
            }
            other => panic!("expected InvalidInput for {input}, got {other:?}"),
        }
    }

    #[test]
    fn a_batch_keeps_the_order_asked() {
        let batch = Batch::parse(&json!({
            "establishmentLicenseNumber": "4000067890",
            "idNumbers": ["2000000030", "1000000057"]
        }))
        .unwrap();
        assert_eq!(batch.licence, "4000067890");
        let ids: Vec<&str> = batch.workers.iter().map(NationalId::as_str).collect();
        assert_eq!(ids, ["2000000030", "1000000057"]);
        assert_eq!(
            serde_json::to_value(batch.request()).unwrap(),
            json!({"establishmentLicenseNumber": "4000067890",
                   "workers": [{"idNumber": "2000000030"}, {"idNumber": "1000000057"}]})
        );
    }

    #[test]
    fn what_the_ministry_would_refuse_is_invalid_input() {
        let licence = "4000067890";
        refused(json!({"idNumbers": ["1000000008"]}));
        refused(json!({"establishmentLicenseNumber": "1234567", "idNumbers": ["1000000008"]}));
        refused(json!({"establishmentLicenseNumber": "40000678x0", "idNumbers": ["1000000008"]}));
        refused(json!({"establishmentLicenseNumber": licence}));
        refused(json!({"establishmentLicenseNumber": licence, "idNumbers": []}));
        let why =
            refused(json!({"establishmentLicenseNumber": licence, "idNumbers": ["1000000009"]}));
        assert!(!why.contains("1000000009"), "{why}");
        refused(json!({"establishmentLicenseNumber": licence, "idNumbers": [1000000008]}));
        let why = refused(json!({"establishmentLicenseNumber": licence,
                                 "idNumbers": ["1000000008", "1000000008"]}));
        assert!(why.contains("idNumbers/1"), "{why}");
    }

    #[test]
    fn the_batch_limit_is_the_ministrys() {
        let ids = rabt_sandbox::conformance::numbered_national_ids;
        let full =
            json!({"establishmentLicenseNumber": "4000067890", "idNumbers": ids(MAX_WORKERS)});
        assert_eq!(Batch::parse(&full).unwrap().workers.len(), MAX_WORKERS);
        let over =
            json!({"establishmentLicenseNumber": "4000067890", "idNumbers": ids(MAX_WORKERS + 1)});
        assert!(refused(over).contains("1 to 200"));
    }
}

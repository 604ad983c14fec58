//! `post.address.verify`: the input's two forms, the SPL calls each needs, and how
//! their answers become one [`AddressOutput`].

use rabt_adapter::http::CallContext;
use rabt_adapter::{AdapterError, Answer};
use rabt_core::{AdditionalNumber, BuildingNumber, Outcome, PostalCode, ShortAddress};
use serde::Deserialize;

use crate::client::SplClient;
use crate::output::AddressOutput;
use crate::wire::{Language, SplAddress, SplAddressResponse, SplPair};

/// The input, as the catalogue's schema allows it: exactly one of two forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AddressQuery {
    /// `{"shortAddress": "RRRD2929"}`.
    Short(ShortAddress),
    /// `{"buildingNumber", "postalCode", "additionalNumber"}`.
    Numbers {
        building: BuildingNumber,
        postal_code: PostalCode,
        additional: AdditionalNumber,
    },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawInput {
    short_address: Option<ShortAddress>,
    building_number: Option<BuildingNumber>,
    postal_code: Option<PostalCode>,
    additional_number: Option<AdditionalNumber>,
}

impl AddressQuery {
    /// Parses the input. The API validated it against the schema already, so a failure
    /// here means the schema and this adapter disagree: refuse it, never retry.
    pub(crate) fn parse(input: &serde_json::Value) -> Result<Self, AdapterError> {
        let raw =
            RawInput::deserialize(input).map_err(|e| AdapterError::invalid_input(e.to_string()))?;
        match (
            raw.short_address,
            raw.building_number,
            raw.postal_code,
            raw.additional_number,
        ) {
            (Some(short), None, None, None) => Ok(AddressQuery::Short(short)),
            (None, Some(building), Some(postal_code), Some(additional)) => {
                Ok(AddressQuery::Numbers {
                    building,
                    postal_code,
                    additional,
                })
            }
            (Some(_), _, _, _) | (None, _, _, _) => Err(AdapterError::invalid_input(
                "give either shortAddress, or buildingNumber + postalCode + additionalNumber",
            )),
        }
    }
}

/// Runs the query against SPL.
pub(crate) async fn run(
    client: &SplClient,
    ctx: CallContext<'_>,
    query: &AddressQuery,
) -> Result<Answer, AdapterError> {
    let output = match query {
        AddressQuery::Short(short) => by_short_address(client, ctx, short).await?,
        AddressQuery::Numbers {
            building,
            postal_code,
            additional,
        } => by_numbers(client, ctx, building, postal_code, additional).await?,
    };
    let outcome = if output.found {
        Outcome::Ok
    } else {
        Outcome::NotFound
    };
    Ok(Answer::Final {
        outcome,
        data: output.to_json(),
        // SPL's answers carry no reference of their own.
        upstream_ref: None,
    })
}

/// Both languages at once, merged.
async fn by_short_address(
    client: &SplClient,
    ctx: CallContext<'_>,
    short: &ShortAddress,
) -> Result<AddressOutput, AdapterError> {
    let (ar, en) = tokio::try_join!(
        client.by_short_address(ctx, short, Language::Arabic),
        client.by_short_address(ctx, short, Language::English),
    )?;
    let (ar, en) = (processed(ar)?, processed(en)?);
    match (ar.addresses.first(), en.addresses.first()) {
        (None, None) => Ok(AddressOutput::not_found()),
        (Some(ar), Some(en)) => {
            let mut output = AddressOutput::try_from(SplPair { ar, en })
                .map_err(|e| AdapterError::Malformed(e.to_string()))?;
            output.short_address = Some(short.to_string());
            Ok(output)
        }
        (Some(_), None) | (None, Some(_)) => Err(AdapterError::Malformed(
            "SPL found the address in one language only".to_owned(),
        )),
    }
}

/// `address-verify` says yes or no; SPL has no lookup by these numbers, so the full
/// address comes from a free-text search for them, keeping only the exact match. If
/// the search does not find it, the answer is honestly just `found` and the numbers.
async fn by_numbers(
    client: &SplClient,
    ctx: CallContext<'_>,
    building: &BuildingNumber,
    postal_code: &PostalCode,
    additional: &AdditionalNumber,
) -> Result<AddressOutput, AdapterError> {
    let verdict = client
        .verify(ctx, building, postal_code, additional)
        .await?;
    if !verdict.success {
        return Err(AdapterError::Malformed(format!(
            "address-verify did not succeed: {}",
            verdict.statusdescription
        )));
    }
    if !verdict.addressfound {
        return Ok(AddressOutput::not_found());
    }
    let text = format!("{building} {additional} {postal_code}");
    let (ar, en) = tokio::try_join!(
        client.free_text(ctx, &text, Language::Arabic),
        client.free_text(ctx, &text, Language::English),
    )?;
    let (ar, en) = (processed(ar)?, processed(en)?);
    let exact = |response: &SplAddressResponse| -> Option<SplAddress> {
        response
            .addresses
            .iter()
            .find(|a| {
                a.building_number == building.as_str()
                    && a.post_code == postal_code.as_str()
                    && a.additional_number == additional.as_str()
            })
            .cloned()
    };
    match (exact(&ar), exact(&en)) {
        (Some(ar), Some(en)) => AddressOutput::try_from(SplPair { ar: &ar, en: &en })
            .map_err(|e| AdapterError::Malformed(e.to_string())),
        (None, None) => Ok(AddressOutput {
            found: true,
            building_number: Some(building.to_string()),
            postal_code: Some(postal_code.to_string()),
            additional_number: Some(additional.to_string()),
            ..AddressOutput::not_found()
        }),
        (Some(_), None) | (None, Some(_)) => Err(AdapterError::Malformed(
            "SPL's search found the address in one language only".to_owned(),
        )),
    }
}

/// A 200 whose `success` is false is SPL saying it could not process the call.
fn processed(response: SplAddressResponse) -> Result<SplAddressResponse, AdapterError> {
    if response.success {
        Ok(response)
    } else {
        Err(AdapterError::Malformed(format!(
            "SPL answered 200 without success: {}",
            response
                .statusdescription
                .chars()
                .take(64)
                .collect::<String>()
        )))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn both_forms_parse() {
        assert_eq!(
            AddressQuery::parse(&json!({"shortAddress": "rrrd2929"})).unwrap(),
            AddressQuery::Short(ShortAddress::parse("RRRD2929").unwrap())
        );
        let numbers = json!({"buildingNumber": "2929", "postalCode": "12211",
                             "additionalNumber": "7788"});
        assert!(matches!(
            AddressQuery::parse(&numbers).unwrap(),
            AddressQuery::Numbers { .. }
        ));
    }

    #[test]
    fn anything_else_is_refused_as_invalid_input() {
        for bad in [
            json!({}),
            json!({"shortAddress": "RRRD2929", "buildingNumber": "2929"}),
            json!({"buildingNumber": "2929", "postalCode": "12211"}),
            json!({"shortAddress": "RRRD292"}),
            json!({"shortAddress": "RRRD2929", "extra": 1}),
            json!("RRRD2929"),
        ] {
            match AddressQuery::parse(&bad) {
                Err(
                    err @ AdapterError::Refused {
                        outcome: Outcome::InvalidInput,
                        ..
                    },
                ) => {
                    assert!(!err.is_retryable());
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}

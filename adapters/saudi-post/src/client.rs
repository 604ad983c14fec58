//! The calls to SPL's National Address API, and the classification of its answers.

use rabt_adapter::http::{CallContext, Reply, quote_code, read_json, send, unavailable};
use rabt_adapter::{AdapterError, ApiKeyClient};
use rabt_core::{AdditionalNumber, BuildingNumber, Outcome, PostalCode, ShortAddress};
use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::wire::{Language, SplAddressResponse, SplErrorResponse, SplVerifyResponse};

/// The short-address lookup.
pub(crate) const SHORT_ADDRESS_PATH: &str =
    "/NationalAddressByShortAddress/NationalAddressByShortAddress";
/// The check of building number + postal code + additional number.
pub(crate) const VERIFY_PATH: &str = "/v3.1/address/address-verify";
/// The free-text search, used to fetch the full address of the numbers form.
pub(crate) const FREE_TEXT_PATH: &str = "/v4/address/address-free-text";

/// The header SPL takes its key in.
pub(crate) const API_KEY_HEADER: &str = "api_key";

/// SPL's API at one base URL with one key.
#[derive(Debug)]
pub(crate) struct SplClient {
    pub(crate) api: ApiKeyClient,
}

impl SplClient {
    /// `NationalAddressByShortAddress` in one language.
    pub(crate) async fn by_short_address(
        &self,
        ctx: CallContext<'_>,
        short: &ShortAddress,
        language: Language,
    ) -> Result<SplAddressResponse, AdapterError> {
        let params = [("shortaddress", short.as_str())];
        self.get(ctx, SHORT_ADDRESS_PATH, language, &params).await
    }

    /// `address-verify`: do these three numbers name an address?
    pub(crate) async fn verify(
        &self,
        ctx: CallContext<'_>,
        building: &BuildingNumber,
        postal_code: &PostalCode,
        additional: &AdditionalNumber,
    ) -> Result<SplVerifyResponse, AdapterError> {
        let params = [
            ("buildingnumber", building.as_str()),
            ("zipcode", postal_code.as_str()),
            ("additionalnumber", additional.as_str()),
        ];
        // The answer is a boolean: the language does not matter.
        self.get(ctx, VERIFY_PATH, Language::English, &params).await
    }

    /// `address-free-text`, first page.
    pub(crate) async fn free_text(
        &self,
        ctx: CallContext<'_>,
        text: &str,
        language: Language,
    ) -> Result<SplAddressResponse, AdapterError> {
        let params = [("addressstring", text), ("page", "1")];
        self.get(ctx, FREE_TEXT_PATH, language, &params).await
    }

    fn url(&self, path: &str, language: Language, params: &[(&str, &str)]) -> Url {
        let mut url = self.api.agency().url(path);
        url.query_pairs_mut()
            .append_pair("format", "json")
            .append_pair("language", language.code())
            // Without it SPL answers windows-1256, and Arabic turns to mojibake.
            .append_pair("encode", "utf8")
            .extend_pairs(params);
        url
    }

    async fn get<T: DeserializeOwned>(
        &self,
        ctx: CallContext<'_>,
        path: &'static str,
        language: Language,
        params: &[(&str, &str)],
    ) -> Result<T, AdapterError> {
        let request = self.api.get(self.url(path, language, params));
        let Reply {
            status,
            headers,
            body,
        } = send(request, ctx).await?;
        tracing::debug!(path, status = status.as_u16(), "SPL answered");
        check_status(status, &headers, &body)?;
        read_json(&body, &format!("{path} answered unreadable JSON"))
    }
}

/// Maps SPL's status codes: 2xx goes on; 400 is the input; 401 our key; 403 (SPL's
/// rate limit), 429 and 5xx are "later"; 404 means the base URL is wrong.
pub(crate) fn check_status(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), AdapterError> {
    let said = || spl_said(body);
    match status.as_u16() {
        200..=299 => Ok(()),
        400 => Err(AdapterError::Refused {
            outcome: Outcome::InvalidInput,
            reason: format!("SPL rejected a parameter: {}", said()),
        }),
        401 => Err(AdapterError::Refused {
            outcome: Outcome::UpstreamError,
            reason: format!("SPL rejected the API key: {}", said()),
        }),
        403 | 429 => Err(unavailable(status, headers, "SPL rate limit")),
        404 => Err(AdapterError::Refused {
            outcome: Outcome::UpstreamError,
            reason: "SPL has no such endpoint: check the saudi-post base URL".to_owned(),
        }),
        500..=599 => Err(unavailable(status, headers, "SPL failed")),
        100..=199 | 300..=399 | 402 | 405..=428 | 430..=499 | 600.. | 0..=99 => Err(
            AdapterError::Malformed(format!("SPL answered HTTP {}", status.as_u16())),
        ),
    }
}

/// SPL's `statusdescription` from an error body, if the body is SPL's; never the raw
/// body, which could echo anything back.
fn spl_said(body: &[u8]) -> String {
    quote_code(body, 64, |e: SplErrorResponse| e.statusdescription)
}

#[cfg(test)]
mod tests {
    use rabt_sandbox::conformance::{assert_refused, assert_unavailable};
    use std::time::Duration;

    use reqwest::header::{HeaderValue, RETRY_AFTER};

    use super::*;

    fn status(code: u16) -> Result<(), AdapterError> {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("5"));
        let body = br#"{"success": false, "statusdescription": "SOMETHING"}"#;
        check_status(StatusCode::from_u16(code).unwrap(), &headers, body)
    }

    #[test]
    fn status_codes_map_as_documented() {
        assert!(status(200).is_ok());
        assert!(matches!(
            status(400),
            Err(AdapterError::Refused {
                outcome: Outcome::InvalidInput,
                ..
            })
        ));
        for code in [401, 404] {
            let err = status(code).unwrap_err();
            assert_refused(&err, Outcome::UpstreamError, code);
        }
        for code in [403, 429, 500, 502, 503, 504] {
            let err = status(code).unwrap_err();
            assert_unavailable(&err, Some(Duration::from_secs(5)), code);
        }
        for code in [302, 405, 418] {
            assert!(
                matches!(status(code), Err(AdapterError::Malformed(_))),
                "{code}"
            );
        }
    }

    #[test]
    fn error_reasons_quote_spl_code_only() {
        let err = status(400).unwrap_err();
        assert!(err.to_string().contains("SOMETHING"), "{err}");
        let raw = check_status(StatusCode::BAD_REQUEST, &HeaderMap::new(), b"<html>secret")
            .unwrap_err()
            .to_string();
        assert!(!raw.contains("secret"), "{raw}");
    }

    #[test]
    fn urls_keep_the_base_path_and_ask_for_utf8() {
        let api = ApiKeyClient::new(
            rabt_core::Agency::SaudiPost,
            reqwest::header::HeaderName::from_static(API_KEY_HEADER),
            rabt_adapter::ApiKeyConfig {
                base_url: Url::parse("https://apina.address.gov.sa/NationalAddress/").unwrap(),
                api_key: rabt_adapter::http::Secret::new("k"),
                timeout: Duration::from_secs(5),
            },
        )
        .unwrap();
        let client = SplClient { api };
        let url = client.url(
            SHORT_ADDRESS_PATH,
            Language::Arabic,
            &[("shortaddress", "RRRD2929")],
        );
        assert_eq!(
            url.as_str(),
            "https://apina.address.gov.sa/NationalAddress/NationalAddressByShortAddress/\
             NationalAddressByShortAddress?format=json&language=A&encode=utf8&shortaddress=RRRD2929"
        );
        assert!(!url.as_str().contains("api_key"));
    }
}

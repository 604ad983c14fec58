//! An agency's base URL, checked once when the adapter is configured.

use reqwest::Url;

/// An agency's base URL, checked: `http` or `https` (only `https` from
/// [`BaseUrl::https_only`]), a URL that can be a base (not `mailto:`), without a query or
/// a fragment, which appended paths would lose or which could carry credentials into
/// logs. Paths are appended with [`BaseUrl::join`], which keeps the base's own path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(Url);

/// Why a URL cannot be an agency's base URL. It shows only the URL's scheme, host and
/// path: its user info could be a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{shown}` cannot be an agency's base URL")]
pub struct BadBaseUrl {
    shown: String,
}

impl BadBaseUrl {
    /// The URL as it may be shown: scheme, host and path.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The same, owned, for an adapter's own error.
    pub fn into_shown(self) -> String {
        self.shown
    }
}

impl BaseUrl {
    /// Checks an `http` or `https` base URL.
    pub fn new(url: Url) -> Result<Self, BadBaseUrl> {
        let scheme_ok = matches!(url.scheme(), "http" | "https");
        Self::checked(url, scheme_ok)
    }

    /// Checks an `https` base URL, for an agency whose credentials (a client
    /// certificate, a token) must never travel in clear.
    pub fn https_only(url: Url) -> Result<Self, BadBaseUrl> {
        let scheme_ok = url.scheme() == "https";
        Self::checked(url, scheme_ok)
    }

    fn checked(url: Url, scheme_ok: bool) -> Result<Self, BadBaseUrl> {
        if scheme_ok && !url.cannot_be_a_base() && url.query().is_none() && url.fragment().is_none()
        {
            return Ok(Self(url));
        }
        Err(BadBaseUrl {
            shown: format!(
                "{}://{}{}",
                url.scheme(),
                // A URL without a host (`mailto:`) is shown without one: it is refused.
                url.host_str().unwrap_or(""),
                url.path()
            ),
        })
    }

    /// `path` (starting with `/`) appended to the base's own path:
    /// `https://h/gateway/` joined with `/v1/x` is `https://h/gateway/v1/x`.
    pub fn join(&self, path: &str) -> Url {
        let mut url = self.0.clone();
        url.set_path(&format!("{}{path}", self.0.path().trim_end_matches('/')));
        url
    }

    /// The URL itself.
    pub fn as_url(&self) -> &Url {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn http_and_https_bases_are_taken() {
        for good in [
            "http://127.0.0.1:8080",
            "https://api.balady.gov.sa/",
            "https://apina.address.gov.sa/NationalAddress",
        ] {
            assert!(BaseUrl::new(url(good)).is_ok(), "{good}");
        }
        assert!(BaseUrl::https_only(url("https://fsc.example/")).is_ok());
    }

    #[test]
    fn other_schemes_queries_and_fragments_are_refused() {
        for bad in [
            "ftp://example.com/",
            "https://example.com/?api_key=x",
            "https://example.com/#frag",
            "mailto:someone@example.com",
        ] {
            assert!(BaseUrl::new(url(bad)).is_err(), "{bad}");
            assert!(BaseUrl::https_only(url(bad)).is_err(), "{bad}");
        }
        let err = BaseUrl::https_only(url("http://fsc.example/gw")).unwrap_err();
        assert_eq!(err.shown(), "http://fsc.example/gw");
    }

    #[test]
    fn refusals_never_show_user_info_or_queries() {
        let err = BaseUrl::new(url("https://user:pw@example.com/p?q=secret")).unwrap_err();
        assert_eq!(err.shown(), "https://example.com/p");
        assert!(!err.to_string().contains("pw") && !err.to_string().contains("secret"));
        assert_eq!(err.into_shown(), "https://example.com/p");
    }

    #[test]
    fn joins_keep_the_base_path() {
        for base in ["https://h.example/gateway/", "https://h.example/gateway"] {
            let base = BaseUrl::new(url(base)).unwrap();
            assert_eq!(
                base.join("/v1/x").as_str(),
                "https://h.example/gateway/v1/x"
            );
        }
        let root = BaseUrl::new(url("http://127.0.0.1:9")).unwrap();
        assert_eq!(
            root.join("/oauth2/token").as_str(),
            "http://127.0.0.1:9/oauth2/token"
        );
        assert_eq!(root.as_url().as_str(), "http://127.0.0.1:9/");
    }
}

//! One attempt: POST the signed event to the receiver, following a few redirects by
//! hand so that every hop passes the guard, and say what happened in words that hold
//! no URL (a notify URL may carry the cooperative's token).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rabt_webhook::SignedHeaders;
use reqwest::header::{CONTENT_TYPE, LOCATION, RETRY_AFTER, USER_AGENT};
use reqwest::{Client, StatusCode};
use url::Url;

use crate::notify::guard::{GuardedResolver, Refused, TargetGuard};

/// Redirects followed per attempt, at most.
pub(crate) const MAX_REDIRECTS: usize = 3;
/// The longest `Retry-After` honoured: a receiver cannot park a notification for days.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(6 * 3600);

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sent {
    /// The receiver answered 2xx.
    Delivered { status: u16 },
    /// The receiver answered something else (a redirect past the limit included).
    Refused {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// Nothing usable came back: the guard refused a hop, the connection failed, or
    /// the attempt timed out. `permanent` when no retry can help (the notify URL itself
    /// is refused by its form).
    Failed { error: String, permanent: bool },
}

/// The notifier's HTTP side.
#[derive(Debug, Clone)]
pub(crate) struct Sender {
    client: Client,
    guard: Arc<TargetGuard>,
    timeout: Duration,
}

/// Why the HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the notifier's HTTP client")]
pub struct ClientError(#[source] reqwest::Error);

impl Sender {
    /// A sender whose every connection goes through `guard`.
    pub(crate) fn new(guard: TargetGuard, timeout: Duration) -> Result<Sender, ClientError> {
        let guard = Arc::new(guard);
        let client = Client::builder()
            // A proxy from the environment would resolve names itself, past the guard.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver(guard.clone())))
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()
            .map_err(ClientError)?;
        Ok(Sender {
            client,
            guard,
            timeout,
        })
    }

    /// POSTs `body` to `url` with the signed headers; the whole attempt, redirects
    /// included, is bounded by the timeout.
    pub(crate) async fn send(&self, url: &str, headers: &SignedHeaders, body: &[u8]) -> Sent {
        let url = match Url::parse(url) {
            Ok(url) => url,
            Err(err) => {
                return Sent::Failed {
                    error: format!("the notify URL does not parse: {err}"),
                    permanent: true,
                };
            }
        };
        if let Err(refused) = self.guard.check_url(&url) {
            return Sent::Failed {
                error: refused.to_string(),
                permanent: true,
            };
        }
        let started = Instant::now();
        match tokio::time::timeout(self.timeout, self.follow(url, headers, body)).await {
            Ok(sent) => sent,
            Err(_) => Sent::Failed {
                error: format!("no answer within {} ms", started.elapsed().as_millis()),
                permanent: false,
            },
        }
    }

    async fn follow(&self, mut url: Url, headers: &SignedHeaders, body: &[u8]) -> Sent {
        for hop in 0..=MAX_REDIRECTS {
            if hop > 0
                && let Err(refused) = self.guard.check_url(&url)
            {
                return failed(format!("redirect {hop}: {refused}"));
            }
            let response = self
                .client
                .post(url.clone())
                .header(CONTENT_TYPE, "application/json")
                .header(
                    USER_AGENT,
                    concat!("Rabt-Webhooks/", env!("CARGO_PKG_VERSION")),
                )
                .header(rabt_webhook::ID_HEADER, &headers.id)
                .header(rabt_webhook::TIMESTAMP_HEADER, &headers.timestamp)
                .header(rabt_webhook::SIGNATURE_HEADER, &headers.signature)
                .body(body.to_vec())
                .send()
                .await;
            let response = match response {
                Ok(response) => response,
                Err(err) => return failed(describe(err)),
            };
            let status = response.status();
            if status.is_success() {
                return Sent::Delivered {
                    status: status.as_u16(),
                };
            }
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| url.join(v).ok());
            match location {
                Some(next) if is_redirect(status) && hop < MAX_REDIRECTS => url = next,
                _ => {
                    return Sent::Refused {
                        status: status.as_u16(),
                        retry_after: retry_after(&response),
                    };
                }
            }
        }
        failed(format!("more than {MAX_REDIRECTS} redirects"))
    }
}

fn failed(error: String) -> Sent {
    Sent::Failed {
        error,
        permanent: false,
    }
}

/// Redirects are followed with the same POST (a webhook has nothing to GET), e.g.
/// a receiver moving from `http` to `https` or to a new path.
fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// `Retry-After` in seconds (the HTTP-date form is rare from webhook receivers and
/// ignored), capped.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let seconds: u64 = response
        .headers()
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

/// What went wrong, without the URL: the guard's refusal if it was one, else the
/// innermost cause (e.g. `Connection refused (os error 111)`).
fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let timeout = err.is_timeout();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    let mut innermost = err.to_string();
    while let Some(current) = source {
        if let Some(refused) = current.downcast_ref::<Refused>() {
            return refused.to_string();
        }
        innermost = current.to_string();
        source = current.source();
    }
    if timeout {
        "timed out".to_owned()
    } else if err.is_connect() {
        format!("cannot connect: {innermost}")
    } else {
        innermost
    }
}

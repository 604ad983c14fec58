//! A RabbitMQ vhost of a test's own, created and deleted through the management API of
//! `RABT_TEST_RABBITMQ_API`.

use std::fmt;
use std::future::Future;

use serde_json::{Value, json};
use url::Url;

use crate::Error;
use crate::cleanup::run_to_completion;
use crate::env::{AMQP_URL, RABBITMQ_API, required_env, unique};

/// A vhost with a random name, on which the management API's user may do everything;
/// deleted, with whatever the test declared in it, when this guard is dropped. Dropping
/// never panics; a failed delete is printed to standard error.
pub struct TempVhost {
    /// The vhost's name.
    pub name: String,
    /// The AMQP URL of this vhost: `RABT_TEST_AMQP_URL` with its vhost replaced.
    pub amqp_url: String,
    api: Management,
}

impl TempVhost {
    /// Creates the vhost `<prefix><32 hex digits>` and gives the management API's user
    /// every permission on it. The prefix says whose vhost it is (`rabt-queue-test-`)
    /// should one ever be left behind.
    ///
    /// # Panics
    ///
    /// When `RABT_TEST_RABBITMQ_API` or `RABT_TEST_AMQP_URL` is not set.
    pub async fn create(prefix: &str) -> Result<TempVhost, Error> {
        let api = Management::from_env()?;
        let name = unique(prefix);
        let amqp_url = vhost_url(&required_env(AMQP_URL), &name)?;
        api.put(&["vhosts", &name], &json!({})).await?;
        let vhost = TempVhost {
            name,
            amqp_url,
            api,
        };
        // From here on a failure deletes the new vhost with the guard.
        let everything = json!({"configure": ".*", "write": ".*", "read": ".*"});
        let user = vhost.api.user.clone();
        vhost
            .put(&["permissions", &vhost.name, &user], everything)
            .await?;
        Ok(vhost)
    }

    /// GETs a management API resource, `segments` after `/api` (such as `["queues",
    /// &vhost.name, queue]`); `None` while it does not exist (yet) or the API fails, so
    /// that [`eventually`](crate::eventually) can wait for it. The future owns its
    /// request, so it may outlive `segments`.
    pub fn get(&self, segments: &[&str]) -> impl Future<Output = Option<Value>> + use<> {
        let request = self
            .api
            .url(segments)
            .map(|url| self.api.request(reqwest::Method::GET, url));
        async move {
            let response = request.ok()?.send().await.ok()?;
            if !response.status().is_success() {
                return None;
            }
            response.json().await.ok()
        }
    }

    /// PUTs `body` to a management API resource.
    pub async fn put(&self, segments: &[&str], body: Value) -> Result<(), Error> {
        self.api.put(segments, &body).await
    }

    /// DELETEs a management API resource; one that does not exist is deleted already.
    pub async fn delete(&self, segments: &[&str]) -> Result<(), Error> {
        self.api.delete(segments).await
    }

    /// POSTs to a management API resource (e.g. `exchanges/<vhost>/<name>/publish`).
    pub async fn post(&self, segments: &[&str], body: Value) -> Result<(), Error> {
        self.api.post(segments, &body).await
    }
}

impl fmt::Debug for TempVhost {
    /// The name only: the URLs carry the broker's credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TempVhost")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Drop for TempVhost {
    fn drop(&mut self) {
        // A client of its own: a pooled connection of the test's client is driven by
        // the test's runtime, which waits for this cleanup and so would never drive it.
        let api = Management {
            http: reqwest::Client::new(),
            ..self.api.clone()
        };
        let name = self.name.clone();
        let deleted = run_to_completion(async move { api.delete(&["vhosts", &name]).await });
        if let Err(e) = deleted {
            eprintln!("could not delete test vhost {}: {e}", self.name);
        }
    }
}

/// The management API, with its credentials kept apart from its URL so that no error
/// message (reqwest's name the URL) or log line carries the password.
#[derive(Clone)]
struct Management {
    base: Url,
    user: String,
    password: Option<String>,
    http: reqwest::Client,
}

impl Management {
    fn from_env() -> Result<Management, Error> {
        let mut base = parse(RABBITMQ_API, &required_env(RABBITMQ_API))?;
        let user = base.username().to_owned();
        let password = base.password().map(str::to_owned);
        // Both only fail for URLs that cannot have credentials, which `url()` refuses too.
        let _ = base.set_username("");
        let _ = base.set_password(None);
        Ok(Management {
            base,
            user,
            password,
            http: reqwest::Client::new(),
        })
    }

    /// The API's URL with `segments` appended, each percent-encoded.
    fn url(&self, segments: &[&str]) -> Result<Url, Error> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| Error::NoPath {
                variable: RABBITMQ_API,
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    fn request(&self, method: reqwest::Method, url: Url) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .basic_auth(&self.user, self.password.as_ref())
    }

    async fn put(&self, segments: &[&str], body: &Value) -> Result<(), Error> {
        let request = self
            .request(reqwest::Method::PUT, self.url(segments)?)
            .json(body);
        self.send(request, &format!("PUT {}", segments.join("/")), false)
            .await
    }

    async fn post(&self, segments: &[&str], body: &Value) -> Result<(), Error> {
        let request = self
            .request(reqwest::Method::POST, self.url(segments)?)
            .json(body);
        self.send(request, &format!("POST {}", segments.join("/")), false)
            .await
    }

    async fn delete(&self, segments: &[&str]) -> Result<(), Error> {
        let request = self.request(reqwest::Method::DELETE, self.url(segments)?);
        self.send(request, &format!("DELETE {}", segments.join("/")), true)
            .await
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        action: &str,
        not_found_is_fine: bool,
    ) -> Result<(), Error> {
        let response = request.send().await.map_err(|source| Error::Management {
            action: action.to_owned(),
            source,
        })?;
        let status = response.status();
        if status.is_success() || (not_found_is_fine && status == reqwest::StatusCode::NOT_FOUND) {
            Ok(())
        } else {
            Err(Error::ManagementStatus {
                action: action.to_owned(),
                status: status.as_u16(),
            })
        }
    }
}

fn parse(variable: &'static str, value: &str) -> Result<Url, Error> {
    Url::parse(value).map_err(|source| Error::BadUrl { variable, source })
}

/// The AMQP URL `amqp_url` with its vhost (the path) replaced by `vhost`.
fn vhost_url(amqp_url: &str, vhost: &str) -> Result<String, Error> {
    let mut url = parse(AMQP_URL, amqp_url)?;
    url.set_path("");
    url.path_segments_mut()
        .map_err(|()| Error::NoPath { variable: AMQP_URL })?
        .push(vhost);
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vhost_replaces_the_path_of_the_amqp_url() {
        assert_eq!(
            vhost_url("amqp://guest:guest@127.0.0.1:5672/%2f", "rabt-x-1").unwrap(),
            "amqp://guest:guest@127.0.0.1:5672/rabt-x-1"
        );
        assert_eq!(vhost_url("amqp://h:1", "a/b").unwrap(), "amqp://h:1/a%2Fb");
    }

    #[test]
    fn a_bad_url_error_does_not_repeat_the_url() {
        let error = vhost_url("amqp://user:s3cret@host:notaport/", "v").unwrap_err();
        assert!(matches!(error, Error::BadUrl { .. }), "{error:?}");
        assert!(!format!("{error} {error:?}").contains("s3cret"));
    }

    #[test]
    fn management_urls_are_the_api_root_and_the_segments() {
        let api = Management {
            base: Url::parse("http://127.0.0.1:15672/api/").unwrap(),
            user: "guest".to_owned(),
            password: None,
            http: reqwest::Client::new(),
        };
        assert_eq!(
            api.url(&["permissions", "rabt-x", "guest"])
                .unwrap()
                .as_str(),
            "http://127.0.0.1:15672/api/permissions/rabt-x/guest"
        );
    }
}

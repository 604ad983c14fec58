//! Rabt's callback endpoint, faked for the tests of the agencies that call back: it
//! checks Standard Webhooks signatures as Rabt does and records what passes. Rabt's
//! real endpoint lives in rabt-api; this models its side for adapters' tests only.

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use rabt_core::Agency;
use serde_json::Value;

use crate::callback::{CallbackSender, CallbackTarget};
use crate::simulator::{KnobsHandle, ShutdownHandle, spawn};
use crate::webhook::{self, SignedHeaders};

/// How long [`FakeRabt`]'s waits last before they fail the test: far above any
/// callback delay a test sets, so that a slow machine does not fail it.
pub const CALLBACK_DEADLINE: Duration = Duration::from_secs(30);

/// How often the waits look again.
const POLL: Duration = Duration::from_millis(20);

/// One callback the fake endpoint accepted, its signature verified.
#[derive(Debug, Clone)]
pub struct Received {
    /// Its `webhook-id`.
    pub id: String,
    /// The body, as JSON.
    pub body: Value,
    /// When it arrived.
    pub at: Instant,
}

#[derive(Debug, Default)]
struct Log {
    received: Vec<Received>,
    refused: u32,
}

#[derive(Debug)]
struct Inbox {
    secret: webhook::Secret,
    log: Mutex<Log>,
}

impl Inbox {
    fn log(&self) -> MutexGuard<'_, Log> {
        // The log only grows; a test that panicked mid-push leaves it usable.
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `POST /v1/callbacks/{agency}` on a port of its own: 204 for a callback signed with
/// its secret within the tolerance, 401 for a bad signature and 400 for a body that is
/// not JSON (both counted as refused).
pub struct FakeRabt {
    agency: Agency,
    target: CallbackTarget,
    inbox: Arc<Inbox>,
    _server: ShutdownHandle,
}

impl fmt::Debug for FakeRabt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeRabt")
            .field("agency", &self.agency)
            .field("base_url", &self.target.base_url.as_str())
            .finish_non_exhaustive()
    }
}

impl FakeRabt {
    /// Starts the endpoint of `agency`'s callbacks, with a fresh secret.
    pub async fn start(agency: Agency) -> io::Result<FakeRabt> {
        let secret = webhook::Secret::generate();
        let inbox = Arc::new(Inbox {
            secret: secret.clone(),
            log: Mutex::new(Log::default()),
        });
        let app = Router::new()
            .route(&format!("/v1/callbacks/{agency}"), post(receive))
            .with_state(inbox.clone());
        let (addr, server) = spawn(app).await?;
        let base_url = format!("http://{addr}")
            .parse()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(FakeRabt {
            agency,
            target: CallbackTarget {
                base_url,
                secrets: vec![secret],
            },
            inbox,
            _server: server,
        })
    }

    /// Where the agency's simulator calls back, signing with this endpoint's secret.
    pub fn target(&self) -> CallbackTarget {
        self.target.clone()
    }

    /// The endpoint's secret.
    pub fn secret(&self) -> &webhook::Secret {
        &self.inbox.secret
    }

    /// A sender aimed here, signing with this endpoint's secret, honouring `knobs`.
    pub fn sender(&self, knobs: &KnobsHandle) -> CallbackSender {
        CallbackSender::new(self.agency, self.target(), knobs.clone())
    }

    /// A sender aimed here that signs with `secret` instead (a wrong one, say).
    pub fn sender_with(&self, secret: webhook::Secret, knobs: &KnobsHandle) -> CallbackSender {
        let target = CallbackTarget {
            secrets: vec![secret],
            ..self.target()
        };
        CallbackSender::new(self.agency, target, knobs.clone())
    }

    /// Every callback accepted so far.
    pub fn received(&self) -> Vec<Received> {
        self.inbox.log().received.clone()
    }

    /// How many callbacks were refused.
    pub fn refused(&self) -> u32 {
        self.inbox.log().refused
    }

    /// The callbacks accepted so far whose body quotes `reference`.
    pub fn for_reference(&self, reference: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.body["reference"] == reference)
            .collect()
    }

    /// Waits for the callback quoting `reference`.
    ///
    /// # Panics
    ///
    /// If none arrives within [`CALLBACK_DEADLINE`]: the test fails.
    pub async fn wait_for(&self, reference: &str) -> Received {
        let deadline = Instant::now() + CALLBACK_DEADLINE;
        loop {
            if let Some(received) = self.for_reference(reference).into_iter().next() {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "no callback for {reference} within {CALLBACK_DEADLINE:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until at least `n` callbacks were accepted, and returns them all.
    ///
    /// # Panics
    ///
    /// If fewer arrive within [`CALLBACK_DEADLINE`].
    pub async fn at_least(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + CALLBACK_DEADLINE;
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "{} callbacks within {CALLBACK_DEADLINE:?}, expected {n}",
                received.len()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until at least `n` callbacks were refused.
    ///
    /// # Panics
    ///
    /// If fewer are within [`CALLBACK_DEADLINE`].
    pub async fn wait_for_refused(&self, n: u32) {
        let deadline = Instant::now() + CALLBACK_DEADLINE;
        while self.refused() < n {
            assert!(
                Instant::now() < deadline,
                "{} refused callbacks within {CALLBACK_DEADLINE:?}, expected {n}",
                self.refused()
            );
            tokio::time::sleep(POLL).await;
        }
    }
}

async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let signed = SignedHeaders {
        id: header(webhook::ID_HEADER),
        timestamp: header(webhook::TIMESTAMP_HEADER),
        signature: header(webhook::SIGNATURE_HEADER),
    };
    let now = chrono::Utc::now().timestamp();
    let secrets = std::slice::from_ref(&inbox.secret);
    let verified = webhook::verify(secrets, &signed, &body, now, webhook::DEFAULT_TOLERANCE);
    let mut log = inbox.log();
    if verified.is_err() {
        log.refused += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(body) = serde_json::from_slice(&body) else {
        log.refused += 1;
        return StatusCode::BAD_REQUEST;
    };
    log.received.push(Received {
        id: signed.id,
        body,
        at: Instant::now(),
    });
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn signed_callbacks_pass_and_others_are_refused() {
        let rabt = FakeRabt::start(Agency::Municipal).await.unwrap();
        let knobs = KnobsHandle::new();
        let body = json!({"reference": "BLD-1"});
        assert!(rabt.sender(&knobs).deliver(&body).await);
        let received = rabt.wait_for("BLD-1").await;
        assert_eq!(received.body, body);
        assert!(received.id.starts_with("msg_"));
        assert_eq!(rabt.at_least(1).await.len(), 1);
        assert!(rabt.for_reference("BLD-2").is_empty());

        let forged = rabt.sender_with(webhook::Secret::generate(), &knobs);
        assert!(!forged.deliver(&json!({"reference": "BLD-2"})).await);
        rabt.wait_for_refused(1).await;
        assert_eq!(rabt.received().len(), 1);
        assert!(
            rabt.target()
                .base_url
                .as_str()
                .starts_with("http://127.0.0.1:")
        );
        assert!(
            rabt.sender(&knobs)
                .url()
                .ends_with("/v1/callbacks/municipal")
        );
    }
}

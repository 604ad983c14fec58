//! How a simulator of an agency that answers later (municipal inspections, health
//! certificate batches) calls Rabt back: a JSON body POSTed to
//! `<rabt>/v1/callbacks/<agency>`, signed with Standard Webhooks, after the knobs'
//! `callback_delay`, retried a few times like a real agency would, or never when the
//! knobs say so.

use std::time::Duration;

use rabt_core::Agency;
use rabt_webhook::Secret;
use reqwest::Client;

use crate::simulator::KnobsHandle;

/// Where an agency's callbacks go and how they are signed.
#[derive(Debug, Clone)]
pub struct CallbackTarget {
    /// Rabt's base URL, e.g. `http://127.0.0.1:8080` (the agency path is appended).
    pub base_url: url::Url,
    /// The agency's signing secrets (the first signs; all are sent during a rotation).
    pub secrets: Vec<Secret>,
}

/// Attempts per callback, and the pause after the first failure (doubling).
const ATTEMPTS: u32 = 5;
const FIRST_PAUSE: Duration = Duration::from_millis(500);

/// Sends one agency's callbacks in the background.
#[derive(Debug, Clone)]
pub struct CallbackSender {
    agency: Agency,
    target: CallbackTarget,
    knobs: KnobsHandle,
    client: Client,
}

impl CallbackSender {
    /// A sender for `agency`'s callbacks, honouring `knobs`.
    pub fn new(agency: Agency, target: CallbackTarget, knobs: KnobsHandle) -> Self {
        Self {
            agency,
            target,
            knobs,
            client: Client::new(),
        }
    }

    /// The URL callbacks go to.
    pub fn url(&self) -> String {
        format!(
            "{}/v1/callbacks/{}",
            self.target.base_url.as_str().trim_end_matches('/'),
            self.agency
        )
    }

    /// Posts `body` after the knobs' callback delay, on a task of its own; gives up after
    /// a few failed attempts. Does nothing when the knobs say never to call back.
    pub fn send_later(&self, body: serde_json::Value) {
        let knobs = self.knobs.knobs();
        if knobs.never_call_back {
            tracing::info!(agency = %self.agency, "simulator: never calling back (knob)");
            return;
        }
        let sender = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(knobs.callback_delay).await;
            sender.deliver(&body).await;
        });
    }

    /// Posts `body` now, retrying failures; true when Rabt answered 2xx.
    pub async fn deliver(&self, body: &serde_json::Value) -> bool {
        let payload = body.to_string().into_bytes();
        let id = format!("msg_{}", uuid_like());
        let mut pause = FIRST_PAUSE;
        for attempt in 1..=ATTEMPTS {
            let timestamp = chrono::Utc::now().timestamp();
            let headers = rabt_webhook::sign(&self.target.secrets, &id, timestamp, &payload);
            let sent = self
                .client
                .post(self.url())
                .header("content-type", "application/json")
                .header(rabt_webhook::ID_HEADER, &headers.id)
                .header(rabt_webhook::TIMESTAMP_HEADER, &headers.timestamp)
                .header(rabt_webhook::SIGNATURE_HEADER, &headers.signature)
                .body(payload.clone())
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => return true,
                // A 4xx is Rabt refusing this callback for good: retrying cannot help.
                Ok(response) if response.status().is_client_error() => {
                    tracing::warn!(agency = %self.agency, status = %response.status(), "simulator: callback refused");
                    return false;
                }
                Ok(response) => {
                    tracing::info!(agency = %self.agency, attempt, status = %response.status(), "simulator: callback failed; retrying");
                }
                Err(err) => {
                    tracing::info!(agency = %self.agency, attempt, error = %err, "simulator: callback failed; retrying");
                }
            }
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
        false
    }
}

/// 32 random hex digits for a message id.
fn uuid_like() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

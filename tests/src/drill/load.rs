//! The drill's load: a careful cooperative offering requests at a steady rate, each
//! with an Idempotency-Key of its own, sent again with the same key (at the other api)
//! on a refused connection, a 5xx or a 409, and after its Retry-After on a 429; the
//! ledger of what it sent, what was refused and what it lived, window by window.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::disruption::Attempted;

/// A request the load generator got accepted.
#[derive(Debug, Clone)]
pub(super) struct Sent {
    pub(super) id: String,
    pub(super) service: &'static str,
    pub(super) window: String,
}

/// The load generator's shared state.
#[derive(Debug)]
pub(super) struct Ledger {
    pub(super) window: String,
    pub(super) sent: Vec<Sent>,
    pub(super) refused: BTreeMap<String, u64>,
    /// Why each submission given up on was given up (`window: last answer`).
    pub(super) gave_up: BTreeMap<String, u64>,
    pub(super) attempts: Vec<Attempted>,
    /// When each window began, seconds since the drill began.
    pub(super) windows: Vec<(String, f64)>,
    pub(super) began: Instant,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger {
            window: String::new(),
            sent: Vec::new(),
            refused: BTreeMap::new(),
            gave_up: BTreeMap::new(),
            attempts: Vec::new(),
            windows: Vec::new(),
            began: Instant::now(),
        }
    }
}

impl Ledger {
    /// A request of `service` the gateway accepted in `window`, by the id it answered.
    fn accepted(&mut self, id: Option<String>, service: &'static str, window: String) {
        match id {
            Some(id) => self.sent.push(Sent {
                id,
                service,
                window,
            }),
            // Accepted but untraceable: counted, never silently dropped.
            None => *self.refused.entry(window).or_default() += 1,
        }
    }

    /// A request of `window` given up on, whose `last` answer says why.
    fn gave_up_on(&mut self, window: String, last: &str) {
        *self.gave_up.entry(format!("{window}: {last}")).or_default() += 1;
        *self.refused.entry(window).or_default() += 1;
    }

    pub(super) fn clone_sent(&self) -> (Vec<Sent>, BTreeMap<String, u64>) {
        (self.sent.clone(), self.refused.clone())
    }
}

pub(super) fn set_window(ledger: &Arc<Mutex<Ledger>>, window: &str) {
    if let Ok(mut ledger) = ledger.lock() {
        ledger.window = window.to_owned();
        let at = ledger.began.elapsed().as_secs_f64();
        ledger.windows.push((window.to_owned(), at));
    }
}

/// Offers `rate` requests per second until `stop`, each submitted on a task of its own so
/// a slow answer never delays the schedule.
pub(super) async fn generate(
    client: crate::Client,
    urls: Vec<String>,
    rate: f64,
    ledger: Arc<Mutex<Ledger>>,
    stop: tokio_util::sync::CancellationToken,
) {
    let mix = load_mix();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n = 0usize;
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let (service, input) = mix[n % mix.len()].clone();
        n += 1;
        let (client, urls, ledger) = (client.clone(), urls.clone(), ledger.clone());
        tasks.spawn(async move { submit(&client, &urls, service, input, &ledger).await });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

/// Submits one request, retrying with the same key (at the other api) until a 2xx or
/// 60 s; records the outcome in the ledger under the window current when it was offered.
async fn submit(
    client: &crate::Client,
    urls: &[String],
    service: &'static str,
    input: Value,
    ledger: &Arc<Mutex<Ledger>>,
) {
    let (window, began) = ledger
        .lock()
        .map(|l| (l.window.clone(), l.began))
        .unwrap_or_else(|_| (String::new(), Instant::now()));
    let started = began.elapsed().as_secs_f64();
    let body = json!({"service": service, "input": input});
    let Tried { reasons, end } = attempts(client, urls, &body).await;
    let attempted = Attempted {
        window: window.clone(),
        started,
        ended: began.elapsed().as_secs_f64(),
        refusals: reasons.len() as u64,
        reasons,
        answered: matches!(end, End::Accepted(_)),
    };
    if let Ok(mut ledger) = ledger.lock() {
        ledger.attempts.push(attempted);
    }
    match end {
        End::Accepted(response) => {
            let id = response
                .json::<Value>()
                .await
                .ok()
                .and_then(|b| b["id"].as_str().map(str::to_owned));
            if let Ok(mut ledger) = ledger.lock() {
                ledger.accepted(id, service, window);
            }
        }
        End::GaveUp(last) => {
            if let Ok(mut ledger) = ledger.lock() {
                ledger.gave_up_on(window, &last);
            }
        }
    }
}

/// What the attempts at one request came to: the refusals on the way, and its end.
struct Tried {
    reasons: Vec<String>,
    end: End,
}

/// How the attempts at one request ended.
enum End {
    /// With a 2xx.
    Accepted(reqwest::Response),
    /// Refused for good, or still not accepted after 60 s: the last answer.
    GaveUp(String),
}

/// Offers `body` with one Idempotency-Key, at each api in turn, until it is accepted,
/// refused for good or 60 s have passed.
async fn attempts(client: &crate::Client, urls: &[String], body: &Value) -> Tried {
    let key = rabt_test_support::unique("drill-");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut reasons: Vec<String> = Vec::new();
    let mut attempt = 0usize;
    let mut last = String::from("no answer");
    while Instant::now() < deadline {
        let url = &urls[attempt % urls.len()];
        attempt += 1;
        match offer(client, url, &key, body).await {
            Offer::Accepted(response) => {
                return Tried {
                    reasons,
                    end: End::Accepted(response),
                };
            }
            Offer::Refused(why) => {
                last = why;
                break;
            }
            Offer::Again {
                reason,
                answer,
                after,
            } => {
                last = answer;
                reasons.push(reason);
                tokio::time::sleep(after).await;
            }
        }
    }
    Tried {
        reasons,
        end: End::GaveUp(last),
    }
}

/// What one attempt at a request came to.
enum Offer {
    /// A 2xx: the request is the gateway's.
    Accepted(reqwest::Response),
    /// A 4xx other than 409 and 429: sending it again cannot help; what it said.
    Refused(String),
    /// Worth sending again with the same key `after` this long: why (`reason`, as the
    /// report counts refusals) and the `answer` it got.
    Again {
        reason: String,
        answer: String,
        after: Duration,
    },
}

/// POSTs the request with its key to the api at `url`, once.
async fn offer(client: &crate::Client, url: &str, key: &str, body: &Value) -> Offer {
    let sent = client
        .http()
        .post(format!("{url}/v1/requests"))
        .bearer_auth(client.api_key())
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(err) => {
            let answer = if err.is_timeout() {
                "timeout"
            } else {
                "no connection"
            };
            return Offer::Again {
                reason: "connection".to_owned(),
                answer: answer.to_owned(),
                after: Duration::from_millis(250),
            };
        }
    };
    let status = response.status().as_u16();
    if status == 429 {
        // Rate-limited: as a careful cooperative, come back when told.
        let wait = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1);
        return Offer::Again {
            reason: status.to_string(),
            answer: status.to_string(),
            after: Duration::from_secs(wait.min(10)),
        };
    }
    if (400..500).contains(&status) && status != 409 {
        // Why it was refused, in the report (never a body of ours with data).
        let problem: Value = response.json().await.unwrap_or(Value::Null);
        return Offer::Refused(format!(
            "{status} {} {}",
            problem["type"].as_str().unwrap_or_default(),
            problem["detail"].as_str().unwrap_or_default()
        ));
    }
    if (200..300).contains(&status) {
        return Offer::Accepted(response);
    }
    Offer::Again {
        reason: status.to_string(),
        answer: status.to_string(),
        after: Duration::from_millis(250),
    }
}

/// The services the load cycles through, with their input. Labor is the agency the
/// outage takes down; the others must not notice.
fn load_mix() -> Vec<(&'static str, Value)> {
    vec![
        ("post.address.verify", json!({"shortAddress": "RRRD2929"})),
        (
            "interior.identity.verify",
            json!({"idNumber": "1000000008", "birthDate": {"calendar": "hijri", "year": 1400, "month": 7}}),
        ),
        (
            "labor.establishment.compliance",
            json!({"unifiedNumber": "7000000001"}),
        ),
        ("post.address.verify", json!({"shortAddress": "ZZZZ9999"})),
        (
            "chambers.membership.verify",
            json!({"unifiedNumber": "7000000001"}),
        ),
        (
            "municipal.license.verify",
            json!({"licenseNumber": "4000012345"}),
        ),
    ]
}

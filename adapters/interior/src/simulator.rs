//! Yakeen (SOAP) and Yakeen lite (REST) as one axum app, answering from the sandbox
//! [`World`].
//!
//! It behaves as the real services do where Rabt can tell:
//! - `POST /Yakeen4Rabt/Yakeen4Rabt`: SOAP 1.1 only (`text/xml`; anything else is
//!   415, a SOAP 1.2 envelope a `VersionMismatch` fault), the body's element names the
//!   operation, the credentials in the body are checked before the input, and every
//!   refusal is a fault with HTTP 500 and a `commonErrorObject` from [`crate::fault`].
//!   Citizens are found by their Hijri birth month, residents by their Gregorian one.
//! - `GET /api/v1/person/{id}/owns-mobile/{mobile}`: the gateway checks `APP-ID` and
//!   `APP-KEY` (403 `Authentication failed`), then `SERVICE_KEY` and
//!   `ORGANIZATION-NUMBER` (code 103), the ID (101, also for an ID of no one) and the
//!   mobile (102).
//!
//! The fault knobs of [`rabt_sandbox::simulator`] apply to every call, before anything
//! else, rendered in each API's style: Yakeen's server error is fault 99, its rate
//! limit fault 13 with `Retry-After` (both HTTP 500); Yakeen lite's are code 100 (500)
//! and the gateway's 429 `Usage limit exceeded`. Answers are serialised with the
//! crate's own wire types, and Yakeen's `logId` and Yakeen lite's `referenceNumber`
//! count up from fixed values, so a fresh simulator's first answers are the golden
//! fixtures byte for byte.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::routing::{get, post};
use rabt_adapter::ConfigError;
use rabt_sandbox::simulator::{KnobsHandle, knobs_routes};
use rabt_sandbox::world::World;
use rabt_sandbox::{Simulated, SimulatorParts};

use crate::client::YAKEEN_PATH;
use crate::lite::OWNS_MOBILE_ROUTE;
use crate::{Interior, YakeenCredentials, YakeenLiteCredentials};

mod owns_mobile;
mod yakeen;

/// The `logId` of a fresh simulator's first Yakeen answer.
pub const FIRST_LOG_ID: u64 = 90_210_000_001;

#[derive(Debug)]
struct Sim {
    world: Arc<World>,
    yakeen: YakeenCredentials,
    lite: YakeenLiteCredentials,
    knobs: KnobsHandle,
    /// Answers given so far, for `logId` and `referenceNumber`.
    answers: AtomicU64,
}

impl Sim {
    /// The next answer's sequence number, from 0.
    fn next_answer(&self) -> u64 {
        self.answers.fetch_add(1, Ordering::Relaxed)
    }
}

/// The simulator's router: Yakeen's SOAP endpoint, Yakeen lite's ownership check and
/// the `/_sim/` knob routes.
pub fn router(
    world: Arc<World>,
    yakeen: YakeenCredentials,
    lite: YakeenLiteCredentials,
    knobs: KnobsHandle,
) -> Router {
    let sim = Arc::new(Sim {
        world,
        yakeen,
        lite,
        knobs: knobs.clone(),
        answers: AtomicU64::new(0),
    });
    Router::new()
        .route(YAKEEN_PATH, post(yakeen::handle))
        .route(OWNS_MOBILE_ROUTE, get(owns_mobile::handle))
        .with_state(sim)
        .merge(knobs_routes(knobs))
}

impl Simulated for Interior {
    fn simulator(&self, parts: SimulatorParts<'_>) -> Result<Router, ConfigError> {
        let yakeen = Interior::yakeen(parts.settings)?;
        let lite = Interior::lite(parts.settings)?;
        Ok(router(parts.world, yakeen, lite, parts.knobs))
    }
}

#[cfg(test)]
mod tests;

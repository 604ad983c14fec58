//! How the binary serves an agency's simulator: the adapter crate's registration
//! ([`rabt_adapter::Registration`]) also says how its simulator is built, so that the
//! binary keeps one line per agency for both.

use std::fmt;
use std::sync::Arc;

use axum::Router;
use rabt_adapter::http::Secret;
use rabt_adapter::{ConfigError, Registration, Settings};

use crate::callback::CallbackSender;
use crate::simulator::KnobsHandle;
use crate::world::World;

/// What a simulator is built from.
pub struct SimulatorParts<'a> {
    /// The world it answers from.
    pub world: Arc<World>,
    /// The agency's settings: the simulator accepts the credentials they hold.
    pub settings: &'a dyn Settings,
    /// Its fault knobs (shared with its `/_sim/` routes and its callbacks).
    pub knobs: KnobsHandle,
    /// Where its callbacks go, for an agency that calls back (built on `knobs`).
    pub callbacks: CallbackSender,
}

impl fmt::Debug for SimulatorParts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatorParts")
            .field("settings", &self.settings)
            .field("knobs", &self.knobs)
            .field("callbacks", &self.callbacks)
            .finish_non_exhaustive()
    }
}

impl SimulatorParts<'_> {
    /// The simulator of an agency that takes an API key and answers later by callback
    /// (health's and municipal's): `router` given the world, the key the settings
    /// hold, the knobs and the callback sender.
    pub fn with_api_key_calling_back(
        self,
        router: impl FnOnce(Arc<World>, Secret, KnobsHandle, CallbackSender) -> Router,
    ) -> Result<Router, ConfigError> {
        let api_key = self.settings.api_key()?;
        Ok(router(self.world, api_key, self.knobs, self.callbacks))
    }
}

/// An agency with a simulator: its router, speaking plain HTTP. The binary serves it
/// over mutual TLS ([`crate::tls`]) when [`Registration::mutual_tls`] says so.
pub trait Simulated: Registration {
    /// The simulator, accepting the credentials of `parts.settings`.
    fn simulator(&self, parts: SimulatorParts<'_>) -> Result<Router, ConfigError>;
}

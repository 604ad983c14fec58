//! What the integration tests share: the simulator's credentials and an adapter for
//! a base URL.
#![allow(dead_code, clippy::unwrap_used)] // each test binary uses part; a failed unwrap is a failed test

use std::sync::Arc;
use std::time::Duration;

use rabt_adapter::http::Secret;
use rabt_adapter_interior::{
    InteriorAdapter, InteriorConfig, YakeenCredentials, YakeenLiteCredentials, simulator,
};
use rabt_core::UnifiedNumber;
use rabt_sandbox::simulator::KnobsHandle;
use rabt_sandbox::world::World;

/// The credentials the simulator accepts (a password with XML's special characters).
pub(crate) fn yakeen() -> YakeenCredentials {
    YakeenCredentials {
        user_name: "rabt-sim".into(),
        password: Secret::new("p@ss&<word>"),
        charge_code: Secret::new("CC-1447"),
    }
}

/// Yakeen lite's credentials the simulator accepts.
pub(crate) fn lite() -> YakeenLiteCredentials {
    YakeenLiteCredentials {
        app_id: "rabt-app".into(),
        app_key: Secret::new("lite-app-key"),
        service_key: Secret::new("lite-service-key"),
        organization_number: UnifiedNumber::parse("7000000001").unwrap(),
    }
}

/// The simulator of the standard world.
pub(crate) fn router(knobs: KnobsHandle) -> axum::Router {
    simulator::router(Arc::new(World::standard()), yakeen(), lite(), knobs)
}

/// An adapter for `base`, with the right credentials or every one of them wrong.
pub(crate) fn adapter(base: &str, valid: bool) -> InteriorAdapter {
    let (mut yakeen, mut lite) = (yakeen(), lite());
    if !valid {
        yakeen.password = Secret::new("wrong-password");
        yakeen.charge_code = Secret::new("wrong-charge");
        lite.app_key = Secret::new("wrong-key");
        lite.service_key = Secret::new("wrong-service");
    }
    InteriorAdapter::new(InteriorConfig {
        base_url: base.parse().unwrap(),
        lite_base_url: None,
        yakeen,
        lite,
        timeout: Duration::from_secs(30),
    })
    .unwrap()
}

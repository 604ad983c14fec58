//! What the tests of every adapter set up alike: its wire fixtures, the round trip of
//! a wire type through one, the simulator of an agency that calls back with its
//! callbacks off, and as many national IDs as a batch needs.

use std::sync::Arc;

use axum::Router;
use rabt_adapter::http::Secret;
use rabt_core::{Agency, NationalId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::callback::{CallbackSender, CallbackTarget};
use crate::simulator::{Knobs, KnobsHandle};
use crate::world::World;

/// An adapter's wire fixture `name`, under `tests/fixtures/wire/` of the crate at
/// `crate_dir` (its tests pass `env!("CARGO_MANIFEST_DIR")`), as JSON.
///
/// # Panics
///
/// If the file is missing or is not JSON: a bug in the test.
pub fn wire_fixture(crate_dir: &str, name: &str) -> Value {
    let path = format!("{crate_dir}/tests/fixtures/wire/{name}");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the fixture {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

/// Parses `json` (the fixture `name`) into the wire type `T` and checks that `T`
/// writes it back unchanged: no field of the agency's is lost, renamed or added.
///
/// # Panics
///
/// If it does not parse or does not come back the same: the wire type is wrong.
pub fn round_trip<T: DeserializeOwned + Serialize>(json: &Value, name: &str) -> T {
    let parsed: T = serde_json::from_value(json.clone())
        .unwrap_or_else(|e| panic!("{name} does not parse: {e}"));
    let again =
        serde_json::to_value(&parsed).unwrap_or_else(|e| panic!("{name} cannot be written: {e}"));
    assert_eq!(again, *json, "{name}");
    parsed
}

/// The simulator of an agency that accepts now and calls back later, with its
/// callbacks switched off (`never_call_back`, and a sender aimed at a closed port):
/// for its tests of the HTTP answers alone. `router` is the agency's own, given the
/// standard world, the API key `key`, the knobs and the sender; the knobs are handed
/// back for the test to turn.
///
/// # Panics
///
/// Never in practice: the closed port's URL is a constant.
pub fn without_callbacks(
    agency: Agency,
    key: &str,
    router: impl FnOnce(Arc<World>, Secret, KnobsHandle, CallbackSender) -> Router,
) -> (Router, KnobsHandle) {
    let knobs = KnobsHandle::new();
    knobs.set(Knobs {
        never_call_back: true,
        ..Knobs::default()
    });
    let target = CallbackTarget {
        // Port 9 (discard) on loopback: nothing listens, and nothing is sent anyway.
        base_url: url::Url::parse("http://127.0.0.1:9")
            .unwrap_or_else(|e| panic!("the closed port's URL: {e}")),
        secrets: vec![rabt_webhook::Secret::generate()],
    };
    let callbacks = CallbackSender::new(agency, target, knobs.clone());
    let app = router(
        Arc::new(World::standard()),
        Secret::new(key),
        knobs.clone(),
        callbacks,
    );
    (app, knobs)
}

/// `n` distinct, valid national IDs of citizens (`1`, then `00000001`, `00000002`…
/// and the check digit), for a batch as large as a test needs; whether the world holds
/// them does not matter to such a test.
pub fn numbered_national_ids(n: usize) -> Vec<String> {
    (1..=99_999_999u32)
        .filter_map(|i| NationalId::with_check_digit(&format!("1{i:08}")))
        .map(|id| id.as_str().to_owned())
        .take(n)
        .collect()
}

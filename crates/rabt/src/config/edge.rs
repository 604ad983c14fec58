//! `[edge]`: how the API's listener treats clients (timeouts, header size, connections)
//! and how far a JSON body may go.

use std::time::Duration;

use anyhow::bail;
use rabt_api::edge::EdgeSettings;
use rabt_api::json::JsonLimits;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEdge {
    max_connections: usize,
    header_read_timeout_ms: u64,
    max_header_bytes: usize,
    body_read_timeout_ms: u64,
    max_json_depth: usize,
    max_string_chars: usize,
    max_json_members: usize,
}

/// Validates `[edge]`.
pub(super) fn settings(raw: &RawEdge) -> anyhow::Result<(EdgeSettings, JsonLimits)> {
    if !(1..=1_000_000).contains(&raw.max_connections) {
        bail!("`edge.max_connections` must be between 1 and 1000000");
    }
    for (key, value) in [
        ("header_read_timeout_ms", raw.header_read_timeout_ms),
        ("body_read_timeout_ms", raw.body_read_timeout_ms),
    ] {
        if !(100..=600_000).contains(&value) {
            bail!("`edge.{key}` must be between 100 and 600000");
        }
    }
    if !(1024..=1024 * 1024).contains(&raw.max_header_bytes) {
        bail!("`edge.max_header_bytes` must be between 1024 and 1048576");
    }
    if !(8..=128).contains(&raw.max_json_depth) {
        bail!("`edge.max_json_depth` must be between 8 and 128");
    }
    if !(2048..=1024 * 1024).contains(&raw.max_string_chars) {
        bail!("`edge.max_string_chars` must be between 2048 and 1048576");
    }
    if !(100..=1_000_000).contains(&raw.max_json_members) {
        bail!("`edge.max_json_members` must be between 100 and 1000000");
    }
    Ok((
        EdgeSettings {
            max_connections: raw.max_connections,
            header_read_timeout: Duration::from_millis(raw.header_read_timeout_ms),
            max_header_bytes: raw.max_header_bytes,
            body_read_timeout: Duration::from_millis(raw.body_read_timeout_ms),
        },
        JsonLimits {
            max_depth: raw.max_json_depth,
            max_string_chars: raw.max_string_chars,
            max_members: raw.max_json_members,
        },
    ))
}

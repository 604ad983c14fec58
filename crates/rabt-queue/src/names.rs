//! The names of Rabt's exchanges, queues and headers on the broker. Every queue and
//! header name is built here and nowhere else, so the embedded transport, the AMQP
//! transport and the operator tools agree on them; the exchanges are `rabt-core`'s,
//! which the store's outbox names too.

use std::time::Duration;

use rabt_core::Agency;
pub use rabt_core::message::{DEAD_EXCHANGE, EVENTS_EXCHANGE, TASKS_EXCHANGE};

/// The header that carries the reason a message was dead-lettered by Rabt itself.
pub const DEAD_REASON_HEADER: &str = "x-rabt-dead-reason";
/// The reason recorded when a message was returned more often than the delivery limit
/// (RabbitMQ's own word for it in the `x-death` header).
pub const DELIVERY_LIMIT_REASON: &str = "delivery_limit";
/// RabbitMQ's header counting a quorum queue message's earlier deliveries.
pub const DELIVERY_COUNT_HEADER: &str = "x-delivery-count";
/// The content type of every message Rabt publishes.
pub const CONTENT_TYPE: &str = "application/json";

/// The queue of an agency's tasks: `rabt.tasks.<agency>`.
pub fn task_queue(agency: Agency) -> String {
    format!("{TASKS_EXCHANGE}.{agency}")
}

/// The queue of an agency's dead letters: `rabt.dead.<agency>`.
pub fn dead_queue(agency: Agency) -> String {
    format!("{DEAD_EXCHANGE}.{agency}")
}

/// The retry queue of one agency and one tier: `rabt.retry.<agency>.<tier>`, e.g.
/// `rabt.retry.labor.30s`.
pub fn retry_queue(agency: Agency, tier: Duration) -> String {
    format!("rabt.retry.{agency}.{}", tier_label(tier))
}

/// A tier's delay as a short label: `500ms`, `5s`, `2m`, `1h`.
pub fn tier_label(tier: Duration) -> String {
    let millis = tier.as_millis();
    const SECOND: u128 = 1_000;
    const MINUTE: u128 = 60 * SECOND;
    const HOUR: u128 = 60 * MINUTE;
    if millis > 0 && millis.is_multiple_of(HOUR) {
        format!("{}h", millis / HOUR)
    } else if millis > 0 && millis.is_multiple_of(MINUTE) {
        format!("{}m", millis / MINUTE)
    } else if millis > 0 && millis.is_multiple_of(SECOND) {
        format!("{}s", millis / SECOND)
    } else {
        format!("{millis}ms")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn queue_names_follow_the_design() {
        assert_eq!(task_queue(Agency::SaudiPost), "rabt.tasks.saudi-post");
        assert_eq!(dead_queue(Agency::Interior), "rabt.dead.interior");
        assert_eq!(
            retry_queue(Agency::Labor, Duration::from_secs(30)),
            "rabt.retry.labor.30s"
        );
    }

    #[test]
    fn tier_labels_use_the_largest_whole_unit() {
        let label = |ms| tier_label(Duration::from_millis(ms));
        assert_eq!(label(1_000), "1s");
        assert_eq!(label(120_000), "2m");
        assert_eq!(label(600_000), "10m");
        assert_eq!(label(3_600_000), "1h");
        assert_eq!(label(90_000), "90s");
        assert_eq!(label(250), "250ms");
        assert_eq!(label(1_500), "1500ms");
    }
}

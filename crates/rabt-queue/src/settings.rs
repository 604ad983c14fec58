//! How the transport behaves: delivery limit, retry tiers, heartbeat, publish bound.

use std::time::Duration;

use crate::error::QueueError;

/// The transport's tunables. Start from [`Settings::default`] and change what you need.
///
/// The delivery limit and the retry tiers become queue arguments: RabbitMQ refuses to
/// re-declare an existing queue with other arguments, so changing them on a running
/// broker needs the old queues drained and deleted first (or a policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// How often a task queue may hand the same message back (requeue, or a consumer
    /// that died) before it is dead-lettered to `rabt.dead.<agency>`. Default 10.
    pub delivery_limit: u32,
    /// The delays of the retry tiers: 1 s, 2 s, 5 s, 10 s, 30 s, 2 min, 10 min by default.
    /// [`crate::Transport::publish_delayed`] picks the smallest tier not shorter than the
    /// delay asked for.
    pub retry_tiers: Vec<Duration>,
    /// The AMQP heartbeat we ask for; a connection silent for twice as long is dead.
    /// Default 10 s.
    pub heartbeat: Duration,
    /// The bound on one `publish` call, from the call to the last confirm. Default 10 s.
    pub publish_timeout: Duration,
    /// The replication group of each quorum queue (`x-quorum-initial-group-size`): how
    /// many cluster nodes hold a copy, 3 in a 3-node cluster. `None` (the default)
    /// leaves it to the broker and sends no argument: queues declared without it
    /// cannot be re-declared with it (RabbitMQ refuses inequivalent arguments).
    pub quorum_size: Option<u32>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            delivery_limit: 10,
            retry_tiers: [1, 2, 5, 10, 30, 120, 600]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            heartbeat: Duration::from_secs(10),
            publish_timeout: Duration::from_secs(10),
            quorum_size: None,
        }
    }
}

impl Settings {
    /// Checks the settings and puts the tiers in ascending order without duplicates.
    pub(crate) fn validated(mut self) -> Result<Settings, QueueError> {
        self.retry_tiers.sort();
        self.retry_tiers.dedup();
        if self.retry_tiers.first().is_some_and(|t| t.as_millis() == 0) {
            return Err(invalid("a retry tier must be at least 1 ms"));
        }
        // x-message-ttl is a 32-bit count of milliseconds on the broker.
        if self
            .retry_tiers
            .last()
            .is_some_and(|t| t.as_millis() > u128::from(u32::MAX))
        {
            return Err(invalid("a retry tier must be shorter than 49 days"));
        }
        if self.heartbeat.as_secs() == 0 || self.heartbeat.as_secs() > u64::from(u16::MAX) {
            return Err(invalid("the heartbeat must be between 1 s and 65535 s"));
        }
        if self.publish_timeout.is_zero() {
            return Err(invalid("the publish timeout must not be zero"));
        }
        if self.quorum_size == Some(0) {
            return Err(invalid("a quorum queue needs at least one replica"));
        }
        Ok(self)
    }

    /// The retry tier used for `delay`: the smallest tier not shorter than it, or the
    /// longest tier when every tier is shorter. `None` only when there are no tiers.
    pub fn tier_for(&self, delay: Duration) -> Option<Duration> {
        self.retry_tiers
            .iter()
            .copied()
            .filter(|tier| *tier >= delay)
            .min()
            .or_else(|| self.retry_tiers.iter().copied().max())
    }

    /// The longest retry tier not longer than `wait`, or the shortest tier when every
    /// tier is longer: for a task that must be back no later than `wait` (a breaker's
    /// cooldown), where [`Settings::tier_for`] would round up. `None` only when there
    /// are no tiers.
    pub fn tier_within(&self, wait: Duration) -> Option<Duration> {
        self.retry_tiers
            .iter()
            .copied()
            .filter(|tier| *tier <= wait)
            .max()
            .or_else(|| self.retry_tiers.iter().copied().min())
    }
}

fn invalid(reason: &str) -> QueueError {
    QueueError::InvalidSettings(reason.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn defaults_match_deploy_rabt_toml() {
        let s = Settings::default();
        assert_eq!(s.delivery_limit, 10);
        assert_eq!(
            s.retry_tiers,
            vec![
                secs(1),
                secs(2),
                secs(5),
                secs(10),
                secs(30),
                secs(120),
                secs(600)
            ]
        );
        assert_eq!(s.heartbeat, secs(10));
        assert_eq!(s.publish_timeout, secs(10));
        assert!(s.validated().is_ok());
    }

    #[test]
    fn the_smallest_tier_not_shorter_than_the_delay_is_picked() {
        let s = Settings::default();
        assert_eq!(s.tier_for(Duration::ZERO), Some(secs(1)));
        assert_eq!(s.tier_for(secs(1)), Some(secs(1)));
        assert_eq!(s.tier_for(Duration::from_millis(1_001)), Some(secs(2)));
        assert_eq!(s.tier_for(Duration::from_millis(4_500)), Some(secs(5)));
        assert_eq!(s.tier_for(secs(31)), Some(secs(120)));
        assert_eq!(
            s.tier_for(secs(3_600)),
            Some(secs(600)),
            "longest when none fits"
        );
        let none = Settings {
            retry_tiers: vec![],
            ..Settings::default()
        };
        assert_eq!(none.tier_for(secs(1)), None);
        assert_eq!(none.tier_within(secs(1)), None);
    }

    #[test]
    fn validation_sorts_tiers_and_rejects_nonsense() {
        let s = Settings {
            retry_tiers: vec![secs(30), secs(1), secs(30)],
            ..Settings::default()
        }
        .validated()
        .unwrap();
        assert_eq!(s.retry_tiers, vec![secs(1), secs(30)]);

        let zero_tier = Settings {
            retry_tiers: vec![Duration::ZERO],
            ..Settings::default()
        };
        assert!(zero_tier.validated().is_err());
        let zero_heartbeat = Settings {
            heartbeat: Duration::from_millis(500),
            ..Settings::default()
        };
        assert!(zero_heartbeat.validated().is_err());
        let zero_timeout = Settings {
            publish_timeout: Duration::ZERO,
            ..Settings::default()
        };
        assert!(zero_timeout.validated().is_err());
    }
}

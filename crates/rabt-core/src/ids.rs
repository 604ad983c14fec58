//! Ids of Rabt's own records. Each is a UUIDv7 (time ordered, so ids sort by creation)
//! written with a prefix that says what it names: a log line with `task_…` in it needs
//! no field name to be read.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A string that is not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a {kind} id (expected `{prefix}` and 32 hex digits)")]
pub struct IdError {
    kind: &'static str,
    prefix: &'static str,
    value: String,
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Uuid);

        impl $name {
            /// The text prefix of this kind of id.
            pub const PREFIX: &'static str = $prefix;

            /// A new id, ordered after every id made earlier by this process.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// The id's UUID.
            pub fn uuid(&self) -> Uuid {
                self.0
            }

            /// Parses `prefix` + 32 lower-case hex digits.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                let err = || IdError { kind: $kind, prefix: $prefix, value: s.chars().take(64).collect() };
                let hex = s.strip_prefix($prefix).ok_or_else(err)?;
                if hex.len() != 32 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                    return Err(err());
                }
                Uuid::try_parse(hex).map(Self).map_err(|_| err())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix, self.0.simple())
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }
    };
}

prefixed_id!(
    /// A cooperative's request to Rabt (`req_…`).
    RequestId,
    "req_",
    "request"
);
prefixed_id!(
    /// One call to one agency service on behalf of a request (`task_…`).
    TaskId,
    "task_",
    "task"
);
prefixed_id!(
    /// A callback an agency sent to Rabt (`cb_…`).
    CallbackId,
    "cb_",
    "callback"
);
prefixed_id!(
    /// A cooperative onboarded to Rabt (`coop_…`).
    CooperativeId,
    "coop_",
    "cooperative"
);
prefixed_id!(
    /// A message that could not be processed, kept in the database for operators to
    /// list, replay or purge (`dl_…`).
    DeadLetterId,
    "dl_",
    "dead letter"
);
prefixed_id!(
    /// A signed notification of a request's completion to its cooperative (`ntf_…`);
    /// also its `webhook-id`, the same on every retry, so receivers deduplicate on it.
    NotificationId,
    "ntf_",
    "notification"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text() {
        let id = RequestId::new();
        let text = id.to_string();
        assert!(text.starts_with("req_") && text.len() == 36, "{text}");
        assert_eq!(text.parse::<RequestId>().unwrap(), id);
    }

    #[test]
    fn notification_ids_are_prefixed_ntf() {
        let id = NotificationId::new();
        let text = id.to_string();
        assert!(text.starts_with("ntf_") && text.len() == 36, "{text}");
        assert_eq!(text.parse::<NotificationId>().unwrap(), id);
        assert!(
            RequestId::new()
                .to_string()
                .parse::<NotificationId>()
                .is_err()
        );
    }

    #[test]
    fn dead_letter_ids_are_prefixed_dl() {
        let id = DeadLetterId::new();
        let text = id.to_string();
        assert!(text.starts_with("dl_") && text.len() == 35, "{text}");
        assert_eq!(text.parse::<DeadLetterId>().unwrap(), id);
        assert!(TaskId::new().to_string().parse::<DeadLetterId>().is_err());
    }

    #[test]
    fn ids_are_time_ordered() {
        let first = TaskId::new();
        let second = TaskId::new();
        assert!(first < second);
        assert!(first.to_string() < second.to_string());
    }

    #[test]
    fn a_foreign_prefix_or_bad_hex_is_rejected() {
        let task = TaskId::new().to_string();
        assert!(task.parse::<RequestId>().is_err());
        assert!("req_0123".parse::<RequestId>().is_err());
        assert!(
            "req_0193B3C1E6F87C2A9D4E5F60718293A4"
                .parse::<RequestId>()
                .is_err()
        );
        assert!(
            "req_0193b3c1-e6f8-7c2a-9d4e-5f60718293"
                .parse::<RequestId>()
                .is_err()
        );
    }
}

//! The domain of Rabt, with no IO: what a cooperative may ask, of which agency, and what
//! an answer can be.
//!
//! Everything that crosses Rabt's edge is parsed into these types once, with a precise
//! error, so the rest of the code never sees an unchecked national ID or a free-form
//! agency name. This crate depends on no other crate of ours and never names a
//! database, a broker or an HTTP type.
//!
//! Layout:
//! - [`ident`]: identifiers of people, establishments and addresses (national ID with
//!   its Luhn check digit, unified number, short address, mobile…).
//! - [`agency`]: the closed set of agencies.
//! - [`service`]: service names such as `post.address.verify`.
//! - [`ids`]: prefixed ids of our own records (`req_…`, `task_…`, `coop_…`).
//! - [`message`]: the versioned messages on the broker (tasks and events).
//! - [`state`]: the request and task state machines.
//! - [`outcome`]: an agency's answer ([`Outcome`]) and a request's [`Verdict`].
//! - [`retry`]: the retry policy and its backoff.
//! - [`limit`]: rate limits (`5/s`) and the GCRA step that enforces them.
//! - [`date`]: dates in both calendars (Umm al-Qura Hijri and Gregorian).
//! - [`pii`]: masking what looks like personal data in free text (error messages).
//! - [`target`]: which addresses and host names an outbound notification may never
//!   reach (loopback, private, link-local…: the SSRF rules).

#![forbid(unsafe_code)]

pub mod agency;
pub mod date;
pub mod ident;
pub mod ids;
pub mod limit;
pub mod message;
pub mod outcome;
pub mod pii;
pub mod retry;
pub mod service;
pub mod state;
pub mod target;

pub use agency::{Agency, UnknownAgency};
pub use date::{BirthMonth, Calendar, DateError, DualDate, HijriDate};
pub use ident::{
    AdditionalNumber, BuildingNumber, IdKind, IdentifierError, Mobile, NationalId, PostalCode,
    ShortAddress, UnifiedNumber,
};
pub use ids::{
    CallbackId, CooperativeId, DeadLetterId, IdError, NotificationId, RequestId, TaskId,
};
pub use limit::{RateDecision, RateLimit, RateLimitError};
pub use message::{DEAD_EXCHANGE, EVENTS_EXCHANGE, Event, EventV1, TASKS_EXCHANGE, TaskMessage};
pub use outcome::{Outcome, Verdict};
pub use retry::{InvalidRetryPolicy, RetryPolicy};
pub use service::{ServiceName, ServiceNameError};
pub use state::{IllegalTransition, RequestStatus, TaskEvent, TaskState, TaskStatus};

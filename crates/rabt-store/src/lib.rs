//! Rabt's database: the source of truth for every request and task. It stores
//! cooperatives and their API keys, operators, requests, tasks, idempotency keys,
//! callbacks seen, the transactional outbox and the append-only audit log, on SQLite
//! (the embedded mode, `rabt demo`) or PostgreSQL (production, shared by any number of
//! `rabt serve` processes), behind one [`Store`] type.
//!
//! SQL is written once, in the subset both backends understand, through sqlx's Any
//! driver: timestamps are BIGINT unix milliseconds, ids and enum names TEXT, JSON TEXT,
//! booleans INTEGER 0/1. Only row locking (`FOR UPDATE`, `SKIP LOCKED`) and the
//! migration files are spelled per dialect. Every write path is one transaction and is
//! correct under concurrency: row locks and conditional updates on PostgreSQL (READ
//! COMMITTED), one writer at a time (`BEGIN IMMEDIATE`) on SQLite.
//!
//! This crate depends on rabt-core only; it never names the broker, HTTP or an agency
//! adapter. Messages for the broker are rows in the outbox, published by someone else.
//!
//! Layout:
//! - [`connect`]: [`Store`], [`Dialect`], connection settings, write transactions.
//! - [`migrate`]: the embedded migrations (`migrations/{postgres,sqlite}/`) and their
//!   runner.
//! - [`cooperatives`]: cooperatives, API keys, operators.
//! - [`lifecycle`]: a cooperative's keys (rotation, revocation), services,
//!   deactivation, and activity; audited.
//! - [`accept`]: the accept path (request + tasks + outbox + audit, idempotent).
//! - [`reads`]: a cooperative's view of its requests.
//! - [`tasks`]: the worker path: start, retry, submit.
//! - [`complete`]: answers, deadlines, verdicts and completion events.
//! - [`compose`]: releasing or skipping the checks of a composite request that waited
//!   for others.
//! - [`callbacks`]: agency callbacks accepted by the API and applied by workers.
//! - [`dead_letters`]: messages that could never be processed, recorded for operators
//!   (ending their tasks), replayed or purged.
//! - [`pauses`]: agency maintenance pauses, read by every worker.
//! - [`outbox`]: claiming, deleting and re-queueing outbox messages.
//! - [`notifications`]: signed notifications to cooperatives (queued with the
//!   completion, claimed with a lease, every attempt recorded) and their secrets.
//! - [`audit`]: the append-only audit log, sealed into an RFC 9162 Merkle tree with
//!   signed checkpoints (`audit::seal`), its proofs and evidence (`audit::proofs`) and
//!   its verification (`audit::verify`); digests of the people a request concerns.
//! - [`retention`]: completed requests' payloads replaced by digests after
//!   `retention.payloads`.
//! - [`limits`]: limits shared by every process: cooperatives' rate limits and daily
//!   quotas, agencies' rates and concurrency.
//! - [`audit`]: the append-only audit log.
//! - [`console`]: console sessions, process heartbeats, and the aggregates of the
//!   operators' overview and request list.
//! - `codec`: how values map to columns; `filter`: page reads with optional filters;
//!   `error`: [`StoreError`].

#![forbid(unsafe_code)]

pub mod accept;
pub mod audit;
pub mod callbacks;
mod codec;
pub mod complete;
pub mod compose;
pub mod connect;
pub mod console;
pub mod cooperatives;
pub mod dead_letters;
mod error;
mod filter;
mod group;
mod kept;
pub mod key_cache;
pub mod lifecycle;
pub mod limits;
pub mod migrate;
pub mod notifications;
pub mod outbox;
pub mod pauses;
pub mod reads;
pub mod retention;
pub mod tasks;

pub use accept::group::GroupCommit;
pub use accept::{AcceptAnswer, Accepted, IdempotencyRecord, NewRequest, NewTask, Pending};
pub use audit::proofs::{Evidence, EvidenceEntry, SealedEntry, StoredCheckpoint};
pub use audit::seal::{SealReport, Sealer};
pub use audit::verify::{Problem, VerifyOptions, VerifyReport};
pub use audit::{Actor, AuditEntry, AuditQuery, NewAuditEntry, SubjectMatch};
pub use callbacks::{CallbackAccepted, CallbackRecord, NewCallback};
pub use complete::{Completion, Expired, RequestCompleted, TaskCompletion};
pub use compose::{Decided, Decider, Decision, Release};
pub use connect::{Dialect, Store};
pub use console::{ConsoleSession, Ended, Heartbeat, OpsRequestQuery, OpsRequestSummary};
pub use cooperatives::{Cooperative, NewCooperative, Operator, OperatorRole};
pub use dead_letters::{
    DeadLetter, DeadLetterQuery, DeadLetterRecorded, DeadLetterState, EndedTask, NewDeadLetter,
    PurgeOutcome, Queued, ReplayOutcome,
};
pub use error::StoreError;
pub use group::GroupStats;
pub use group::worker::{CompletionGroup, StartGroup};
pub use lifecycle::{Activity, ApiKeyInfo, Revoked, Rotated, key_id};
pub use limits::CooperativeLimit;
pub use notifications::{
    AttemptRecord, AttemptReport, DueNotification, Lease, NextStep, NotificationRecord,
    NotificationStatus,
};
pub use outbox::{Handoff, HandoffReceiver, OutboxRow, TRACEPARENT_HEADER};
pub use pauses::{AgencyPause, PauseOutcome, Resumed};
/// The exchanges an outbox row names, defined in `rabt-core` (the queue declares them).
pub use rabt_core::{EVENTS_EXCHANGE, TASKS_EXCHANGE};
pub use reads::{LateAnswer, ListQuery, RequestRecord, RequestSummary, TaskView};
pub use tasks::{StartResult, Taken, TaskRecord};

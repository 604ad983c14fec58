//! `rabt-bench`: Rabt's benchmark harness, one subcommand per stage, driven by
//! `tests/bench/run.sh` (which starts RabbitMQ, PostgreSQL, Rabt and the peer, and stops
//! them). Each measuring subcommand writes one JSON record; `report` turns a run's
//! records into `docs/benchmarks.md` and `docs/benchmarks.json`, `check` is the quick
//! run's sanity check. It is a measuring tool, not part of Rabt: it depends on lapin
//! and hyper directly and on none of Rabt's crates, so it measures Rabt from outside.
//!
//! Layout:
//! - `l0`: L0, raw lapin publish (confirms) and consume (acks) on a quorum queue
//! - `wrk`: saturation with wrk and `tests/bench/wrk-post.lua`
//! - `openloop`: the fixed-rate, coordinated-omission-corrected generator (hyper)
//! - `latency`: the HDR histogram and its percentiles
//! - `procs`: CPU seconds and peak RSS of process trees from `/proc`
//! - `profile`: a `perf report` read into hotspots and components
//! - `bodies`: the golden request bodies
//! - `record`: the result files and the summary (ratios, targets)
//! - `markdown`: docs/benchmarks.md
//! - `check`: the quick run's sanity check
//! - `cli`: the subcommands
//! - `error`: the error type

#![forbid(unsafe_code)]

pub mod bodies;
pub mod check;
pub mod cli;
pub mod error;
pub mod l0;
pub mod latency;
pub mod markdown;
pub mod openloop;
pub mod procs;
pub mod profile;
pub mod record;
pub mod wrk;

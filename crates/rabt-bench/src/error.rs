//! The one error type of the harness.

use std::path::PathBuf;

/// Why a benchmark step could not run or its results cannot be trusted.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file or a tool's output is not the JSON expected.
    #[error("{what} is not the JSON expected: {source}")]
    Json {
        /// What was being read.
        what: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// RabbitMQ refused or failed an operation.
    #[error("RabbitMQ: {0}")]
    Amqp(#[from] lapin::Error),
    /// An argument or an input is unusable.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// Which argument or input.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// An external tool (wrk, perf) could not be started.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An external tool ran but did not give what was expected.
    #[error("{program} failed: {detail}")]
    Tool {
        /// The program.
        program: String,
        /// What went wrong, with its output.
        detail: String,
    },
    /// The latency histogram refused a value or its bounds.
    #[error("histogram: {0}")]
    Histogram(String),
    /// The results of a run are not sane (`check`): no numbers, errors, lost requests.
    #[error("the results are not sane:\n{0}")]
    Insane(String),
}

/// Results of the harness.
pub type Result<T> = std::result::Result<T, BenchError>;

impl BenchError {
    /// An unusable argument or input.
    pub fn invalid(what: &'static str, detail: impl Into<String>) -> BenchError {
        BenchError::Invalid {
            what,
            detail: detail.into(),
        }
    }
}

//! The `rabt-bench` binary: parses the command line and runs the subcommand (see the
//! library's documentation for what each does).

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use rabt_bench::cli;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let command = cli::Cli::parse();
    match cli::run(command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let mut message = format!("rabt-bench: {error}");
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

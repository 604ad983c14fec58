//! `rabt-pii-scan DIR…`: looks for the fixture world's identity numbers, mobiles and
//! names in every file under the folders given (tests/run.sh passes the logs of every
//! process the end-to-end tests ran). Exits non-zero listing what it found, masked.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use rabt_tests::pii::{Needles, SEED};

fn main() -> ExitCode {
    let dirs: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if dirs.is_empty() {
        eprintln!("usage: rabt-pii-scan DIR...");
        return ExitCode::FAILURE;
    }
    let needles = Needles::of_world(SEED);
    let (mut files, mut found) = (0, Vec::new());
    for dir in &dirs {
        match needles.scan_dir(dir) {
            Ok((n, findings)) => {
                files += n;
                found.extend(findings);
            }
            Err(err) => {
                eprintln!("rabt-pii-scan: cannot read {}: {err}", dir.display());
                return ExitCode::FAILURE;
            }
        }
    }
    println!(
        "rabt-pii-scan: {files} files searched for {} values of the fixture world",
        needles.len()
    );
    if files == 0 {
        eprintln!("rabt-pii-scan: no file to search: did the end-to-end tests run?");
        return ExitCode::FAILURE;
    }
    for finding in found.iter().take(50) {
        eprintln!("  {finding}");
    }
    if found.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "rabt-pii-scan: {} personal values found in logs",
            found.len()
        );
        ExitCode::FAILURE
    }
}

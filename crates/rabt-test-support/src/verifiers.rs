//! Independent verifiers, run in the suite's Python (tests/requirements.txt): code that
//! is not Rabt's checks what Rabt produced.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::env::python;

/// Runs tests/audit_check.py (pymerkle and cryptography) on `document` — sealed
/// entries, Rabt's roots, inclusion and consistency proofs, signed checkpoints — and
/// returns its JSON summary.
///
/// # Panics
///
/// When the script cannot run, or finds a proof, root or signature that does not
/// verify, or a flipped byte that still does: a failed test.
pub fn audit_check(document: &Value) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/audit_check.py");
    let mut child = Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {} {script}: {e}", python()));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(document.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("cannot write to audit_check.py: {e}"));
    }
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("audit_check.py did not finish: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "audit_check.py failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("audit_check.py printed no summary ({e}): {stdout}"))
}

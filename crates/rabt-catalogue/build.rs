//! Embeds every JSON file of the workspace's `schemas/` folder into the library, so the
//! catalogue is the same wherever the binary runs (`rabt demo` from any directory).
//!
//! Writes `$OUT_DIR/embedded_schemas.rs`: a sorted table of `(path relative to schemas/,
//! include_str!(absolute path))`. `schemas/openapi.json` is left out: another crate
//! generates it from the API, and embedding it here would rebuild the catalogue (and
//! everything above it) each time it is regenerated.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs, io};

/// Files under schemas/ that are not the catalogue's.
const EXCLUDED: &[&str] = &["openapi.json"];

fn main() -> io::Result<()> {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").ok_or_else(|| {
        io::Error::other("CARGO_MANIFEST_DIR is not set (build scripts run under cargo)")
    })?);
    let schemas = manifest_dir.join("../../schemas");
    let schemas = schemas
        .canonicalize()
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", schemas.display())))?;
    // A new or removed file changes the directory, an edited one its own mtime.
    println!("cargo:rerun-if-changed={}", schemas.display());

    let mut files = Vec::new();
    collect(&schemas, &schemas, &mut files)?;
    files.sort();

    let mut table = String::from(
        "/// Every JSON file under `schemas/`, by its path relative to that folder.\n\
         pub(crate) static FILES: &[(&str, &str)] = &[\n",
    );
    for (relative, absolute) in &files {
        println!("cargo:rerun-if-changed={}", absolute.display());
        let absolute = absolute.to_str().ok_or_else(|| {
            io::Error::other(format!("{}: path is not UTF-8", absolute.display()))
        })?;
        writeln!(table, "    ({relative:?}, include_str!({absolute:?})),")
            .map_err(io::Error::other)?;
    }
    table.push_str("];\n");

    let out =
        PathBuf::from(env::var_os("OUT_DIR").ok_or_else(|| {
            io::Error::other("OUT_DIR is not set (build scripts run under cargo)")
        })?);
    fs::write(out.join("embedded_schemas.rs"), table)
}

/// Collects `(relative path with '/' separators, absolute path)` of every `.json` file.
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect(root, &path, files)?;
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let relative = path
            .strip_prefix(root)
            .map_err(io::Error::other)?
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        if !EXCLUDED.contains(&relative.as_str()) {
            files.push((relative, path));
        }
    }
    Ok(())
}

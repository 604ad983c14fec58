//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys, and the
//! checkpoints they carry (<https://c2sp.org/tlog-checkpoint>) — the format of the Go
//! checksum database and Sigstore's Rekor, so existing tools read Rabt's.
//!
//! A note is text ending in a newline, a blank line, then one line per signature:
//! `— <key name> <base64(key id ‖ signature)>`. For Ed25519 the key id is the first four
//! bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key), and the signature covers the text.
//! Keys are written as the Go `note` package writes them:
//! `name+<hex key id>+<base64(0x01 ‖ public key)>` (the verifier key a cooperative
//! pins) and `PRIVATE+KEY+name+<hex key id>+<base64(0x01 ‖ seed)>` (the signing key).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer, Verifier};
use sha2::{Digest, Sha256};

use crate::error::AuditError;
use crate::hash::{Hash, hex};

/// The algorithm byte of Ed25519 in signed notes.
const ED25519: u8 = 0x01;
/// What starts a signature line: an em dash and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";
const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";

/// A key name: non-empty, without spaces or `+` (the separators of keys and lines).
fn check_name(name: &str, what: &'static str) -> Result<(), AuditError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(AuditError::malformed(
            what,
            "a key name must be non-empty, without spaces or `+`",
        ));
    }
    Ok(())
}

fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update(b"\n");
    hasher.update([ED25519]);
    hasher.update(public);
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// Splits `name+hexid+base64` and checks the id against the key it names.
fn parse_key(text: &str, what: &'static str) -> Result<(String, [u8; 4], [u8; 32]), AuditError> {
    // From the left: names hold no `+`, base64 may.
    let mut parts = text.trim().splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(AuditError::malformed(what, "expected name+keyid+key"));
    };
    check_name(name, what)?;
    let raw = BASE64
        .decode(key)
        .map_err(|_| AuditError::malformed(what, "the key is not base64"))?;
    let (Some(&ED25519), Ok(bytes)) = (raw.first(), <[u8; 32]>::try_from(&raw[1.min(raw.len())..]))
    else {
        return Err(AuditError::malformed(
            what,
            "the key must be 0x01 (Ed25519) and 32 bytes",
        ));
    };
    let id = u32::from_str_radix(id, 16)
        .ok()
        .filter(|_| id.len() == 8)
        .map(u32::to_be_bytes)
        .ok_or_else(|| AuditError::malformed(what, "the key id must be 8 hex digits"))?;
    Ok((name.to_owned(), id, bytes))
}

/// The key that signs checkpoints. Its `Debug` output hides the secret.
#[derive(Clone)]
pub struct SigningKey {
    name: String,
    id: [u8; 4],
    key: ed25519_dalek::SigningKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("name", &self.name)
            .field("id", &hex(&self.id))
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A key named `name` from 32 random bytes (the caller draws them).
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<SigningKey, AuditError> {
        check_name(name, "signing key")?;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let id = key_id(name, key.verifying_key().as_bytes());
        Ok(SigningKey {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// Reads `PRIVATE+KEY+name+hexid+base64(0x01 ‖ seed)`; the id must match.
    pub fn parse(text: &str) -> Result<SigningKey, AuditError> {
        let rest = text
            .trim()
            .strip_prefix(PRIVATE_PREFIX)
            .ok_or_else(|| AuditError::malformed("signing key", "it must start PRIVATE+KEY+"))?;
        let (name, id, seed) = parse_key(rest, "signing key")?;
        let key = SigningKey::from_seed(&name, seed)?;
        if key.id != id {
            return Err(AuditError::malformed(
                "signing key",
                "its key id does not match the key",
            ));
        }
        Ok(key)
    }

    /// The text [`SigningKey::parse`] reads: a secret.
    pub fn to_secret_text(&self) -> String {
        let mut raw = vec![ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "{PRIVATE_PREFIX}{}+{}+{}",
            self.name,
            hex(&self.id),
            BASE64.encode(raw)
        )
    }

    /// The key's name (the name on its signature lines).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public half.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// Signs `text` (which must end in a newline and hold no blank line) into a note.
    pub fn sign(&self, text: &str) -> Result<String, AuditError> {
        if !text.ends_with('\n') || text.contains("\n\n") || text.starts_with('\n') {
            return Err(AuditError::malformed(
                "signed note",
                "the text must end in a newline and hold no blank line",
            ));
        }
        let signature = self.key.sign(text.as_bytes());
        let mut raw = self.id.to_vec();
        raw.extend_from_slice(&signature.to_bytes());
        Ok(format!(
            "{text}\n{SIGNATURE_PREFIX}{} {}\n",
            self.name,
            BASE64.encode(raw)
        ))
    }
}

/// A key that verifies notes, as a cooperative pins it.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: [u8; 4],
    key: ed25519_dalek::VerifyingKey,
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string())
    }
}

impl fmt::Display for VerifierKey {
    /// `name+hexid+base64(0x01 ‖ public key)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = vec![ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{}+{}", self.name, hex(&self.id), BASE64.encode(raw))
    }
}

impl VerifierKey {
    /// Reads `name+hexid+base64(0x01 ‖ public key)`; the id must match.
    pub fn parse(text: &str) -> Result<VerifierKey, AuditError> {
        let (name, id, public) = parse_key(text, "verifier key")?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&public)
            .map_err(|_| AuditError::malformed("verifier key", "not an Ed25519 public key"))?;
        if key_id(&name, &public) != id {
            return Err(AuditError::malformed(
                "verifier key",
                "its key id does not match the key",
            ));
        }
        Ok(VerifierKey { name, id, key })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id, as 8 hex digits.
    pub fn id_hex(&self) -> String {
        hex(&self.id)
    }

    /// The text of `note` if it carries a valid signature by this key (other
    /// signatures are ignored, as the spec asks).
    pub fn open<'n>(&self, note: &'n str) -> Result<&'n str, AuditError> {
        let (text, signatures) = split_note(note)?;
        for line in signatures {
            let Some((name, blob)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(raw) = BASE64.decode(blob) else {
                continue;
            };
            if name != self.name || raw.len() != 4 + 64 || raw[..4] != self.id {
                continue;
            }
            let Ok(signature) = Signature::from_slice(&raw[4..]) else {
                continue;
            };
            if self.key.verify(text.as_bytes(), &signature).is_ok() {
                return Ok(text);
            }
        }
        Err(AuditError::BadSignature(self.to_string()))
    }
}

/// The text of a note and its signature lines (without the prefix).
fn split_note(note: &str) -> Result<(&str, Vec<&str>), AuditError> {
    let bad = |why: &str| AuditError::malformed("signed note", why);
    let at = note
        .rfind("\n\n")
        .ok_or_else(|| bad("no blank line before the signatures"))?;
    let (text, rest) = (&note[..at + 1], &note[at + 2..]);
    if !rest.ends_with('\n') {
        return Err(bad("the note must end in a newline"));
    }
    let lines = rest
        .lines()
        .map(|line| {
            line.strip_prefix(SIGNATURE_PREFIX)
                .ok_or_else(|| bad("a signature line must start with `— `"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if lines.is_empty() {
        return Err(bad("no signature"));
    }
    Ok((text, lines))
}

/// A tree head: origin, size and root (C2SP tlog-checkpoint, without extensions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Names the log (`audit.origin`, e.g. `rabt.example.sa/audit`).
    pub origin: String,
    /// How many entries the tree holds.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
}

impl Checkpoint {
    /// The text that is signed: `origin\nsize\nbase64 root\n`.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        )
    }

    /// Reads a checkpoint's text (extension lines after the root are allowed and
    /// ignored, as the spec says).
    pub fn parse(text: &str) -> Result<Checkpoint, AuditError> {
        let bad = |why: &str| AuditError::malformed("checkpoint", why);
        let mut lines = text.lines();
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or_else(|| bad("no origin line"))?;
        let size = lines
            .next()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .filter(|s| *s == "0" || !s.starts_with('0'))
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| bad("the second line must be the tree size in decimal"))?;
        let root = lines
            .next()
            .ok_or_else(|| bad("no root hash line"))
            .and_then(|r| {
                Hash::from_base64(r).map_err(|_| bad("the root must be base64 of 32 bytes"))
            })?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }

    /// Signs the checkpoint into a note.
    pub fn sign(&self, key: &SigningKey) -> Result<String, AuditError> {
        if self.origin.is_empty() || self.origin.contains('\n') {
            return Err(AuditError::malformed(
                "checkpoint",
                "the origin must be one line",
            ));
        }
        key.sign(&self.body())
    }

    /// The checkpoint of a note signed by `key`.
    pub fn open(note: &str, key: &VerifierKey) -> Result<Checkpoint, AuditError> {
        Checkpoint::parse(key.open(note)?)
    }
}

#[cfg(test)]
mod tests;

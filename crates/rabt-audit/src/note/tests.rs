#![allow(clippy::unwrap_used)] // a panic is how a test reports a failure

use super::*;
use crate::hash::leaf_hash;

fn key() -> SigningKey {
    SigningKey::from_seed("rabt.example.sa/audit", [7; 32]).unwrap()
}

/// The Go `note` package's documented example: the key id of a verifier key is the first
/// four bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ key), and golang.org/x/mod/sumdb/note
/// prints exactly this form (`PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW`).
#[test]
fn the_go_example_key_parses_and_its_id_matches() {
    let key =
        VerifierKey::parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
            .unwrap();
    assert_eq!(key.name(), "PeterNeumann");
    assert_eq!(key.id_hex(), "c74f20a3");
    // The Go example's signed note, verified with its key.
    let note = "If you think cryptography is the answer to your problem,\n\
                then you don't know what your problem is.\n\
                \n\
                \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    assert_eq!(
        key.open(note).unwrap(),
        "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
    );
}

#[test]
fn keys_round_trip_through_their_text() {
    // Seeds whose public keys' base64 holds `+` (parsing must split from the left).
    for seed in 0..64u8 {
        let key = SigningKey::from_seed("rabt.example.sa/audit", [seed; 32]).unwrap();
        assert_eq!(
            VerifierKey::parse(&key.verifier().to_string()).unwrap(),
            key.verifier()
        );
        assert_eq!(
            SigningKey::parse(&key.to_secret_text()).unwrap().verifier(),
            key.verifier()
        );
    }
    let key = key();
    let again = SigningKey::parse(&key.to_secret_text()).unwrap();
    assert_eq!(again.verifier(), key.verifier());
    let verifier = VerifierKey::parse(&key.verifier().to_string()).unwrap();
    assert_eq!(verifier, key.verifier());
    assert!(
        key.verifier()
            .to_string()
            .starts_with("rabt.example.sa/audit+")
    );
    assert!(!format!("{key:?}").contains(&key.to_secret_text()[20..]));
}

#[test]
fn malformed_keys_are_refused() {
    let good = key().verifier().to_string();
    let (rest, blob) = good.rsplit_once('+').unwrap();
    for bad in [
        String::new(),
        "name+abc".to_owned(),
        format!("{rest}+{}", &blob[1..]),
        good.replacen("rabt.example.sa", "other", 1),
        good.replacen('+', "+0", 1),
        format!("with space{}", &good[good.find('+').unwrap()..]),
    ] {
        assert!(VerifierKey::parse(&bad).is_err(), "{bad}");
    }
    assert!(SigningKey::parse(&good).is_err());
    assert!(SigningKey::from_seed("a+b", [1; 32]).is_err());
}

#[test]
fn checkpoints_are_signed_and_opened() {
    let key = key();
    let checkpoint = Checkpoint {
        origin: "rabt.example.sa/audit".into(),
        size: 42,
        root: leaf_hash(b"root"),
    };
    let note = checkpoint.sign(&key).unwrap();
    let lines: Vec<&str> = note.lines().collect();
    assert_eq!(lines[0], "rabt.example.sa/audit");
    assert_eq!(lines[1], "42");
    assert_eq!(lines[2], checkpoint.root.to_base64());
    assert_eq!(lines[3], "");
    assert!(lines[4].starts_with("\u{2014} rabt.example.sa/audit "));
    assert_eq!(
        Checkpoint::open(&note, &key.verifier()).unwrap(),
        checkpoint
    );

    // Any changed byte of the text or signature, or another key, fails.
    for at in 0..note.len() {
        let mut bytes = note.clone().into_bytes();
        if bytes[at] == b'\n' || !bytes[at].is_ascii_alphanumeric() {
            continue;
        }
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        let Ok(changed) = String::from_utf8(bytes) else {
            continue;
        };
        assert!(
            Checkpoint::open(&changed, &key.verifier()).is_err(),
            "byte {at} changed and still verified"
        );
    }
    let other = SigningKey::from_seed("rabt.example.sa/audit", [8; 32]).unwrap();
    assert!(Checkpoint::open(&note, &other.verifier()).is_err());
}

#[test]
fn checkpoint_text_is_strict() {
    let root = leaf_hash(b"r").to_base64();
    assert!(Checkpoint::parse(&format!("o\n12\n{root}\n")).is_ok());
    assert!(Checkpoint::parse(&format!("o\n12\n{root}\next\n")).is_ok());
    for bad in [
        format!("\n12\n{root}\n"),
        format!("o\n012\n{root}\n"),
        format!("o\n-1\n{root}\n"),
        format!("o\n12\n{}\n", &root[4..]),
        "o\n12\n".to_owned(),
    ] {
        assert!(Checkpoint::parse(&bad).is_err(), "{bad:?}");
    }
    assert!(key().sign("no newline").is_err());
    assert!(key().sign("a\n\nb\n").is_err());
}

#!/usr/bin/env python3
"""Independent verification of Rabt's sealed audit log, for the test suite.

Reads a JSON document on stdin that a Rust test assembled from Rabt (the store or the
API) and checks it with code that is not Rabt's:

  entries      the sealed entries' bytes, base64, in leaf order: `pymerkle` (PyPI,
               RFC 9162 hashing with 0x00/0x01 prefixes) builds its own tree of them
  roots        [size, base64 root] pairs Rabt computed: each must be pymerkle's root
  inclusion    {leaf | leaf_hash, index, size, proof, root}: verified by pymerkle
  consistency  {from, to, proof, from_root, to_root}: verified with RFC 9162 §2.1.4.2
               (below, standard library only; pymerkle lays out its own consistency
               proofs differently from the RFC, so it cannot read Rabt's), and the two
               roots must be pymerkle's and consistent by pymerkle's own proof
  checkpoints  {note, key}: the C2SP signed note verified with the `cryptography`
               package's Ed25519, its key id recomputed, its root compared

Then it flips one byte in every entry, proof, root and note and checks that each change
is caught. It prints a JSON summary and exits non-zero on the first failure.
"""

import base64
import hashlib
import json
import sys

try:
    from pymerkle import InmemoryTree, InclusionProof, verify_inclusion, InvalidProof
    from pymerkle.core import _inclusion_path_layout
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError as err:
    sys.exit(f"audit_check.py needs pymerkle and cryptography ({err}); tests/run.sh "
             "installs tests/requirements.txt into its venv")


def b64(text):
    return base64.b64decode(text, validate=True)


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def leaf_hash(entry):
    return hashlib.sha256(b"\x00" + entry).digest()


def flip(data, at=0):
    changed = bytearray(data)
    changed[at % len(changed)] ^= 0x01
    return bytes(changed)


def rfc_consistency(first, second, proof, first_root, second_root):
    """RFC 9162 §2.1.4.2, step by step; True if the proof verifies."""
    if first == second:
        return not proof and first_root == second_root
    if not proof or first < 1 or first > second:
        return False
    path = ([first_root] if first & (first - 1) == 0 else []) + list(proof)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


def pymerkle_inclusion(leaf, index, size, proof, root):
    """True if pymerkle verifies the RFC 9162 inclusion proof (its path is the leaf
    followed by the RFC's siblings, bottom-up; its indices count from one)."""
    rule, _ = _inclusion_path_layout(index + 1, size)
    try:
        verify_inclusion(leaf, root,
                         InclusionProof("sha256", True, size, index + 1, rule, [leaf] + proof),
                         index=index + 1, size=size, algorithm="sha256")
        return True
    except InvalidProof:
        return False


def open_note(note, key_text):
    """The text of a C2SP signed note if it carries a valid Ed25519 signature by the
    verifier key `name+hexid+base64(0x01 || key)`; None otherwise."""
    name, key_id, blob = key_text.split("+", 2)  # names hold no "+", base64 may
    raw = base64.b64decode(blob)
    if raw[0] != 1 or len(raw) != 33:
        return None
    public = raw[1:]
    expected_id = hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]
    if expected_id.hex() != key_id:
        return None
    at = note.rfind("\n\n")
    if at < 0:
        return None
    text, signatures = note[:at + 1], note[at + 2:]
    for line in signatures.splitlines():
        if not line.startswith("\u2014 "):
            continue
        signer, _, sig = line[2:].rpartition(" ")
        try:
            sig = base64.b64decode(sig, validate=True)
        except ValueError:
            continue
        if signer != name or sig[:4] != expected_id or len(sig) != 68:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(sig[4:], text.encode())
            return text
        except InvalidSignature:
            continue
    return None


class Checker:
    def __init__(self, doc):
        self.doc = doc
        self.summary = {"roots": 0, "inclusion": 0, "consistency": 0, "checkpoints": 0,
                        "tampered_caught": 0}
        entries = [b64(e) for e in doc.get("entries", [])]
        self.tree = InmemoryTree(algorithm="sha256")
        for entry in entries:
            self.tree.append_entry(entry)
        self.size = len(entries)
        self.entries = entries

    def fail(self, what):
        print(json.dumps({"failed": what, **self.summary}))
        sys.exit(1)

    def state(self, size):
        return self.tree.get_state(size) if 0 < size <= self.size else None

    def check_roots(self):
        for size, root in self.doc.get("roots", []):
            if self.state(size) != b64(root):
                self.fail(f"pymerkle's root of size {size} differs from Rabt's")
            self.summary["roots"] += 1

    def check_inclusion(self):
        for item in self.doc.get("inclusion", []):
            leaf = leaf_hash(b64(item["leaf"])) if "leaf" in item else b64(item["leaf_hash"])
            proof = [b64(p) for p in item["proof"]]
            root = b64(item["root"])
            index, size = item["index"], item["size"]
            if not pymerkle_inclusion(leaf, index, size, proof, root):
                self.fail(f"inclusion of leaf {index} in {size} does not verify")
            state = self.state(size)
            if state is not None and state != root:
                self.fail(f"root of size {size} is not pymerkle's")
            self.summary["inclusion"] += 1
            # One flipped byte anywhere must be caught.
            for at in range(len(proof)):
                bad = proof[:at] + [flip(proof[at], at)] + proof[at + 1:]
                if pymerkle_inclusion(leaf, index, size, bad, root):
                    self.fail(f"a flipped proof byte of leaf {index} still verified")
                self.summary["tampered_caught"] += 1
            for bad_leaf, bad_root in ((flip(leaf), root), (leaf, flip(root))):
                if pymerkle_inclusion(bad_leaf, index, size, proof, bad_root):
                    self.fail(f"a flipped leaf or root byte of leaf {index} still verified")
                self.summary["tampered_caught"] += 1

    def check_consistency(self):
        for item in self.doc.get("consistency", []):
            first, second = item["from"], item["to"]
            proof = [b64(p) for p in item["proof"]]
            first_root, second_root = b64(item["from_root"]), b64(item["to_root"])
            if not rfc_consistency(first, second, proof, first_root, second_root):
                self.fail(f"consistency {first}..{second} does not verify")
            if self.state(second) is not None:
                if (self.state(first), self.state(second)) != (first_root, second_root):
                    self.fail(f"roots of {first} or {second} are not pymerkle's")
                if first < second:
                    own = self.tree.prove_consistency(first, second)
                    own.verify(first_root, second_root, prior_size=first, later_size=second)
            self.summary["consistency"] += 1
            for at in range(len(proof)):
                bad = proof[:at] + [flip(proof[at], at)] + proof[at + 1:]
                if rfc_consistency(first, second, bad, first_root, second_root):
                    self.fail(f"a flipped byte of consistency {first}..{second} still verified")
                self.summary["tampered_caught"] += 1

    def check_checkpoints(self):
        for item in self.doc.get("checkpoints", []):
            note, key = item["note"], item["key"]
            text = open_note(note, key)
            if text is None:
                self.fail("a checkpoint signature does not verify with cryptography's Ed25519")
            origin, size, root = text.splitlines()[:3]
            size = int(size)
            if "origin" in item and origin != item["origin"]:
                self.fail(f"checkpoint origin {origin!r} is not {item['origin']!r}")
            state = self.state(size)
            if state is not None and state != b64(root):
                self.fail(f"the checkpoint of size {size} has a root that is not pymerkle's")
            self.summary["checkpoints"] += 1
            # A flipped byte in the text (the size) or in the signature must be caught.
            lines = note.split("\n")
            sig_line = next(i for i, l in enumerate(lines) if l.startswith("\u2014 "))
            prefix, _, sig = lines[sig_line].rpartition(" ")
            raw = bytearray(base64.b64decode(sig))
            raw[10] ^= 0x01
            bad_sig = "\n".join(lines[:sig_line] + [prefix + " " + base64.b64encode(bytes(raw)).decode()]
                                + lines[sig_line + 1:])
            bad_text = note.replace(f"\n{size}\n", f"\n{size + 1}\n", 1)
            for bad in (bad_sig, bad_text):
                if open_note(bad, key) is not None:
                    self.fail("a flipped checkpoint byte still verified")
                self.summary["tampered_caught"] += 1

    def check_tampered_entries(self):
        """A flipped byte in any one entry changes every root from its leaf on."""
        roots = {size: b64(root) for size, root in self.doc.get("roots", [])}
        if not roots or not self.entries:
            return
        step = max(1, len(self.entries) // 50)
        for index in range(0, len(self.entries), step):
            tree = InmemoryTree(algorithm="sha256")
            for i, entry in enumerate(self.entries):
                tree.append_entry(flip(entry, i) if i == index else entry)
            for size in (index + 1, len(self.entries)):
                if size in roots and tree.get_state(size) == roots[size]:
                    self.fail(f"a flipped byte in entry {index} left root {size} unchanged")
                self.summary["tampered_caught"] += 1


def main():
    doc = json.load(sys.stdin)
    checker = Checker(doc)
    checker.check_roots()
    checker.check_inclusion()
    checker.check_consistency()
    checker.check_checkpoints()
    checker.check_tampered_entries()
    print(json.dumps(checker.summary))


if __name__ == "__main__":
    main()

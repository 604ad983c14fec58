#!/usr/bin/env python3
"""Check Rabt's evidence for one of your requests, with your own code.

    pip install cryptography
    python3 verify_evidence.py --base-url https://rabt.example.sa --api-key rabt_... \
        --key 'rabt.example.sa/audit+1a2b3c4d+AY...' req_0190... [--state checkpoint.txt]

--key is the verifier key you pinned once (GET /v1/audit/key, compared out of band).
The script fetches the request's evidence, checks the checkpoint's Ed25519 signature and
every entry's RFC 9162 inclusion proof against it. With --state it also proves that the
log only grew since the checkpoint saved there last time (a consistency proof), then
saves the new one. Exit status 0: every sealed entry is in the log the key signed.
Standard library and the `cryptography` package only.
"""

import argparse
import base64
import hashlib
import json
import sys
import urllib.request

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def get(url, api_key=None, wait=None):
    request = urllib.request.Request(url)
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    if wait:
        request.add_header("Prefer", f"wait={wait}")
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read()


def open_checkpoint(note, key):
    """The (origin, size, root) of a C2SP signed note signed by the verifier key."""
    name, key_id, blob = key.strip().split("+", 2)
    raw = base64.b64decode(blob)
    if raw[:1] != b"\x01" or len(raw) != 33:
        sys.exit("the pinned key is not an Ed25519 verifier key")
    if hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() != key_id:
        sys.exit("the pinned key's id does not match it")
    text, _, signatures = note.rpartition("\n\n")
    text += "\n"
    for line in signatures.splitlines():
        signer, _, sig = line.removeprefix("\u2014 ").rpartition(" ")
        sig = base64.b64decode(sig)
        if signer == name and sig[:4].hex() == key_id:
            Ed25519PublicKey.from_public_bytes(raw[1:]).verify(sig[4:], text.encode())
            origin, size, root = text.splitlines()[:3]
            return origin, int(size), base64.b64decode(root)
    sys.exit("the checkpoint carries no signature by the pinned key")


def included(leaf, index, size, proof, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def consistent(first, second, proof, first_root, second_root):
    """RFC 9162 section 2.1.4.2."""
    if first == second:
        return not proof and first_root == second_root
    if not proof or not 0 < first < second:
        return False
    path = ([first_root] if first & (first - 1) == 0 else []) + proof
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root


def main():
    args = argparse.ArgumentParser()
    args.add_argument("--base-url", required=True)
    args.add_argument("--api-key", required=True)
    args.add_argument("--key", required=True, help="the verifier key you pinned")
    args.add_argument("--state", help="a file keeping the last checkpoint you checked")
    args.add_argument("request")
    args = args.parse_args()
    base = args.base_url.rstrip("/")
    evidence = json.loads(get(f"{base}/v1/requests/{args.request}/evidence", args.api_key, 10))
    if not evidence["checkpoint"]:
        sys.exit("nothing is sealed yet: ask again in a moment")
    origin, size, root = open_checkpoint(evidence["checkpoint"], args.key)
    print(f"checkpoint of {origin}: {size} entries, signed by the pinned key")
    for entry in evidence["entries"]:
        if entry["status"] != "sealed":
            print(f"  entry {entry['seq']} ({entry['action']}): not sealed yet")
            continue
        canonical = base64.b64decode(entry["canonical"])
        if json.loads(canonical).get("request") != args.request:
            sys.exit(f"entry {entry['seq']} is not about this request")
        leaf = hashlib.sha256(b"\x00" + canonical).digest()
        proof = [base64.b64decode(p) for p in entry["inclusion_proof"]]
        if not included(leaf, entry["leaf_index"], size, proof, root):
            sys.exit(f"entry {entry['seq']} ({entry['action']}): its proof does NOT verify")
        print(f"  entry {entry['seq']} ({entry['action']}): in the log at leaf {entry['leaf_index']}")
    if args.state:
        try:
            with open(args.state) as saved:
                _, old_size, old_root = open_checkpoint(saved.read(), args.key)
        except FileNotFoundError:
            old_size = None
        if old_size:
            answer = json.loads(get(f"{base}/v1/audit/consistency?from={old_size}&to={size}"))
            proof = [base64.b64decode(p) for p in answer["proof"]]
            if not consistent(old_size, size, proof, old_root, root):
                sys.exit(f"the log of {size} entries does NOT extend the one of {old_size} you saw")
            print(f"the log only grew since the checkpoint of {old_size} entries you saved")
        with open(args.state, "w") as saved:
            saved.write(evidence["checkpoint"])
    print("every sealed entry of the request is in the signed log")


if __name__ == "__main__":
    main()

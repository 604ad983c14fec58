-- The sealed audit log (docs/operations.md, "The audit log"), keyed digests of the
-- people a request concerns, and the expiry of personal payloads.
--
-- Every audit entry becomes a leaf of an RFC 9162 Merkle tree in `seq` order. The
-- sealer (one process at a time, under an advisory lock) writes each leaf with the
-- entry's RFC 8785 bytes exactly as hashed, every perfect-subtree node it completes,
-- and signed checkpoints. None of these rows is ever changed: the same triggers as the
-- audit log refuse UPDATE, DELETE and TRUNCATE.
--
-- `seq` must come from a sequence with CACHE 1 (the identity column's default): the
-- sealer relies on seqs being handed out in time order to tell a hole that may still
-- fill (a transaction in flight) from one that never will (a rollback).

CREATE TABLE audit_leaves (
    leaf_index BIGINT PRIMARY KEY,
    seq        BIGINT NOT NULL UNIQUE,
    canonical  TEXT NOT NULL,                 -- the entry's RFC 8785 JSON, as hashed
    sealed_at  BIGINT NOT NULL
);

-- Perfect subtrees only: id = level * 2^56 + index; level 0 holds the leaf hashes.
CREATE TABLE audit_nodes (
    id   BIGINT PRIMARY KEY,
    hash BYTEA NOT NULL
);

-- Sequence numbers that were handed out but never committed (a rolled-back write):
-- skipped on purpose, so `rabt audit verify` tells them from deleted entries.
CREATE TABLE audit_gaps (
    seq      BIGINT PRIMARY KEY,
    noted_at BIGINT NOT NULL
);

-- Every key that signed a checkpoint, in its verifier form (name+keyid+base64).
CREATE TABLE audit_keys (
    verifier_key TEXT PRIMARY KEY,
    added_at     BIGINT NOT NULL
);

CREATE TABLE audit_checkpoints (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tree_size    BIGINT NOT NULL,
    root         BYTEA NOT NULL,
    note         TEXT NOT NULL,                -- the signed note, byte for byte as served
    verifier_key TEXT NOT NULL REFERENCES audit_keys (verifier_key),
    signed_at    BIGINT NOT NULL
);
CREATE INDEX audit_checkpoints_by_size ON audit_checkpoints (tree_size);

CREATE TRIGGER audit_leaves_append_only BEFORE UPDATE OR DELETE ON audit_leaves
    FOR EACH ROW EXECUTE FUNCTION rabt_audit_append_only();
CREATE TRIGGER audit_leaves_no_truncate BEFORE TRUNCATE ON audit_leaves
    FOR EACH STATEMENT EXECUTE FUNCTION rabt_audit_append_only();
CREATE TRIGGER audit_nodes_append_only BEFORE UPDATE OR DELETE ON audit_nodes
    FOR EACH ROW EXECUTE FUNCTION rabt_audit_append_only();
CREATE TRIGGER audit_nodes_no_truncate BEFORE TRUNCATE ON audit_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION rabt_audit_append_only();
CREATE TRIGGER audit_gaps_append_only BEFORE UPDATE OR DELETE ON audit_gaps
    FOR EACH ROW EXECUTE FUNCTION rabt_audit_append_only();
CREATE TRIGGER audit_keys_append_only BEFORE UPDATE OR DELETE ON audit_keys
    FOR EACH ROW EXECUTE FUNCTION rabt_audit_append_only();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION rabt_audit_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION rabt_audit_append_only();

-- HMAC-SHA256 digests (under the deployment's personal-data key) of the identity
-- numbers and mobiles a request concerns: `rabt audit search` finds its requests
-- without the number being stored. The same digests are in the sealed
-- `request.accepted` entry.
CREATE TABLE request_subjects (
    digest     TEXT NOT NULL,
    request_id TEXT NOT NULL REFERENCES requests (id),
    PRIMARY KEY (digest, request_id)
);

-- Inputs and outputs are replaced by their digests after `retention.payloads`.
ALTER TABLE requests ADD COLUMN payload_expired_at BIGINT;
CREATE INDEX requests_payload_due ON requests (created_at)
    WHERE payload_expired_at IS NULL AND status = 'COMPLETED';

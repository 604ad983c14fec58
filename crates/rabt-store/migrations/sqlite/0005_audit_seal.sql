-- The sealed audit log, keyed digests of the people a request concerns, and the expiry
-- of personal payloads. The PostgreSQL twin (../postgres/0005_audit_seal.sql) explains
-- each table; only types and triggers are spelled differently here.

CREATE TABLE audit_leaves (
    leaf_index BIGINT PRIMARY KEY,
    seq        BIGINT NOT NULL UNIQUE,
    canonical  TEXT NOT NULL,
    sealed_at  BIGINT NOT NULL
);

CREATE TABLE audit_nodes (
    id   BIGINT PRIMARY KEY,
    hash BLOB NOT NULL
);

CREATE TABLE audit_gaps (
    seq      BIGINT PRIMARY KEY,
    noted_at BIGINT NOT NULL
);

CREATE TABLE audit_keys (
    verifier_key TEXT PRIMARY KEY,
    added_at     BIGINT NOT NULL
);

CREATE TABLE audit_checkpoints (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    tree_size    BIGINT NOT NULL,
    root         BLOB NOT NULL,
    note         TEXT NOT NULL,
    verifier_key TEXT NOT NULL REFERENCES audit_keys (verifier_key),
    signed_at    BIGINT NOT NULL
);
CREATE INDEX audit_checkpoints_by_size ON audit_checkpoints (tree_size);

CREATE TRIGGER audit_leaves_no_update BEFORE UPDATE ON audit_leaves
BEGIN SELECT RAISE(ABORT, 'audit_leaves is append-only: UPDATE refused'); END;
CREATE TRIGGER audit_leaves_no_delete BEFORE DELETE ON audit_leaves
BEGIN SELECT RAISE(ABORT, 'audit_leaves is append-only: DELETE refused'); END;
CREATE TRIGGER audit_nodes_no_update BEFORE UPDATE ON audit_nodes
BEGIN SELECT RAISE(ABORT, 'audit_nodes is append-only: UPDATE refused'); END;
CREATE TRIGGER audit_nodes_no_delete BEFORE DELETE ON audit_nodes
BEGIN SELECT RAISE(ABORT, 'audit_nodes is append-only: DELETE refused'); END;
CREATE TRIGGER audit_gaps_no_update BEFORE UPDATE ON audit_gaps
BEGIN SELECT RAISE(ABORT, 'audit_gaps is append-only: UPDATE refused'); END;
CREATE TRIGGER audit_gaps_no_delete BEFORE DELETE ON audit_gaps
BEGIN SELECT RAISE(ABORT, 'audit_gaps is append-only: DELETE refused'); END;
CREATE TRIGGER audit_keys_no_update BEFORE UPDATE ON audit_keys
BEGIN SELECT RAISE(ABORT, 'audit_keys is append-only: UPDATE refused'); END;
CREATE TRIGGER audit_keys_no_delete BEFORE DELETE ON audit_keys
BEGIN SELECT RAISE(ABORT, 'audit_keys is append-only: DELETE refused'); END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only: UPDATE refused'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only: DELETE refused'); END;

CREATE TABLE request_subjects (
    digest     TEXT NOT NULL,
    request_id TEXT NOT NULL REFERENCES requests (id),
    PRIMARY KEY (digest, request_id)
);

ALTER TABLE requests ADD COLUMN payload_expired_at BIGINT;
CREATE INDEX requests_payload_due ON requests (created_at)
    WHERE payload_expired_at IS NULL AND status = 'COMPLETED';

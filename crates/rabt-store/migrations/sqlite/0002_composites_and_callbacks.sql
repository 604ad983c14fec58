-- Composite requests and agency callbacks.
--
-- A check of a composite request can wait for the checks it depends on: status
-- BLOCKED, with `child` (the catalogue's child id, e.g. "boardIdentity") and
-- `item_index` (its element, for a child run once per element of an input array).
-- SQLite cannot alter a CHECK constraint, so the table is rebuilt (nothing refers to
-- it by foreign key).
CREATE TABLE tasks_v2 (
    id           TEXT PRIMARY KEY,
    request_id   TEXT NOT NULL REFERENCES requests (id),
    ordinal      BIGINT NOT NULL,              -- position in the request, for display order
    agency       TEXT NOT NULL,
    service      TEXT NOT NULL,
    input        TEXT NOT NULL,
    required     BIGINT NOT NULL CHECK (required IN (0, 1)),
    status       TEXT NOT NULL CHECK (status IN ('BLOCKED', 'QUEUED', 'RUNNING', 'AWAITING_CALLBACK', 'COMPLETED')),
    outcome      TEXT,
    data         TEXT,
    attempts     BIGINT NOT NULL DEFAULT 0,
    upstream_ref TEXT,
    last_error   TEXT,
    latency_ms   BIGINT,
    created_at   BIGINT NOT NULL,
    started_at   BIGINT,
    completed_at BIGINT,
    deadline_at  BIGINT NOT NULL,
    -- an answer that came after the task timed out: shown, never changes the verdict
    late_outcome TEXT,
    late_data    TEXT,
    late_at      BIGINT,
    child        TEXT,
    item_index   BIGINT,
    UNIQUE (request_id, ordinal),
    CHECK ((status = 'COMPLETED') = (outcome IS NOT NULL))
);
INSERT INTO tasks_v2 (id, request_id, ordinal, agency, service, input, required, status,
    outcome, data, attempts, upstream_ref, last_error, latency_ms, created_at, started_at,
    completed_at, deadline_at, late_outcome, late_data, late_at)
SELECT id, request_id, ordinal, agency, service, input, required, status,
    outcome, data, attempts, upstream_ref, last_error, latency_ms, created_at, started_at,
    completed_at, deadline_at, late_outcome, late_data, late_at
FROM tasks;
DROP TABLE tasks;
ALTER TABLE tasks_v2 RENAME TO tasks;
CREATE INDEX tasks_open_by_deadline ON tasks (deadline_at) WHERE status <> 'COMPLETED';
CREATE INDEX tasks_by_upstream_ref ON tasks (agency, upstream_ref) WHERE upstream_ref IS NOT NULL;

-- Every callback an agency sent that passed its checks (signature, timestamp,
-- schema, a known reference), kept for the worker to apply and for support. The
-- (agency, webhook_id) key turns a replayed delivery into a no-op.
CREATE TABLE callbacks (
    id          TEXT PRIMARY KEY,
    agency      TEXT NOT NULL,
    webhook_id  TEXT NOT NULL,
    reference   TEXT NOT NULL,
    task_id     TEXT NOT NULL REFERENCES tasks (id),
    body        TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    applied_at  BIGINT,
    UNIQUE (agency, webhook_id)
);

-- Replaced by `callbacks`.
DROP TABLE callbacks_seen;

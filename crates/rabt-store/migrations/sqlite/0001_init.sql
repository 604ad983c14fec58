-- Rabt's schema on SQLite. The PostgreSQL twin (../postgres/0001_init.sql) has the same
-- tables and columns; only types and triggers are spelled differently.
-- Conventions: timestamps are BIGINT unix milliseconds, ids and enum names TEXT, JSON
-- TEXT, booleans BIGINT 0/1 (the same encoding on both backends keeps every query
-- portable through sqlx's Any driver).

CREATE TABLE cooperatives (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    unified_number TEXT NOT NULL UNIQUE,
    services       TEXT NOT NULL,              -- JSON array of service names
    active         BIGINT NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at     BIGINT NOT NULL
);

-- API keys are stored as hex SHA-256 digests; the key itself is shown once.
CREATE TABLE api_keys (
    key_hash       TEXT PRIMARY KEY,
    cooperative_id TEXT NOT NULL REFERENCES cooperatives (id),
    label          TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    revoked_at     BIGINT
);
CREATE INDEX api_keys_by_cooperative ON api_keys (cooperative_id);

CREATE TABLE operators (
    name       TEXT PRIMARY KEY,
    role       TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE requests (
    id             TEXT PRIMARY KEY,           -- req_ + UUIDv7: sorts by creation
    cooperative_id TEXT NOT NULL REFERENCES cooperatives (id),
    service        TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('ACCEPTED', 'RUNNING', 'COMPLETED')),
    verdict        TEXT CHECK (verdict IN ('PASS', 'FAIL', 'PARTIAL')),
    input          TEXT NOT NULL,              -- personal data lives here and in tasks.input only
    reference      TEXT,
    notify_url     TEXT,
    traceparent    TEXT,
    pending_tasks  BIGINT NOT NULL CHECK (pending_tasks >= 0),
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    completed_at   BIGINT,
    deadline_at    BIGINT NOT NULL
);
CREATE INDEX requests_by_cooperative ON requests (cooperative_id, id);
CREATE INDEX requests_by_reference ON requests (cooperative_id, reference) WHERE reference IS NOT NULL;

CREATE TABLE tasks (
    id           TEXT PRIMARY KEY,
    request_id   TEXT NOT NULL REFERENCES requests (id),
    ordinal      BIGINT NOT NULL,              -- position in the request, for display order
    agency       TEXT NOT NULL,
    service      TEXT NOT NULL,
    input        TEXT NOT NULL,
    required     BIGINT NOT NULL CHECK (required IN (0, 1)),
    status       TEXT NOT NULL CHECK (status IN ('QUEUED', 'RUNNING', 'AWAITING_CALLBACK', 'COMPLETED')),
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
    UNIQUE (request_id, ordinal),
    CHECK ((status = 'COMPLETED') = (outcome IS NOT NULL))
);
CREATE INDEX tasks_open_by_deadline ON tasks (deadline_at) WHERE status <> 'COMPLETED';
CREATE INDEX tasks_by_upstream_ref ON tasks (agency, upstream_ref) WHERE upstream_ref IS NOT NULL;

-- Idempotency keys are scoped to the cooperative (IETF draft: composite with the client).
-- No foreign key to requests: the key is inserted first, to claim it.
CREATE TABLE idempotency_keys (
    cooperative_id  TEXT NOT NULL REFERENCES cooperatives (id),
    idem_key        TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    body_hash       TEXT NOT NULL,
    response_status BIGINT NOT NULL,
    response_body   TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (cooperative_id, idem_key)
);

-- webhook-id values of agency callbacks already applied (Standard Webhooks dedup key).
CREATE TABLE callbacks_seen (
    agency      TEXT NOT NULL,
    webhook_id  TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (agency, webhook_id)
);

-- The transactional outbox: written with the state change, published by the relay.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    exchange    TEXT NOT NULL,
    routing_key TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    body        BLOB NOT NULL,
    headers     TEXT NOT NULL,                 -- JSON array of [name, value] pairs
    attempts    BIGINT NOT NULL DEFAULT 0,
    lease_until BIGINT NOT NULL,               -- claimable when lease_until <= now
    created_at  BIGINT NOT NULL
);
CREATE INDEX outbox_by_lease ON outbox (lease_until, id);
CREATE INDEX outbox_by_message ON outbox (message_id);

-- Append-only: ids, outcomes, latencies and error kinds, never personal data.
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at         BIGINT NOT NULL,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('cooperative', 'agency', 'operator', 'system')),
    actor_id   TEXT,
    action     TEXT NOT NULL,
    request_id TEXT,
    task_id    TEXT,
    outcome    TEXT,
    latency_ms BIGINT,
    detail     TEXT NOT NULL
);
CREATE INDEX audit_by_request ON audit_log (request_id, seq) WHERE request_id IS NOT NULL;
CREATE INDEX audit_by_task ON audit_log (task_id, seq) WHERE task_id IS NOT NULL;
CREATE INDEX audit_by_action ON audit_log (action, seq);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused');
END;

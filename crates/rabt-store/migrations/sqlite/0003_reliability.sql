-- Delivery guarantees: dead letters kept in the database, notifications to
-- cooperatives, and when a task first failed.

-- Every message that could not be processed (poison, or over its delivery limit), moved
-- out of rabt.dead.<agency> into the database, where operators list, replay and purge it.
CREATE TABLE dead_letters (
    id          TEXT PRIMARY KEY,            -- dl_ + UUIDv7
    agency      TEXT NOT NULL,
    task_id     TEXT,                        -- NULL when the message named no task we know
    message_id  TEXT,
    reason      TEXT NOT NULL,
    body        TEXT NOT NULL,               -- base64 of the message body as received
    headers     TEXT NOT NULL,               -- JSON array of [name, value]
    dead_at     BIGINT NOT NULL,
    replayed_at BIGINT,
    replayed_by TEXT,
    purged_at   BIGINT
);
CREATE INDEX dead_letters_open ON dead_letters (agency, dead_at) WHERE replayed_at IS NULL AND purged_at IS NULL;

-- Signed completion notifications to a request's notify_url, retried for hours.
CREATE TABLE notifications (
    id              TEXT PRIMARY KEY,        -- ntf_ + UUIDv7; also the webhook-id, stable across retries
    request_id      TEXT NOT NULL REFERENCES requests (id),
    url             TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT,
    last_error      TEXT
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'PENDING';

CREATE TABLE notification_attempts (
    notification_id TEXT NOT NULL REFERENCES notifications (id),
    attempt         BIGINT NOT NULL,
    at              BIGINT NOT NULL,
    status_code     BIGINT,
    error           TEXT,
    latency_ms      BIGINT,
    PRIMARY KEY (notification_id, attempt)
);

-- The secret a cooperative's notifications are signed with (Standard Webhooks). It must
-- be usable to sign, so it cannot be stored as a digest like API keys.
ALTER TABLE cooperatives ADD COLUMN webhook_secret TEXT;

-- When the task's first failed attempt happened (retries carry it in a header too).
ALTER TABLE tasks ADD COLUMN first_failure_at BIGINT;
-- A task ended because its message was dead-lettered: an operator may replay it.
ALTER TABLE tasks ADD COLUMN dead_lettered BIGINT NOT NULL DEFAULT 0 CHECK (dead_lettered IN (0, 1));

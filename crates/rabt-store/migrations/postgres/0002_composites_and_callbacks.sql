-- Composite requests and agency callbacks.
--
-- A check of a composite request can wait for the checks it depends on: status
-- BLOCKED, with `child` (the catalogue's child id, e.g. "boardIdentity") and
-- `item_index` (its element, for a child run once per element of an input array).
ALTER TABLE tasks DROP CONSTRAINT tasks_status_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_status_check
    CHECK (status IN ('BLOCKED', 'QUEUED', 'RUNNING', 'AWAITING_CALLBACK', 'COMPLETED'));
ALTER TABLE tasks ADD COLUMN child TEXT;
ALTER TABLE tasks ADD COLUMN item_index BIGINT;

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

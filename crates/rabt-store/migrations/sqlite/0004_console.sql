-- The operators' console and the cooperative lifecycle.

-- A rotated key stays valid until `expires_at` (the overlap), then stops; NULL: no end.
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT;
-- When and why a cooperative was deactivated (its keys answer 403 meanwhile).
ALTER TABLE cooperatives ADD COLUMN deactivated_at BIGINT;

-- An agency paused by an operator (maintenance): its tasks wait, unattempted, until it
-- is resumed. One row per paused agency, read by every worker.
CREATE TABLE agency_pauses (
    agency      TEXT PRIMARY KEY,
    reason      TEXT NOT NULL,
    paused_by   TEXT NOT NULL,
    paused_at   BIGINT NOT NULL,
    expected_end BIGINT
);

-- Every running rabt process writes its figures here every few seconds, so that the
-- console of any api process shows the whole deployment (breakers and calls in flight
-- live in the workers' memory).
CREATE TABLE process_heartbeats (
    id         TEXT PRIMARY KEY,              -- one per process start
    role       TEXT NOT NULL,
    host       TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    seen_at    BIGINT NOT NULL,
    figures    TEXT NOT NULL                  -- JSON: per agency breaker state, in flight
);
CREATE INDEX process_heartbeats_seen ON process_heartbeats (seen_at);

-- Console sessions, shared by every api process behind a load balancer. The cookie
-- holds a random token; only its SHA-256 is stored, with the CSRF token of the session.
CREATE TABLE console_sessions (
    token_hash TEXT PRIMARY KEY,
    operator   TEXT NOT NULL REFERENCES operators (name),
    csrf       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

-- The console lists every cooperative's requests, newest first, with filters. Every
-- index here is paid on the hot write path (accepting and completing requests), so
-- there are few, and partial where they can be: a cooperative's requests already have
-- (cooperative_id, id), and ids sort by time; a service or COMPLETED filter walks the
-- primary key backwards and stops at a page.
CREATE INDEX requests_by_created ON requests (created_at);
CREATE INDEX requests_open ON requests (status, id) WHERE status <> 'COMPLETED';
-- The overview: an agency's tasks that ended in the last hour...
CREATE INDEX tasks_by_agency_completed ON tasks (agency, completed_at) WHERE completed_at IS NOT NULL;
-- ...and its last failure, which may be far back when the agency is healthy.
CREATE INDEX tasks_failed_by_agency ON tasks (agency, completed_at) WHERE outcome IN ('UPSTREAM_ERROR', 'TIMEOUT');
-- Audit search by operator (their entries only: the log's other writers pay nothing).
CREATE INDEX audit_by_operator ON audit_log (actor_id, seq) WHERE actor_kind = 'operator';

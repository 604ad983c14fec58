-- Limits shared by every process of a deployment (issue 14): per-cooperative rate limits
-- and daily quotas, and per-agency rate and concurrency limits that hold whatever the
-- number of workers.

-- A cooperative's own limits, set by an operator (`rabt coop set-limit`); a cooperative
-- without a row has the configuration's default ([cooperatives]).
CREATE TABLE cooperative_limits (
    cooperative_id TEXT PRIMARY KEY REFERENCES cooperatives (id),
    rate_events    BIGINT,                 -- NULL: no rate limit
    rate_period_s  BIGINT,                 -- 1, 60 or 3600
    burst          BIGINT,
    quota_per_day  BIGINT,                 -- NULL: no daily quota
    updated_at     BIGINT NOT NULL,
    updated_by     TEXT NOT NULL
);

-- The GCRA state of every shared rate limit: the theoretical arrival time of the next
-- call, in microseconds since the epoch. Keys: `coop:<id>`, `agency:<name>`.
CREATE TABLE rate_limits (
    key    TEXT PRIMARY KEY,
    tat_us BIGINT NOT NULL
);

-- Requests accepted per cooperative and UTC day, counted in the accept transaction.
CREATE TABLE cooperative_usage (
    cooperative_id TEXT NOT NULL REFERENCES cooperatives (id),
    day            BIGINT NOT NULL,        -- days since 1970-01-01 (UTC)
    accepted       BIGINT NOT NULL,
    PRIMARY KEY (cooperative_id, day)
);

-- Calls in flight to an agency, across every worker: one row per slot of its
-- concurrency limit, held by a worker process with a lease (a worker that dies gives
-- its slots back when the lease runs out).
CREATE TABLE agency_slots (
    agency      TEXT NOT NULL,
    slot        BIGINT NOT NULL,
    holder      TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (agency, slot)
);

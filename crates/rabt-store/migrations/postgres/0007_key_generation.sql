-- The generation of cooperatives' credentials (issue 12): one counter, incremented in
-- the same transaction as every change that can make a cached API key lookup wrong (a
-- key revoked or rotated, a cooperative deactivated, reactivated or given other
-- services). An api process caches verified keys in memory and trusts an entry only
-- while this counter, read at most every quarter of a second, has not moved: one read
-- per process and interval instead of one lookup per request, and no notification that
-- a dropped connection could lose (as LISTEN/NOTIFY could).
CREATE TABLE key_generation (
    id         SMALLINT PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO key_generation (id, generation) VALUES (1, 0);

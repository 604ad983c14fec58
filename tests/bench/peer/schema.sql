-- The peer's tables: what a small team's accept service would keep. A cooperative and
-- its API keys (SHA-256 digests), the idempotency keys, and the requests.
CREATE TABLE cooperatives (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    services    text[] NOT NULL,
    active      boolean NOT NULL DEFAULT true
);
CREATE TABLE api_keys (
    key_hash        text PRIMARY KEY,
    cooperative_id  text NOT NULL REFERENCES cooperatives (id),
    revoked_at      timestamptz
);
CREATE TABLE requests (
    id              text PRIMARY KEY,
    cooperative_id  text NOT NULL REFERENCES cooperatives (id),
    service         text NOT NULL,
    input           jsonb NOT NULL,
    status          text NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE TABLE idempotency_keys (
    cooperative_id  text NOT NULL REFERENCES cooperatives (id),
    key             text NOT NULL,
    body_hash       text NOT NULL,
    request_id      text NOT NULL REFERENCES requests (id) DEFERRABLE INITIALLY DEFERRED,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (cooperative_id, key)
);

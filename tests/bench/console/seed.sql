-- A million requests for the console's benchmark (tests/bench/console.sh), on a
-- migrated, empty PostgreSQL database: 200 cooperatives, requests spread evenly over
-- the last 30 days (about 1,400 an hour), one task each, in the proportions a busy
-- deployment has (most answered OK, a few NOT_FOUND, MISMATCH, TIMEOUT and
-- UPSTREAM_ERROR, the newest still open), and their audit entries. Ids are built like
-- Rabt's (prefix + 32 hex digits, time first), so they sort by creation.
\set rows :rows
SELECT (extract(epoch FROM now()) * 1000)::bigint AS now_ms \gset

INSERT INTO cooperatives (id, name, unified_number, services, active, created_at)
SELECT 'coop_' || lpad(to_hex(g), 32, '0'), 'Bench cooperative ' || g, '7' || lpad(g::text, 9, '0'),
       '["post.address.verify","interior.identity.verify","labor.establishment.compliance"]', 1, :now_ms
FROM generate_series(1, 200) AS g;

CREATE TEMP TABLE seed AS
SELECT g,
       :now_ms - (g::bigint * 30 * 24 * 3600 * 1000 / :rows) AS created,
       (ARRAY['post.address.verify','interior.identity.verify','labor.establishment.compliance',
              'chambers.membership.verify','interior.mobile.verify','labor.cooperative.registration',
              'municipal.license.verify','health.certificates.verify','post.address.verify'])[1 + g % 9] AS service,
       (ARRAY['saudi-post','interior','labor','chambers','interior','labor','municipal','health','saudi-post'])[1 + g % 9] AS agency,
       CASE WHEN g % 100 < 90 THEN 'OK' WHEN g % 100 < 94 THEN 'NOT_FOUND' WHEN g % 100 < 96 THEN 'MISMATCH'
            WHEN g % 100 < 98 THEN 'TIMEOUT' ELSE 'UPSTREAM_ERROR' END AS outcome,
       g <= 200 AS open
FROM generate_series(1, :rows) AS g;
UPDATE seed SET created = :now_ms - 60000 - g * 50 WHERE g <= 200;

INSERT INTO requests (id, cooperative_id, service, status, verdict, input, pending_tasks, created_at, updated_at, completed_at, deadline_at)
SELECT 'req_' || lpad(to_hex(created), 12, '0') || '7' || lpad(to_hex(g), 19, '0'),
       'coop_' || lpad(to_hex(1 + g % 200), 32, '0'), service,
       CASE WHEN open THEN 'RUNNING' ELSE 'COMPLETED' END,
       CASE WHEN open THEN NULL WHEN outcome = 'OK' THEN 'PASS' WHEN outcome IN ('TIMEOUT','UPSTREAM_ERROR') THEN 'PARTIAL' ELSE 'FAIL' END,
       '{"shortAddress":"RRRD2929"}', CASE WHEN open THEN 1 ELSE 0 END,
       created, created + 40, CASE WHEN open THEN NULL ELSE created + 40 END, created + 30000
FROM seed;

INSERT INTO tasks (id, request_id, ordinal, agency, service, input, required, status, outcome, data, attempts, latency_ms, created_at, started_at, completed_at, deadline_at, last_error)
SELECT 'task_' || lpad(to_hex(created), 12, '0') || '7' || lpad(to_hex(g), 19, '0'),
       'req_' || lpad(to_hex(created), 12, '0') || '7' || lpad(to_hex(g), 19, '0'), 0, agency, service,
       '{"shortAddress":"RRRD2929"}', 1,
       CASE WHEN open THEN 'QUEUED' ELSE 'COMPLETED' END, CASE WHEN open THEN NULL ELSE outcome END,
       CASE WHEN open THEN NULL ELSE '{"found":true}' END, 1, 5 + g % 40,
       created, created + 1, CASE WHEN open THEN NULL ELSE created + 40 END, created + 30000,
       CASE WHEN outcome = 'UPSTREAM_ERROR' THEN 'unavailable: 503' WHEN outcome = 'TIMEOUT' THEN 'deadline passed' END
FROM seed;

INSERT INTO audit_log (at, actor_kind, actor_id, action, request_id, outcome, detail)
SELECT created, 'cooperative', 'coop_' || lpad(to_hex(1 + g % 200), 32, '0'), 'request.accepted',
       'req_' || lpad(to_hex(created), 12, '0') || '7' || lpad(to_hex(g), 19, '0'), NULL, '{}'
FROM seed;

ANALYZE;

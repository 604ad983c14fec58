-- The generation of cooperatives' credentials; the PostgreSQL twin
-- (../postgres/0007_key_generation.sql) explains it.
CREATE TABLE key_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO key_generation (id, generation) VALUES (1, 0);

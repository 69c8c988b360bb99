-- athena-memory schema, version 4 (PostgreSQL). Keep in step with migrations/sqlite/0004_router_bases.sql.
-- The routing bases that stored project models are deltas on: each base once, in its compact
-- form, by its identity (`RoutingBase::id`). A delta made on the shipped default of an earlier
-- release, or on a base given then, is read on its own base from here after the engine's
-- routing base has changed.

CREATE TABLE router_bases (
    id         TEXT   PRIMARY KEY,
    model      BYTEA  NOT NULL,
    created_at BIGINT NOT NULL
);

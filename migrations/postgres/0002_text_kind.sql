-- athena-memory schema, version 2 (PostgreSQL). Keep in step with migrations/sqlite/0002_text_kind.sql.
-- The kind of text an item holds ('note' or 'code_comment') when the caller said; NULL lets a
-- kind-aware router guess it from the words. Routes keep it with their item snapshot so a
-- project's retraining sees what routing saw.

ALTER TABLE working_memory ADD COLUMN text_kind TEXT;
ALTER TABLE consolidation_routes ADD COLUMN text_kind TEXT;

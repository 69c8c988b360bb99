-- athena-memory schema, version 3 (SQLite). Keep in step with migrations/postgres/0003_recall.sql.
-- Recall over everything an agent remembers, with one analyzer in Rust for both backends: the
-- database keeps the posting lists, the engine computes the terms. FTS5 goes.

-- What the agent knows about an item: who said it, the conversation or task it belongs to, and
-- when it happened (NULL: when it was added).
ALTER TABLE working_memory ADD COLUMN speaker TEXT;
ALTER TABLE working_memory ADD COLUMN session TEXT;
ALTER TABLE working_memory ADD COLUMN occurred_at INTEGER;

-- One row per recallable memory, wherever it lives: `place` is 'working_memory' or a layer,
-- `ref_id` its id there. Consolidation moves the row (place, ref_id; trigger below) and keeps
-- its id, so the postings and the session links stay valid. `prev_id` is the memory indexed just
-- before it in the same session of the project (its neighbour for ranking). `terms` is what the
-- analyzer (in Rust) made of `content`: a JSON array of [term, count], in term order.
--
-- A new row is `staged`: recall reads its terms from the row itself. When a project holds 64
-- staged rows, the insert that makes the 64th folds them all into the posting lists and the
-- counts at once (triggers below). Writing each memory's dozen postings and term counts in its
-- own transaction touched a dozen B-tree pages apiece and halved the rate of adds; in batches
-- the pages are shared, and recall never reads more than 63 rows of terms.
CREATE TABLE recall_docs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    place       TEXT    NOT NULL,
    ref_id      INTEGER NOT NULL,
    content     TEXT    NOT NULL,
    speaker     TEXT,
    session     TEXT,
    occurred_at INTEGER NOT NULL,
    prev_id     INTEGER,
    length      INTEGER NOT NULL,
    terms       TEXT    NOT NULL,
    staged      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX recall_docs_by_place ON recall_docs (project_id, place, ref_id);
CREATE INDEX recall_docs_by_recency ON recall_docs (project_id, id);
CREATE INDEX recall_docs_by_session ON recall_docs (project_id, session, id) WHERE session IS NOT NULL;
CREATE INDEX recall_docs_by_prev ON recall_docs (project_id, prev_id);
CREATE INDEX recall_docs_staged ON recall_docs (project_id, id) WHERE staged;

-- Posting lists: each term of each memory, with its count and the memory's length, read newest
-- first. No foreign key: rows come and go with their memory's `recall_docs` row (triggers).
CREATE TABLE recall_postings (
    project_id INTEGER NOT NULL,
    term       TEXT    NOT NULL,
    doc_id     INTEGER NOT NULL,
    tf         INTEGER NOT NULL,
    length     INTEGER NOT NULL,
    PRIMARY KEY (project_id, term, doc_id)
) WITHOUT ROWID;

-- How many memories of the project hold each term (BM25's document frequency).
CREATE TABLE recall_terms (
    project_id INTEGER NOT NULL,
    term       TEXT    NOT NULL,
    df         INTEGER NOT NULL,
    PRIMARY KEY (project_id, term)
) WITHOUT ROWID;

-- Memories and terms in each project (BM25's N and average length).
CREATE TABLE recall_stats (
    project_id INTEGER PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    docs       INTEGER NOT NULL,
    terms      INTEGER NOT NULL
);

-- A row's postings and its share of the counts are written when it stops being staged, and
-- removed with it. Moving a row (consolidation) changes neither.
CREATE TRIGGER recall_docs_fold AFTER UPDATE OF staged ON recall_docs WHEN old.staged AND NOT new.staged BEGIN
    INSERT INTO recall_postings (project_id, term, doc_id, tf, length)
        SELECT new.project_id, json_extract(value, '$[0]'), new.id, json_extract(value, '$[1]'), new.length
        FROM json_each(new.terms);
    INSERT INTO recall_terms (project_id, term, df)
        SELECT new.project_id, json_extract(value, '$[0]'), 1 FROM json_each(new.terms) WHERE TRUE
        ON CONFLICT (project_id, term) DO UPDATE SET df = df + 1;
    INSERT INTO recall_stats (project_id, docs, terms) VALUES (new.project_id, 1, new.length)
        ON CONFLICT (project_id) DO UPDATE SET docs = docs + 1, terms = terms + excluded.terms;
END;
CREATE TRIGGER recall_docs_fold_staged AFTER INSERT ON recall_docs
    WHEN (SELECT COUNT(*) FROM recall_docs WHERE project_id = new.project_id AND staged) >= 64 BEGIN
    UPDATE recall_docs SET staged = FALSE WHERE project_id = new.project_id AND staged;
END;
CREATE TRIGGER recall_docs_delete AFTER DELETE ON recall_docs WHEN NOT old.staged BEGIN
    DELETE FROM recall_postings WHERE project_id = old.project_id AND doc_id = old.id
        AND term IN (SELECT json_extract(value, '$[0]') FROM json_each(old.terms));
    UPDATE recall_terms SET df = df - 1 WHERE project_id = old.project_id
        AND term IN (SELECT json_extract(value, '$[0]') FROM json_each(old.terms));
    UPDATE recall_stats SET docs = docs - 1, terms = terms - old.length WHERE project_id = old.project_id;
END;

-- A consolidated item's row moves with it: the layer row it becomes names it in
-- `source_item_id`. Same row id, so its postings and session links stay.
CREATE TRIGGER semantic_memories_recall_move AFTER INSERT ON semantic_memories WHEN new.source_item_id IS NOT NULL BEGIN
    UPDATE recall_docs SET place = 'semantic', ref_id = new.id
     WHERE project_id = new.project_id AND place = 'working_memory' AND ref_id = new.source_item_id;
END;
CREATE TRIGGER episodic_events_recall_move AFTER INSERT ON episodic_events WHEN new.source_item_id IS NOT NULL BEGIN
    UPDATE recall_docs SET place = 'episodic', ref_id = new.id
     WHERE project_id = new.project_id AND place = 'working_memory' AND ref_id = new.source_item_id;
END;
CREATE TRIGGER procedures_recall_move AFTER INSERT ON procedures WHEN new.source_item_id IS NOT NULL BEGIN
    UPDATE recall_docs SET place = 'procedural', ref_id = new.id
     WHERE project_id = new.project_id AND place = 'working_memory' AND ref_id = new.source_item_id;
END;
CREATE TRIGGER prospective_tasks_recall_move AFTER INSERT ON prospective_tasks WHEN new.source_item_id IS NOT NULL BEGIN
    UPDATE recall_docs SET place = 'prospective', ref_id = new.id
     WHERE project_id = new.project_id AND place = 'working_memory' AND ref_id = new.source_item_id;
END;

-- Automatic retraining counts a project's labels since its last stored model on every label
-- (`RouteLog::labels_since_last_model`): this keeps that count to the labels it counts.
CREATE INDEX routes_by_feedback ON consolidation_routes (project_id, feedback_at) WHERE feedback_at IS NOT NULL;

-- Memories stored before this version are indexed by the engine when it next opens the
-- database (the terms come from Rust, not SQL); this row asks for it.
CREATE TABLE recall_backfill (pending BOOLEAN NOT NULL);
INSERT INTO recall_backfill (pending)
SELECT TRUE WHERE EXISTS (SELECT 1 FROM working_memory) OR EXISTS (SELECT 1 FROM semantic_memories)
    OR EXISTS (SELECT 1 FROM episodic_events) OR EXISTS (SELECT 1 FROM procedures)
    OR EXISTS (SELECT 1 FROM prospective_tasks);

DROP TRIGGER semantic_fts_insert;
DROP TRIGGER semantic_fts_delete;
DROP TRIGGER episodic_fts_insert;
DROP TRIGGER episodic_fts_delete;
DROP TRIGGER procedures_fts_insert;
DROP TRIGGER procedures_fts_delete;
DROP TRIGGER prospective_fts_insert;
DROP TRIGGER prospective_fts_delete;
DROP TABLE memory_fts;

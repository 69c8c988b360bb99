-- athena-memory schema, version 1 (SQLite). Keep in step with migrations/postgres/0001_init.sql.
-- All times are UTC Unix milliseconds (INTEGER), so decay arithmetic is the same on both backends.
-- JSON values (metadata, tags, feature vectors, metrics, models) are stored as TEXT.

CREATE TABLE projects (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT    NOT NULL,
    path             TEXT    NOT NULL UNIQUE,
    created_at       INTEGER NOT NULL,
    last_accessed_at INTEGER NOT NULL
);

CREATE TABLE working_memory (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id       INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    content          TEXT    NOT NULL,
    content_type     TEXT    NOT NULL,
    component        TEXT    NOT NULL,
    activation       REAL    NOT NULL,
    -- ln(activation), floored at ln(f64::MIN_POSITIVE): SQLite has no exp(), so the database
    -- compares current activations in log space, ln A(t) = ln A0 - lambda * t.
    ln_activation    REAL    NOT NULL,
    decay_rate       REAL    NOT NULL,
    importance       REAL    NOT NULL,
    -- 'active' items count toward capacity; 'pending' items were displaced or decayed and wait
    -- for consolidation.
    state            TEXT    NOT NULL DEFAULT 'active',
    file_path        TEXT,
    sources          TEXT    NOT NULL DEFAULT '[]',
    access_count     INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    last_accessed_at INTEGER NOT NULL,
    metadata         TEXT    NOT NULL DEFAULT '{}',
    embedding        BLOB
);
CREATE INDEX working_memory_by_state ON working_memory (project_id, state, component);

CREATE TABLE goals (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id          INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    parent_id           INTEGER REFERENCES goals(id) ON DELETE SET NULL,
    text                TEXT    NOT NULL,
    goal_type           TEXT    NOT NULL,
    priority            INTEGER NOT NULL,
    status              TEXT    NOT NULL,
    progress            REAL    NOT NULL DEFAULT 0,
    deadline            INTEGER,
    completion_criteria TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX goals_by_project ON goals (project_id, status);

CREATE TABLE attention_focus (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    target     TEXT    NOT NULL,
    target_id  INTEGER NOT NULL,
    weight     REAL    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, target, target_id)
);

CREATE TABLE semantic_memories (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id       INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    content          TEXT    NOT NULL,
    memory_type      TEXT    NOT NULL DEFAULT 'fact',
    tags             TEXT    NOT NULL DEFAULT '[]',
    usefulness       REAL    NOT NULL DEFAULT 0,
    access_count     INTEGER NOT NULL DEFAULT 0,
    version          INTEGER NOT NULL DEFAULT 1,
    supersedes_id    INTEGER REFERENCES semantic_memories(id),
    superseded_by    INTEGER REFERENCES semantic_memories(id),
    update_reason    TEXT,
    source_item_id   INTEGER,
    route_id         INTEGER,
    metadata         TEXT    NOT NULL DEFAULT '{}',
    created_at       INTEGER NOT NULL,
    last_accessed_at INTEGER NOT NULL
);
CREATE INDEX semantic_by_project ON semantic_memories (project_id);
CREATE UNIQUE INDEX semantic_by_source ON semantic_memories (source_item_id) WHERE source_item_id IS NOT NULL;

CREATE TABLE episodic_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id     INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    content        TEXT    NOT NULL,
    event_type     TEXT    NOT NULL,
    session_id     TEXT    NOT NULL,
    occurred_at    INTEGER NOT NULL,
    source_item_id INTEGER,
    route_id       INTEGER,
    metadata       TEXT    NOT NULL DEFAULT '{}',
    created_at     INTEGER NOT NULL
);
CREATE INDEX episodic_by_time ON episodic_events (project_id, occurred_at);
CREATE UNIQUE INDEX episodic_by_source ON episodic_events (source_item_id) WHERE source_item_id IS NOT NULL;

CREATE TABLE procedures (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id     INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name           TEXT    NOT NULL,
    category       TEXT    NOT NULL,
    template       TEXT    NOT NULL,
    steps          TEXT    NOT NULL DEFAULT '[]',
    usage_count    INTEGER NOT NULL DEFAULT 0,
    source_item_id INTEGER,
    route_id       INTEGER,
    metadata       TEXT    NOT NULL DEFAULT '{}',
    created_at     INTEGER NOT NULL,
    UNIQUE (project_id, name)
);
CREATE UNIQUE INDEX procedures_by_source ON procedures (source_item_id) WHERE source_item_id IS NOT NULL;

CREATE TABLE prospective_tasks (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id     INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    content        TEXT    NOT NULL,
    active_form    TEXT    NOT NULL,
    status         TEXT    NOT NULL DEFAULT 'pending',
    priority       TEXT    NOT NULL DEFAULT 'medium',
    due_at         INTEGER,
    completed_at   INTEGER,
    source_item_id INTEGER,
    route_id       INTEGER,
    metadata       TEXT    NOT NULL DEFAULT '{}',
    created_at     INTEGER NOT NULL
);
CREATE INDEX prospective_by_status ON prospective_tasks (project_id, status);
CREATE UNIQUE INDEX prospective_by_source ON prospective_tasks (source_item_id) WHERE source_item_id IS NOT NULL;

-- The route log. No foreign key to working_memory: the training data must outlive the item.
CREATE TABLE consolidation_routes (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id     INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    item_id        INTEGER NOT NULL,
    content        TEXT    NOT NULL,
    component      TEXT    NOT NULL,
    activation     REAL    NOT NULL,
    importance     REAL    NOT NULL,
    age_seconds    REAL    NOT NULL,
    features       TEXT    NOT NULL,
    feature_schema TEXT    NOT NULL,
    model_version  TEXT    NOT NULL,
    layer          TEXT    NOT NULL,
    confidence     REAL    NOT NULL,
    correct_layer  TEXT,
    was_correct    BOOLEAN,
    created_at     INTEGER NOT NULL,
    feedback_at    INTEGER
);
CREATE INDEX routes_by_project ON consolidation_routes (project_id, id);

CREATE TABLE router_models (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    -- NULL for a global model shared by all projects.
    project_id     INTEGER REFERENCES projects(id) ON DELETE CASCADE,
    version        INTEGER NOT NULL,
    feature_schema TEXT    NOT NULL,
    metrics        TEXT    NOT NULL,
    model          TEXT    NOT NULL,
    active         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX router_models_version ON router_models (COALESCE(project_id, 0), version);

-- Full-text search over the four layers (recall). One FTS5 index, kept in step by triggers.
CREATE VIRTUAL TABLE memory_fts USING fts5(
    content, layer UNINDEXED, memory_id UNINDEXED, project_id UNINDEXED,
    tokenize = 'porter unicode61'
);
CREATE TRIGGER semantic_fts_insert AFTER INSERT ON semantic_memories BEGIN
    INSERT INTO memory_fts (content, layer, memory_id, project_id) VALUES (new.content, 'semantic', new.id, new.project_id);
END;
CREATE TRIGGER semantic_fts_delete AFTER DELETE ON semantic_memories BEGIN
    DELETE FROM memory_fts WHERE layer = 'semantic' AND memory_id = old.id;
END;
CREATE TRIGGER episodic_fts_insert AFTER INSERT ON episodic_events BEGIN
    INSERT INTO memory_fts (content, layer, memory_id, project_id) VALUES (new.content, 'episodic', new.id, new.project_id);
END;
CREATE TRIGGER episodic_fts_delete AFTER DELETE ON episodic_events BEGIN
    DELETE FROM memory_fts WHERE layer = 'episodic' AND memory_id = old.id;
END;
CREATE TRIGGER procedures_fts_insert AFTER INSERT ON procedures BEGIN
    INSERT INTO memory_fts (content, layer, memory_id, project_id) VALUES (new.name || ' ' || new.template, 'procedural', new.id, new.project_id);
END;
CREATE TRIGGER procedures_fts_delete AFTER DELETE ON procedures BEGIN
    DELETE FROM memory_fts WHERE layer = 'procedural' AND memory_id = old.id;
END;
CREATE TRIGGER prospective_fts_insert AFTER INSERT ON prospective_tasks BEGIN
    INSERT INTO memory_fts (content, layer, memory_id, project_id) VALUES (new.content, 'prospective', new.id, new.project_id);
END;
CREATE TRIGGER prospective_fts_delete AFTER DELETE ON prospective_tasks BEGIN
    DELETE FROM memory_fts WHERE layer = 'prospective' AND memory_id = old.id;
END;

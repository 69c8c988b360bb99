#!/usr/bin/env python3
"""What keeping posting lists in the database costs an add, in SQL alone.

Applies the project's SQLite migrations to a fresh file (WAL, synchronous=NORMAL, as the engine
opens it) and times 5,000 single-item transactions, each inserting one working-memory row of
about 14 distinct terms (Zipf-distributed over 20,000 words), under four ways of indexing it:

- `none`: the row only (an add that indexes nothing).
- `terms_in_row`: the row carries its terms (the least an add can write to be recallable).
- `staged`: a `recall_docs` row per add, folded 64 at a time (what the engine does).
- `fold_128`: terms in the row, copied into `recall_docs` and folded 128 at a time.

Python's sqlite3 module adds a few microseconds a statement, far less than sqlx's worker-thread
hand-off (~45 us), so the differences are the database's own work.

    python3 benches/sql/index_write_cost.py
"""

import json
import os
import random
import sqlite3
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MIGRATIONS = os.path.join(HERE, "..", "..", "migrations", "sqlite")
ITEMS = 5000

INSERT_ITEM = """INSERT INTO working_memory (project_id, content, content_type, component, activation,
    ln_activation, decay_rate, importance, state, file_path, sources, access_count, created_at,
    last_accessed_at, metadata, embedding, text_kind, speaker, session, occurred_at, terms)
    VALUES (1, ?, 'verbal', 'phonological', 1, 0, 0.003, 0.5, 'active', NULL, '[]', 0, ?, ?, '{}',
    NULL, NULL, NULL, NULL, NULL, ?) RETURNING id"""
INSERT_DOC = """INSERT INTO recall_docs (project_id, place, ref_id, content, speaker, session,
    occurred_at, length, terms, created_at, prev_id)
    VALUES (1, 'working_memory', ?, ?, NULL, NULL, ?, ?, ?, ?,
            (SELECT MAX(id) FROM recall_docs WHERE project_id = 1 AND session = NULL))"""
COPY_DOCS = """INSERT INTO recall_docs (project_id, place, ref_id, content, speaker, session,
    occurred_at, length, terms, created_at)
    SELECT project_id, 'working_memory', id, content, speaker, session, created_at, 14, terms,
           created_at FROM working_memory WHERE id >= ?"""


def open_db(path):
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    for name in sorted(os.listdir(MIGRATIONS)):
        with open(os.path.join(MIGRATIONS, name)) as f:
            db.executescript(f.read())
    db.execute("ALTER TABLE working_memory ADD COLUMN terms TEXT")
    db.execute(
        "INSERT INTO projects (id, path, name, created_at, last_accessed_at) VALUES (1, '/p', 'p', 0, 0)"
    )
    return db


def run(way, items):
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(os.path.join(tmp, "t.db"))
        unfolded = []
        started = time.perf_counter()
        for i, words in enumerate(items):
            text = " ".join(words) * 2
            terms = json.dumps([[w, 1] for w in words])
            db.execute("BEGIN IMMEDIATE")
            in_row = terms if way in ("terms_in_row", "fold_128") else None
            item = db.execute(INSERT_ITEM, (text, i, i, in_row)).fetchone()[0]
            if way == "staged":
                db.execute(INSERT_DOC, (item, text, i, len(words), terms, i))
            if way == "fold_128":
                unfolded.append(item)
                if len(unfolded) == 128:
                    db.execute(COPY_DOCS, (unfolded[0],))
                    unfolded = []
            db.execute("COMMIT")
        elapsed = time.perf_counter() - started
        postings = db.execute("SELECT COUNT(*) FROM recall_postings").fetchone()[0]
        db.close()
    return elapsed / len(items) * 1e6, postings


def main():
    rng = random.Random(1)
    vocab = [f"w{i}" for i in range(20000)]
    weights = [1 / (i + 1) for i in range(len(vocab))]
    items = [sorted(set(rng.choices(vocab, weights, k=14))) for _ in range(ITEMS)]
    figures = {}
    for _ in range(2):
        for way in ("none", "terms_in_row", "staged", "fold_128"):
            us, postings = run(way, items)
            figures.setdefault(way, []).append(us)
            figures[way + "_postings"] = postings
    result = {way + "_us_per_add": round(min(v), 1) for way, v in figures.items() if isinstance(v, list)}
    result.update({k: v for k, v in figures.items() if k.endswith("_postings")})
    print(json.dumps(result))


if __name__ == "__main__":
    main()

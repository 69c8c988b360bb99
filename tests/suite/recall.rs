//! Recall on both backends: a note is found by the next call wherever it lives, what the agent
//! knows about it (speaker, session, time) is stored, carried and returned, both backends index
//! the same terms, ranking reads neighbours, speakers and dates, hostile queries are answered
//! or refused with nothing changed, and memories stored before the index are indexed on open.

use crate::common;

use athena_memory::recall::index_terms;
use athena_memory::ProjectId;
use athena_memory::{
    Engine, Error, Layer, Memory, MemoryType, NewItem, Place, RecallHit, TaskPriority,
};
use common::TestDb;

on_both_backends!(
    a_remembered_note_is_found_by_the_next_recall_wherever_it_lives,
    speaker_session_and_time_are_stored_carried_and_returned,
    both_backends_index_the_terms_of_the_one_analyzer,
    ranking_reads_neighbours_speakers_and_dates,
    hostile_queries_are_answered_or_refused_with_nothing_changed,
    memories_stored_before_the_index_are_indexed_on_open,
    two_engines_on_one_database_recall_each_others_memories,
    staged_memories_fold_in_batches_and_rank_as_folded_ones,
    a_span_named_relative_to_now_lifts_what_happened_in_it,
);

async fn setup(db: &TestDb) -> (Engine, ProjectId) {
    common::engine_and_project(db, "/recall").await
}

/// Where the first hit for `query` lives, and its id there.
async fn first(engine: &Engine, p: ProjectId, query: &str) -> Option<(Place, i64)> {
    let hits = engine.recall(p, query, 5).await.unwrap();
    hits.first().map(|h| (h.place, h.id))
}

async fn a_remembered_note_is_found_by_the_next_recall_wherever_it_lives(db: TestDb) {
    let (engine, p) = setup(&db).await;
    let other = engine
        .projects()
        .get_or_create("/other", None)
        .await
        .unwrap()
        .id;
    let wm = engine.working_memory();
    wm.add(
        other,
        NewItem::new("The kubernetes ingress of another project"),
    )
    .await
    .unwrap();
    let ingress = wm
        .add(
            p,
            NewItem::new("Configured the kubernetes ingress controller"),
        )
        .await
        .unwrap()
        .id;
    let hits = engine.recall(p, "kubernetes ingress", 10).await.unwrap();
    assert_eq!(hits.len(), 1, "only this project's note: {hits:?}");
    assert_eq!(
        (hits[0].place, hits[0].id),
        (Place::WorkingMemory, ingress.0)
    );

    // Seven more notes fill the loop: the first is displaced to pending, still recallable.
    for i in 0..7 {
        wm.add(p, NewItem::new(format!("note number {i} about lunch")))
            .await
            .unwrap();
    }
    let item = wm.get(p, ingress).await.unwrap();
    assert_eq!(item.state, athena_memory::ItemState::Pending);
    assert_eq!(
        first(&engine, p, "ingress").await,
        Some((Place::WorkingMemory, ingress.0))
    );

    // Consolidated: the same memory, now in its layer under its memory id.
    let done = engine.consolidate_pending(p, 100).await.unwrap();
    let moved = done
        .consolidated
        .iter()
        .find(|c| c.item_id == ingress)
        .expect("the pending note was consolidated");
    assert_eq!(
        first(&engine, p, "kubernetes controller").await,
        Some((Place::from(moved.layer), moved.memory_id.0))
    );

    // Everything else at once: working memory empties, every note is still found.
    let all = engine.consolidate_all(p, 100).await.unwrap();
    assert_eq!(all.consolidated.len(), 7);
    assert!(engine
        .working_memory()
        .pending(p, 10)
        .await
        .unwrap()
        .is_empty());
    let lunch = engine.recall(p, "lunch note", 10).await.unwrap();
    assert_eq!(lunch.len(), 7);
    assert!(lunch.iter().all(|h| h.layer().is_some()), "{lunch:?}");

    // Direct writes to each layer, found where they were written; forgetting removes them.
    let layers = engine.layers();
    let fact = layers
        .add_semantic(
            p,
            "The vault stores the signing keys",
            MemoryType::Fact,
            &[],
        )
        .await
        .unwrap();
    let event = layers
        .add_event(p, "Rotated the signing keys", "action", "ops", 5)
        .await
        .unwrap();
    let how = layers
        .add_procedure(p, "rotate signing keys", "ops", "generate, upload, swap")
        .await
        .unwrap();
    let task = layers
        .add_task(p, "Audit the signing keys", TaskPriority::High, None)
        .await
        .unwrap();
    let mut found: Vec<(Place, i64)> = engine
        .recall(p, "signing keys", 10)
        .await
        .unwrap()
        .iter()
        .map(|h| (h.place, h.id))
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            (Place::Semantic, fact.id.0),
            (Place::Episodic, event.id.0),
            (Place::Procedural, how.id.0),
            (Place::Prospective, task.id.0),
        ]
    );
    let newer = layers
        .update_semantic(p, fact.id, "The HSM stores the signing keys", "moved")
        .await
        .unwrap();
    assert!(layers.forget(p, Layer::Episodic, event.id).await.unwrap());
    let ids: Vec<(Place, i64)> = engine
        .recall(p, "signing keys", 10)
        .await
        .unwrap()
        .iter()
        .map(|h| (h.place, h.id))
        .collect();
    assert!(ids.contains(&(Place::Semantic, newer.id.0)), "{ids:?}");
    assert!(
        !ids.contains(&(Place::Semantic, fact.id.0)),
        "superseded: {ids:?}"
    );
    assert!(
        !ids.contains(&(Place::Episodic, event.id.0)),
        "forgotten: {ids:?}"
    );
    assert!(layers.forget(p, Layer::Semantic, newer.id).await.unwrap());
    assert_eq!(first(&engine, p, "HSM").await, None);
}

async fn speaker_session_and_time_are_stored_carried_and_returned(db: TestDb) {
    let (engine, p) = setup(&db).await;
    let at = 1_683_554_160_000; // 2023-05-08 13:56 UTC
    let wm = engine.working_memory();
    let id = wm
        .add(
            p,
            NewItem::new("I went to the support group yesterday")
                .speaker("Caroline")
                .session("session_1")
                .occurred_at(at),
        )
        .await
        .unwrap()
        .id;
    let item = wm.get(p, id).await.unwrap();
    assert_eq!(
        (
            item.speaker.as_deref(),
            item.session.as_deref(),
            item.occurred_at
        ),
        (Some("Caroline"), Some("session_1"), at)
    );
    assert!(item.created_at > at, "activation still counts from the add");
    let check = |h: &RecallHit| {
        assert_eq!(
            (h.speaker.as_deref(), h.session.as_deref(), h.occurred_at),
            (Some("Caroline"), Some("session_1"), at),
            "{h:?}"
        );
    };
    let hits = engine.recall(p, "support group", 5).await.unwrap();
    check(&hits[0]);

    let done = engine.consolidate_as(p, id, Layer::Episodic).await.unwrap();
    let Memory::Episodic(event) = engine
        .layers()
        .get(p, Layer::Episodic, done.memory_id)
        .await
        .unwrap()
    else {
        panic!("not an event")
    };
    assert_eq!(
        (event.session_id.as_str(), event.occurred_at),
        ("session_1", at)
    );
    assert_eq!(event.metadata["speaker"], "Caroline");
    let hits = engine.recall(p, "support group", 5).await.unwrap();
    assert_eq!(
        (hits[0].place, hits[0].id),
        (Place::Episodic, done.memory_id.0)
    );
    check(&hits[0]);

    // Without them: no speaker or session, and it happened when it was added.
    let plain = wm.add(p, NewItem::new("plain note")).await.unwrap().id;
    let item = wm.get(p, plain).await.unwrap();
    assert_eq!((item.speaker, item.session), (None, None));
    assert_eq!(item.occurred_at, item.created_at);
    let err = wm
        .add(p, NewItem::new("x").occurred_at(-5))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidInput {
                field: "occurred_at",
                ..
            }
        ),
        "{err}"
    );
}

async fn both_backends_index_the_terms_of_the_one_analyzer(db: TestDb) {
    let (engine, p) = setup(&db).await;
    let text = "Caroline researched adoption agencies; the agencies' researchers RESEARCH in Zürich, 東京 and 2023!";
    let id = engine
        .working_memory()
        .add(p, NewItem::new(text))
        .await
        .unwrap()
        .id;
    let stored = engine
        .indexed_terms(p, Place::WorkingMemory, id.0)
        .await
        .unwrap();
    let expected: Vec<(String, i64)> = index_terms(text)
        .counts
        .into_iter()
        .map(|(t, n)| (t, i64::from(n)))
        .collect();
    assert_eq!(stored, expected);
    assert!(stored.contains(&("research".to_owned(), 3)), "{stored:?}");
    assert!(stored.contains(&("zürich".to_owned(), 1)), "{stored:?}");
    // The query side runs the same analyzer: another inflection finds it.
    assert_eq!(
        first(&engine, p, "Who is researching agency options?").await,
        Some((Place::WorkingMemory, id.0))
    );
    // Another project's id is not served.
    let other = engine
        .projects()
        .get_or_create("/else", None)
        .await
        .unwrap()
        .id;
    assert!(engine
        .indexed_terms(other, Place::WorkingMemory, id.0)
        .await
        .unwrap()
        .is_empty());
}

async fn ranking_reads_neighbours_speakers_and_dates(db: TestDb) {
    let (engine, p) = setup(&db).await;
    let wm = engine.working_memory();
    let turn = |text: &str, speaker: &str, session: &str, at: i64| {
        NewItem::new(text)
            .speaker(speaker)
            .session(session)
            .occurred_at(at)
    };
    let may = 1_683_554_160_000; // 8 May 2023
    let june = may + 31 * 86_400_000;
    let turns = [
        turn("Where did you travel last weekend?", "Ann", "s1", may),
        turn(
            "We finally saw the old lighthouse!",
            "Bob",
            "s1",
            may + 60_000,
        ),
        turn("I adore pottery classes", "Ann", "s2", may),
        turn("I adore pottery classes", "Bob", "s2", may + 60_000),
        turn("Painted a harbour scene", "Cy", "s3", may),
        turn("Painted a harbour scene", "Cy", "s4", june),
    ];
    let mut ids = Vec::new();
    for t in turns {
        ids.push(wm.add(p, t).await.unwrap().id);
    }
    // The reply holds none of the question's words; its neighbour does.
    let hits = engine.recall(p, "travel weekend", 5).await.unwrap();
    let found: Vec<i64> = hits.iter().map(|h| h.id).collect();
    assert!(
        found.contains(&ids[1].0),
        "the reply is read with its question: {hits:?}"
    );
    // The same words by two speakers: the one the question names comes first.
    assert_eq!(
        first(&engine, p, "What does Bob adore?").await.map(|f| f.1),
        Some(ids[3].0)
    );
    assert_eq!(
        first(&engine, p, "What does Ann adore?").await.map(|f| f.1),
        Some(ids[2].0)
    );
    // The same words on two dates: the one the question names comes first.
    assert_eq!(
        first(&engine, p, "What was painted in June?")
            .await
            .map(|f| f.1),
        Some(ids[5].0)
    );
    assert_eq!(
        first(&engine, p, "What was painted on 8 May, 2023?")
            .await
            .map(|f| f.1),
        Some(ids[4].0)
    );
}

async fn hostile_queries_are_answered_or_refused_with_nothing_changed(db: TestDb) {
    let (engine, p) = setup(&db).await;
    let wm = engine.working_memory();
    wm.add(p, NewItem::new("Met the team in 東京 at the café"))
        .await
        .unwrap();
    let last = wm
        .add(p, NewItem::new("Kubernetes ingress needs a TLS secret"))
        .await
        .unwrap()
        .id;
    let tables = [
        "recall_docs",
        "recall_postings",
        "recall_terms",
        "working_memory",
    ];
    let mut before = Vec::new();
    for t in tables {
        before.push(common::count(&db, t).await);
    }
    let refused = |r: Result<Vec<RecallHit>, Error>, field: &str| match r {
        Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
        other => panic!("expected an invalid {field}, got {other:?}"),
    };
    refused(engine.recall(p, "", 5).await, "query");
    refused(engine.recall(p, "?! ()", 5).await, "query");
    refused(engine.recall(p, "ingress\0", 5).await, "query");
    refused(engine.recall(p, &"a".repeat(10_001), 5).await, "query");
    refused(engine.recall(p, "ingress", 0).await, "k");
    refused(engine.recall(p, "ingress", 1001).await, "k");
    // Only stop words: the most recent memories.
    let recent = engine.recall(p, "what was it?", 5).await.unwrap();
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[0].id, last.0);
    // Operators and quotes are words or nothing, never syntax.
    for q in [
        "kubernetes AND (ingress OR NOT) * ^ \" : - NEAR/2",
        "\"ingress",
        "ingress'; DROP TABLE working_memory; --",
    ] {
        assert_eq!(
            first(&engine, p, q).await,
            Some((Place::WorkingMemory, last.0)),
            "{q}"
        );
    }
    // A long query is bounded in words and still answered.
    let long = format!("{} ingress", "lorem ipsum dolor ".repeat(500));
    assert!(long.chars().count() <= 10_000);
    assert!(engine.recall(p, &long, 5).await.is_ok());
    // Other scripts.
    assert!(first(&engine, p, "東京").await.is_some());
    assert!(first(&engine, p, "café").await.is_some());
    for (t, n) in tables.iter().zip(before) {
        assert_eq!(common::count(&db, t).await, n, "{t} changed");
    }
}

async fn memories_stored_before_the_index_are_indexed_on_open(db: TestDb) {
    let (engine, p) = setup(&db).await;
    engine.close().await;
    // As a database migrated from before the index would hold them: rows without postings,
    // and the migration's request to index them.
    common::execute(
        &db,
        &format!(
            "INSERT INTO semantic_memories (project_id, content, memory_type, tags, metadata, created_at, last_accessed_at)
             VALUES ({p}, 'Grafana dashboards live in the ops folder', 'fact', '[]', '{{}}', 1, 1)"
        ),
    )
    .await;
    common::execute(&db, "INSERT INTO recall_backfill (pending) VALUES (TRUE)").await;
    assert_eq!(common::count(&db, "recall_docs").await, 0);
    let engine = Engine::open(&db.url).await.unwrap();
    let hits = engine.recall(p, "grafana dashboards", 5).await.unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].place, Place::Semantic);
    assert_eq!(common::count(&db, "recall_backfill").await, 0);
    // Opening again indexes nothing twice.
    engine.close().await;
    let engine = Engine::open(&db.url).await.unwrap();
    assert_eq!(common::count(&db, "recall_docs").await, 1);
    assert_eq!(engine.recall(p, "grafana", 5).await.unwrap().len(), 1);
}

async fn two_engines_on_one_database_recall_each_others_memories(db: TestDb) {
    // Two processes sharing a store: each engine has its own pool; there is no cache to catch up.
    let (a, p) = setup(&db).await;
    let b = Engine::open(&db.url).await.unwrap();
    let id = a
        .working_memory()
        .add(p, NewItem::new("The staging cluster moved to eu-west-3"))
        .await
        .unwrap()
        .id;
    assert_eq!(
        first(&b, p, "staging cluster").await,
        Some((Place::WorkingMemory, id.0))
    );
    let done = b.consolidate(p, id).await.unwrap();
    assert_eq!(
        first(&a, p, "staging cluster").await,
        Some((Place::from(done.layer), done.memory_id.0))
    );
}

/// Rows of `recall_docs` of project `p` that are staged (`true`) or folded, and postings of `p`.
async fn index_rows(db: &TestDb, p: ProjectId) -> (i64, i64, i64) {
    (
        common::count(
            db,
            &format!("recall_docs WHERE project_id = {p} AND staged"),
        )
        .await,
        common::count(
            db,
            &format!("recall_docs WHERE project_id = {p} AND NOT staged"),
        )
        .await,
        common::count(db, &format!("recall_postings WHERE project_id = {p}")).await,
    )
}

async fn staged_memories_fold_in_batches_and_rank_as_folded_ones(db: TestDb) {
    let (engine, folded) = setup(&db).await;
    let staged = engine
        .projects()
        .get_or_create("/staged", None)
        .await
        .unwrap()
        .id;
    let words = [
        "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta",
    ];
    let texts: Vec<String> = (0..63)
        .map(|i| {
            let (a, b, c) = (words[i % 7], words[i % 5], words[(i * 3) % 7]);
            format!("note {i} on {a} and {b}, then {c} {c}")
        })
        .collect();
    let layers = engine.layers();
    let mut fifth = Vec::new();
    for p in [folded, staged] {
        for text in &texts {
            let id = layers
                .add_semantic(p, text, MemoryType::Fact, &[])
                .await
                .unwrap()
                .id;
            if text == &texts[5] {
                fifth.push((p, id));
            }
        }
    }
    // SQLite stages new memories and folds them 64 at a time; PostgreSQL folds each as it
    // comes (see the migrations).
    let stages = db.backend == "sqlite";
    let (rows, folded_rows, postings) = index_rows(&db, staged).await;
    if stages {
        assert_eq!((rows, folded_rows, postings), (63, 0, 0));
    } else {
        assert_eq!((rows, folded_rows), (0, 63));
        assert!(postings > 63 * 3, "{postings} postings");
    }
    // The 64th staged memory folds the project's staged rows into the posting lists; forgetting
    // it leaves the same 63 memories as in the other project, folded instead of staged.
    let extra = layers
        .add_semantic(folded, "an extra alpha note", MemoryType::Fact, &[])
        .await
        .unwrap();
    let (rows, folded_rows, postings) = index_rows(&db, folded).await;
    assert_eq!((rows, folded_rows), (0, 64));
    assert!(postings > 64 * 3, "{postings} postings");
    assert!(layers
        .forget(folded, Layer::Semantic, extra.id)
        .await
        .unwrap());
    assert_eq!(index_rows(&db, folded).await.1, 63);
    for query in ["alpha beta", "gamma note", "theta epsilon zeta", "note 17"] {
        let ranked = |p| {
            let engine = &engine;
            async move {
                let hits = engine.recall(p, query, 10).await.unwrap();
                hits.into_iter()
                    .map(|h| (h.content, h.relevance))
                    .collect::<Vec<_>>()
            }
        };
        let (a, b) = (ranked(folded).await, ranked(staged).await);
        assert!(!a.is_empty(), "{query}");
        assert_eq!(a.len(), b.len(), "{query}");
        for ((ca, ra), (cb, rb)) in a.iter().zip(&b) {
            assert_eq!(ca, cb, "{query}");
            assert!((ra - rb).abs() < 1e-9, "{query}: {ra} vs {rb}");
        }
    }
    // Staged or folded, a memory is held under the analyzer's terms.
    let expected: Vec<(String, i64)> = index_terms(&texts[5])
        .counts
        .into_iter()
        .map(|(t, n)| (t, i64::from(n)))
        .collect();
    for (p, id) in fifth {
        let held = engine
            .indexed_terms(p, Place::Semantic, id.0)
            .await
            .unwrap();
        assert_eq!(held, expected);
    }
}

async fn a_span_named_relative_to_now_lifts_what_happened_in_it(db: TestDb) {
    let (engine, p) = setup(&db).await;
    let day = 86_400_000;
    let now = athena_memory::time::now_ms();
    let wm = engine.working_memory();
    let mut ids = Vec::new();
    for (text, days_ago) in [
        ("Deployed the billing service to staging", 1),
        ("Deployed the billing service to production", 10),
        ("Deployed the billing service to the test cluster", 400),
    ] {
        let item = NewItem::new(text).occurred_at(now - days_ago * day);
        ids.push(wm.add(p, item).await.unwrap().id);
    }
    for (query, expected) in [
        ("What did we deploy yesterday?", ids[0]),
        ("What did we deploy 10 days ago?", ids[1]),
        ("Which service was deployed a year ago?", ids[2]),
    ] {
        assert_eq!(
            first(&engine, p, query).await,
            Some((Place::WorkingMemory, expected.0)),
            "{query}"
        );
    }
}

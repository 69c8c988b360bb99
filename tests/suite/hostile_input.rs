//! Hostile input on both backends: NUL characters, metadata too deep or too large, extreme decay
//! rates, non-finite query embeddings. Each is a clear `InvalidInput` naming the field, checked
//! before anything is written, and the store is unchanged afterwards (counts compared).

use crate::common;

use athena_memory::NewGoal;
use athena_memory::ProjectId;
use athena_memory::SemanticSort;
use athena_memory::{Engine, Error, MemoryType, TaskPriority};
use athena_memory::{ItemState, NewItem};
use common::TestDb;
use serde_json::{json, Value};

on_both_backends!(
    nul_characters_are_refused_everywhere_alike,
    metadata_depth_and_size_are_bounded_and_never_poison_a_project,
    decay_rates_are_bounded_so_sql_decay_never_breaks,
    a_non_finite_query_embedding_is_refused,
    malformed_model_files_are_refused_and_store_nothing,
);

/// An engine on `db` and a new project at `path`.
async fn open(db: &TestDb, path: &str) -> (Engine, ProjectId) {
    common::engine_and_project(db, path).await
}

fn assert_invalid<T: std::fmt::Debug>(result: athena_memory::Result<T>, expected: &str) {
    match result {
        Err(Error::InvalidInput { field, rule }) => {
            assert_eq!(field, expected, "{rule}");
        }
        other => panic!("expected InvalidInput on {expected}, got {other:?}"),
    }
}

/// Rows of every kind the checks guard, for before/after comparison.
async fn counts(engine: &Engine, project: ProjectId) -> Vec<usize> {
    let wm = engine.working_memory();
    let layers = engine.layers();
    vec![
        wm.list(project, None, ItemState::Active)
            .await
            .unwrap()
            .len(),
        wm.pending(project, 1000).await.unwrap().len(),
        wm.goals().active(project).await.unwrap().len(),
        layers
            .list_semantic(project, SemanticSort::Recent, 1000)
            .await
            .unwrap()
            .len(),
        layers
            .list_events(project, 0, i64::MAX, None)
            .await
            .unwrap()
            .len(),
        layers.list_procedures(project).await.unwrap().len(),
        engine.projects().list().await.unwrap().len(),
    ]
}

async fn nul_characters_are_refused_everywhere_alike(db: TestDb) {
    let (engine, p) = open(&db, "/hostile/nul").await;
    let wm = engine.working_memory();
    wm.add(p, NewItem::new("a normal note")).await.unwrap();
    let before = counts(&engine, p).await;

    assert_invalid(wm.add(p, NewItem::new("bad\0content")).await, "content");
    assert_invalid(
        wm.add(p, NewItem::new("ok").file_path("/src/a\0b.rs"))
            .await,
        "file_path",
    );
    assert_invalid(
        wm.add(p, NewItem::new("ok").metadata(json!({"session": "s\0"})))
            .await,
        "metadata",
    );
    assert_invalid(
        wm.add(p, NewItem::new("ok").metadata(json!({"k\0": 1})))
            .await,
        "metadata",
    );
    assert_invalid(wm.search(p, "q\0", 5, None).await, "query");
    assert_invalid(wm.goals().add(p, NewGoal::new("goal\0")).await, "text");
    assert_invalid(
        engine
            .projects()
            .get_or_create("/hostile/\0nul", None)
            .await,
        "path",
    );
    assert_invalid(
        engine
            .projects()
            .get_or_create("/hostile/other", Some("na\0me"))
            .await,
        "name",
    );
    let layers = engine.layers();
    assert_invalid(
        layers
            .add_semantic(p, "fact\0", MemoryType::Fact, &[])
            .await,
        "content",
    );
    assert_invalid(
        layers
            .add_semantic(p, "fact", MemoryType::Fact, &["t\0"])
            .await,
        "tags",
    );
    assert_invalid(
        layers.add_event(p, "event", "note", "sess\0", 1).await,
        "session_id",
    );
    assert_invalid(
        layers.add_procedure(p, "na\0me", "ops", "run it").await,
        "name",
    );
    assert_invalid(
        layers
            .add_task(p, "task\0", TaskPriority::Medium, None)
            .await,
        "content",
    );
    assert_invalid(engine.recall(p, "recall\0", 5).await, "query");
    assert_eq!(counts(&engine, p).await, before, "nothing was written");
}

/// `{"a": {"a": ... {"a": 1}}}`, `depth` objects deep.
fn nested(depth: usize) -> Value {
    let mut v = json!(1);
    for _ in 0..depth {
        v = json!({ "a": v });
    }
    v
}

async fn metadata_depth_and_size_are_bounded_and_never_poison_a_project(db: TestDb) {
    let (engine, p) = open(&db, "/hostile/metadata").await;
    let wm = engine.working_memory();
    let before = counts(&engine, p).await;
    assert_invalid(
        wm.add(p, NewItem::new("deep").metadata(nested(200))).await,
        "metadata",
    );
    assert_invalid(
        wm.add(p, NewItem::new("deep").metadata(nested(33))).await,
        "metadata",
    );
    let huge = json!({ "blob": "x".repeat(100 * 1024) });
    assert_invalid(
        wm.add(p, NewItem::new("huge").metadata(huge)).await,
        "metadata",
    );
    assert_eq!(counts(&engine, p).await, before);

    // The deepest accepted metadata reads back everywhere, consolidation included (which nests
    // it one level further in the layer row's provenance).
    let ok = wm
        .add(p, NewItem::new("Deep but fine").metadata(nested(32)))
        .await
        .unwrap();
    assert_eq!(wm.get(p, ok.id).await.unwrap().metadata, nested(32));
    assert_eq!(wm.list(p, None, ItemState::Active).await.unwrap().len(), 1);
    assert_eq!(wm.search(p, "deep", 5, None).await.unwrap().len(), 1);
    let done = engine.consolidate(p, ok.id).await.unwrap();
    assert_eq!(done.item_id, ok.id);
    assert!(!engine.recall(p, "deep fine", 5).await.unwrap().is_empty());
}

async fn decay_rates_are_bounded_so_sql_decay_never_breaks(db: TestDb) {
    let (engine, p) = open(&db, "/hostile/decay").await;
    let wm = engine.working_memory();
    for rate in [f64::MAX, 5e-324, 0.0, -1.0, f64::NAN, 1e4, 1e-10] {
        assert_invalid(
            wm.add(p, NewItem::new("fading").decay_rate(rate)).await,
            "decay_rate",
        );
    }
    assert_eq!(wm.list(p, None, ItemState::Active).await.unwrap().len(), 0);
    // Both bounds are accepted, and every later add, list and sweep still works.
    let fast = wm
        .add(
            p,
            NewItem::new("fast").decay_rate(athena_memory::MAX_DECAY_RATE),
        )
        .await
        .unwrap();
    let slow = wm
        .add(
            p,
            NewItem::new("slow").decay_rate(athena_memory::MIN_DECAY_RATE),
        )
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    // The fastest rate decays within milliseconds: by this sweep, or already by the next add's.
    wm.sweep(p).await.unwrap();
    let pending = wm.pending(p, 10).await.unwrap();
    assert_eq!(
        pending.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![fast.id]
    );
    let active = wm.list(p, None, ItemState::Active).await.unwrap();
    assert_eq!(
        active.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![slow.id]
    );
    wm.add(p, NewItem::new("after")).await.unwrap();
    let err = athena_memory::Config::builder(&db.url)
        .decay_rate(f64::MAX)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidInput {
                field: "decay_rate",
                ..
            }
        ),
        "{err}"
    );
}

async fn a_non_finite_query_embedding_is_refused(db: TestDb) {
    let (engine, p) = open(&db, "/hostile/embedding").await;
    let wm = engine.working_memory();
    wm.add(p, NewItem::new("cache notes").embedding(vec![1.0, 0.0]))
        .await
        .unwrap();
    wm.add(p, NewItem::new("other notes").embedding(vec![0.0, 1.0]))
        .await
        .unwrap();
    for bad in [vec![f32::NAN, 0.0], vec![f32::INFINITY, 1.0], vec![]] {
        assert_invalid(
            wm.search(p, "cache", 2, Some(&bad)).await,
            "query_embedding",
        );
    }
    let hits = wm.search(p, "cache", 2, Some(&[1.0, 0.0])).await.unwrap();
    assert_eq!(hits[0].item.content, "cache notes");
    assert!(hits.iter().all(|h| h.score.is_finite()));
}

/// A valid one-tree `v1` model whose root splits on `feature`, and `extra_depth` more splits
/// chained under its left side.
fn model_json(schema: &str, feature: usize, extra_depth: usize) -> String {
    let leaf = json!({"leaf": {"probabilities": [0.7, 0.1, 0.1, 0.1]}});
    let mut nodes = Vec::new();
    for d in 0..=extra_depth {
        let left = if d == extra_depth {
            2 * d + 1
        } else {
            2 * d + 2
        };
        nodes.push(json!({"split": {"feature": feature, "threshold": 0.5, "left": left, "right": 2 * d + 1}}));
        nodes.push(leaf.clone());
        if d == extra_depth {
            nodes.push(leaf.clone());
        }
    }
    // Renumber so every child index is larger than its parent's: node 2d is the d-th split,
    // 2d + 1 its right leaf, 2d + 2 the next split (or the final left leaf).
    json!({
        "format": "athena-router",
        "format_version": 1,
        "feature_schema": schema,
        "classes": ["semantic", "episodic", "procedural", "prospective"],
        "trees": [{"nodes": nodes}],
    })
    .to_string()
}

async fn malformed_model_files_are_refused_and_store_nothing(db: TestDb) {
    let (engine, p) = open(&db, "/hostile/models").await;
    let dir = tempfile::tempdir().unwrap();
    let valid = model_json("v1", 0, 0);
    assert!(
        athena_memory::TreeModel::from_json(&valid, "ok").is_ok(),
        "the fixture is valid"
    );
    let default = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/router-default.json"),
    )
    .unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "not a model file"),
        (
            "truncated",
            default.as_bytes()[..10_000].to_vec(),
            "not a model file",
        ),
        (
            "wrong_schema",
            model_json("v9", 0, 0).into_bytes(),
            "not a model file",
        ),
        (
            "feature_out_of_range",
            model_json("v1", 99, 0).into_bytes(),
            "feature index 99",
        ),
        (
            "too_deep",
            model_json("v1", 0, 100).into_bytes(),
            "deeper than",
        ),
        ("not_utf8", vec![0xff, 0xfe, b'{', 0x80], ""),
        (
            "not_a_model",
            b"{\"format\": \"something else\"}".to_vec(),
            "not a model file",
        ),
    ];
    for (name, bytes, reason) in cases {
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, bytes).unwrap();
        let err = engine.import_model(p, &path, true).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidModel { .. } | Error::Io { .. }),
            "{name}: {err}"
        );
        assert!(err.to_string().contains(reason), "{name}: {err}");
        assert!(engine
            .models()
            .list(athena_memory::ModelScope::Project(p))
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            engine.routing_stats(p).await.unwrap().active_model,
            "default",
            "{name}"
        );
    }
    let missing = engine
        .import_model(p, &dir.path().join("missing.json"), true)
        .await
        .unwrap_err();
    assert!(matches!(missing, Error::Io { .. }), "{missing}");
}

#[test]
fn corpus_files_name_the_bad_line_invalid_utf8_included() {
    let good = r#"{"content": "x", "component": "phonological", "activation": 0.5, "importance": 0.1, "age_s": 3.0, "layer": "episodic"}"#;
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "utf8",
            [good.as_bytes(), b"\n{\"content\": \"\xff\"}\n"].concat(),
            ":2:",
        ),
        (
            "truncated",
            [good.as_bytes(), b"\n", &good.as_bytes()[..30]].concat(),
            ":2:",
        ),
        (
            "schema",
            format!("{good}\n{good}\n{}", good.replace("layer", "lair")).into_bytes(),
            ":3:",
        ),
        (
            "range",
            format!("{}\n", good.replace("0.5", "NaN")).into_bytes(),
            ":1:",
        ),
    ];
    for (name, bytes, line) in cases {
        let path = dir.path().join(format!("{name}.jsonl"));
        std::fs::write(&path, bytes).unwrap();
        let err = athena_memory::corpus::load(&path).unwrap_err().to_string();
        assert!(
            err.contains(&format!("{name}.jsonl{line}")),
            "{name}: {err}"
        );
    }
}

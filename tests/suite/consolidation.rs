//! Consolidation end to end on both backends: one transaction per call, exactly one layer per
//! item, rollback on failure, batches with per-item reports, concurrent workers, feedback and
//! statistics, the long-term layers' own operations, and recall.

use crate::common;

use athena_memory::SemanticSort;
use athena_memory::{Engine, Error, Layer, MemoryType, ModelLabel, ModelRouteStats};
use athena_memory::{ItemId, ProjectId};
use athena_memory::{NewItem, TextKind};
use common::TestDb;

on_both_backends!(
    each_item_lands_in_exactly_one_layer_with_its_route,
    a_failing_layer_insert_rolls_everything_back,
    batches_report_unknown_and_foreign_ids_per_item,
    pending_items_are_drained_by_routing,
    four_workers_drain_ten_thousand_items_exactly_once,
    feedback_after_consolidation_feeds_statistics,
    an_items_kind_is_kept_with_it_its_route_and_its_label,
    statistics_are_kept_per_model,
    semantic_memory_versions_forget_and_sort,
    recall_searches_the_layers_without_changing_them,
);

async fn setup(db: &TestDb) -> (Engine, ProjectId) {
    common::engine_and_project(db, "/consolidate").await
}

async fn each_item_lands_in_exactly_one_layer_with_its_route(db: TestDb) {
    let (engine, p) = setup(&db).await;
    let wm = engine.working_memory();
    let long = "ü".repeat(70);
    let items = [
        (
            "JWT tokens provide stateless authentication",
            Layer::Semantic,
            serde_json::json!({}),
        ),
        (
            "We shipped the release",
            Layer::Episodic,
            serde_json::json!({ "session": "s-42" }),
        ),
        (
            "build, push, apply",
            Layer::Procedural,
            serde_json::json!({}),
        ),
        (long.as_str(), Layer::Prospective, serde_json::json!({})),
    ];
    for (content, layer, metadata) in items {
        let id = wm
            .add(p, NewItem::new(content).importance(0.7).metadata(metadata))
            .await
            .unwrap()
            .id;
        let done = engine.consolidate_as(p, id, layer).await.unwrap();
        assert_eq!(
            (done.item_id, done.layer, done.confidence),
            (id, layer, 1.0)
        );
        assert_eq!(done.decision.model, "override");
        assert!(
            matches!(wm.get(p, id).await, Err(Error::NotFound { .. })),
            "gone from working memory"
        );
        let route = engine.route_log().get(p, done.route_id).await.unwrap();
        assert_eq!(
            (route.item_id, route.item.content.as_str(), route.layer),
            (id, content, layer)
        );
        assert_eq!(route.feature_schema, athena_memory::FeatureSchema::V2);
        match layer {
            Layer::Semantic => {
                let m = engine
                    .layers()
                    .get_semantic(p, done.memory_id)
                    .await
                    .unwrap();
                assert_eq!(
                    (m.source_item_id, m.route_id, m.memory_type),
                    (Some(id), Some(done.route_id), MemoryType::Fact)
                );
                assert_eq!(m.metadata["source"], "working_memory");
                assert_eq!(m.metadata["item_id"], id.0);
                assert_eq!(m.metadata["importance"], 0.7);
            }
            Layer::Episodic => {
                let e = &engine
                    .layers()
                    .list_events(p, 0, i64::MAX, Some("action"))
                    .await
                    .unwrap()[0];
                assert_eq!(
                    (e.id, e.session_id.as_str(), e.source_item_id),
                    (done.memory_id, "s-42", Some(id))
                );
            }
            Layer::Procedural => {
                let name = format!("Procedure from working memory #{id}");
                let proc_ = engine
                    .layers()
                    .find_procedure(p, &name)
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(
                    (proc_.category.as_str(), proc_.template.as_str()),
                    ("workflow", content)
                );
            }
            Layer::Prospective => {
                let t = &engine
                    .layers()
                    .list_tasks(p, athena_memory::TaskStatus::Pending)
                    .await
                    .unwrap()[0];
                assert_eq!(t.active_form, format!("Working on: {}", "ü".repeat(50)));
                assert_eq!(t.route_id, Some(done.route_id));
            }
        }
    }
    let mut sources = common::layer_sources(&db).await;
    let before = sources.len();
    sources.dedup();
    assert_eq!(
        (before, sources.len()),
        (4, 4),
        "each item in exactly one layer"
    );
    assert_eq!(common::count(&db, "consolidation_routes").await, 4);
    assert_eq!(common::count(&db, "working_memory").await, 0);
    let err = engine.consolidate(p, ItemId(999)).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { id: 999, .. }), "{err}");
}

async fn a_failing_layer_insert_rolls_everything_back(db: TestDb) {
    let (engine, p) = setup(&db).await;
    let wm = engine.working_memory();
    let id = wm
        .add(p, NewItem::new("deploy with care"))
        .await
        .unwrap()
        .id;
    // The procedure name consolidation will use is taken: the layer insert violates
    // UNIQUE (project_id, name) after the claim and the route insert have run.
    engine
        .layers()
        .add_procedure(
            p,
            &format!("Procedure from working memory #{id}"),
            "manual",
            "x",
        )
        .await
        .unwrap();
    let err = engine
        .consolidate_as(p, id, Layer::Procedural)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Database(_)), "{err}");
    let item = wm.get(p, id).await.unwrap();
    assert_eq!(
        item.content, "deploy with care",
        "the item is still in working memory"
    );
    assert_eq!(
        common::count(&db, "consolidation_routes").await,
        0,
        "no route was logged"
    );
    assert_eq!(
        common::count(&db, "procedures").await,
        1,
        "only the pre-existing procedure"
    );
    // The same item consolidates fine into another layer afterwards.
    let done = engine.consolidate_as(p, id, Layer::Semantic).await.unwrap();
    assert_eq!(done.item_id, id);
}

async fn batches_report_unknown_and_foreign_ids_per_item(db: TestDb) {
    let (engine, p) = setup(&db).await;
    let other = engine
        .projects()
        .get_or_create("/someone/else", None)
        .await
        .unwrap()
        .id;
    let wm = engine.working_memory();
    let mut ids = Vec::new();
    for text in [
        "Remember to rotate the keys later",
        "Yesterday at 3pm the build broke",
        "Run cargo test before pushing",
    ] {
        ids.push(wm.add(p, NewItem::new(text)).await.unwrap().id);
    }
    let foreign = wm.add(other, NewItem::new("not yours")).await.unwrap().id;
    let mut requested = ids.clone();
    requested.extend([foreign, ItemId(424_242)]);
    let report = engine.consolidate_batch(p, &requested).await.unwrap();
    assert_eq!(
        report
            .consolidated
            .iter()
            .map(|c| c.item_id)
            .collect::<Vec<_>>(),
        ids
    );
    assert_eq!(report.not_found, vec![foreign, ItemId(424_242)]);
    assert!(report
        .consolidated
        .iter()
        .all(|c| c.decision.model == "default" && c.confidence > 0.0 && c.confidence < 1.0));
    assert_eq!(
        wm.get(other, foreign).await.unwrap().content,
        "not yours",
        "another project's item is untouched"
    );
    let again = engine.consolidate_batch(p, &ids).await.unwrap();
    assert!(again.consolidated.is_empty());
    assert_eq!(
        again.not_found, ids,
        "already consolidated items are reported, not duplicated"
    );
    assert_eq!(common::layer_sources(&db).await, ids);
}

async fn pending_items_are_drained_by_routing(db: TestDb) {
    let (engine, p) = setup(&db).await;
    let wm = engine.working_memory();
    for i in 0..10 {
        wm.add(p, NewItem::new(format!("note number {i}")))
            .await
            .unwrap();
    }
    let pending = wm.pending(p, 100).await.unwrap();
    assert_eq!(
        pending.len(),
        3,
        "ten adds to a loop of seven displace three"
    );
    let done = engine.consolidate_pending(p, 2).await.unwrap().consolidated;
    assert_eq!(
        done.iter().map(|c| c.item_id).collect::<Vec<_>>(),
        vec![pending[0].id, pending[1].id]
    );
    let rest = engine
        .consolidate_pending(p, 100)
        .await
        .unwrap()
        .consolidated;
    assert_eq!(rest.len(), 1);
    assert!(engine
        .consolidate_pending(p, 100)
        .await
        .unwrap()
        .consolidated
        .is_empty());
    assert_eq!(
        wm.list(p, None, athena_memory::ItemState::Active)
            .await
            .unwrap()
            .len(),
        7,
        "active items stay"
    );
    let err = engine.consolidate_pending(p, 0).await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { field: "limit", .. }),
        "{err}"
    );
}

async fn four_workers_drain_ten_thousand_items_exactly_once(db: TestDb) {
    let (engine, p) = setup(&db).await;
    common::insert_pending(&db, p, 10_000).await;
    let mut workers = Vec::new();
    for _ in 0..4 {
        let engine = engine.clone();
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let done = engine
                    .consolidate_pending(p, 250)
                    .await
                    .unwrap()
                    .consolidated;
                if done.is_empty() {
                    break mine;
                }
                mine.extend(done.into_iter().map(|c| c.item_id));
            }
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    assert_eq!(all.len(), 10_000);
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 10_000, "no item was consolidated twice");
    let sources = common::layer_sources(&db).await;
    assert_eq!(
        sources, all,
        "every item has exactly one layer row, none lost"
    );
    assert_eq!(common::count(&db, "working_memory").await, 0);
    assert_eq!(common::count(&db, "consolidation_routes").await, 10_000);
}

async fn feedback_after_consolidation_feeds_statistics(db: TestDb) {
    let (engine, p) = setup(&db).await;
    let wm = engine.working_memory();
    let id = wm
        .add(p, NewItem::new("Remember to review the PR later"))
        .await
        .unwrap()
        .id;
    let done = engine.consolidate(p, id).await.unwrap();
    let stats = engine.routing_stats(p).await.unwrap();
    assert_eq!(
        (stats.total_routes, stats.feedback_count, stats.accuracy),
        (1, 0, None)
    );
    let wrong = Layer::ALL
        .iter()
        .copied()
        .find(|l| *l != done.layer)
        .unwrap();
    let fed = engine.feedback(p, done.route_id, wrong).await.unwrap();
    assert_eq!(fed.was_correct, Some(false));
    assert_eq!(engine.routing_stats(p).await.unwrap().accuracy, Some(0.0));
    let labelled = engine.route_log().labelled(Some(p)).await.unwrap();
    assert_eq!(
        labelled[0].item.content, "Remember to review the PR later",
        "the label outlives the item"
    );
}

/// The kind of text a caller gives is stored with the item, logged with its route (so the
/// router it is routed by reads it) and carried into the training example its feedback makes;
/// an item without one stays without.
async fn an_items_kind_is_kept_with_it_its_route_and_its_label(db: TestDb) {
    let (engine, p) = setup(&db).await;
    let wm = engine.working_memory();
    let text = "Add retries to the HTTP client";
    let code = wm
        .add(p, NewItem::new(text).kind(TextKind::CodeComment))
        .await
        .unwrap()
        .id;
    let plain = wm.add(p, NewItem::new(text)).await.unwrap().id;
    let note = wm
        .add(p, NewItem::new(text).kind(TextKind::Note))
        .await
        .unwrap()
        .id;
    let item = wm.get(p, code).await.unwrap();
    assert_eq!(item.kind, Some(TextKind::CodeComment));
    let now = athena_memory::time::now_ms();
    assert_eq!(item.route_input(now).kind, Some(TextKind::CodeComment));
    assert_eq!(wm.get(p, plain).await.unwrap().kind, None);

    // The default router reads the kind: the same words are a past change in a code comment
    // and a next step in a note.
    let as_note = engine.consolidate(p, note).await.unwrap();
    assert_eq!(as_note.layer, Layer::Prospective);
    for (id, kind) in [(code, Some(TextKind::CodeComment)), (plain, None)] {
        let done = engine.consolidate(p, id).await.unwrap();
        if kind.is_some() {
            assert_eq!(done.layer, Layer::Episodic, "read as a code comment");
        }
        let route = engine.route_log().get(p, done.route_id).await.unwrap();
        assert_eq!(route.item.kind, kind, "item {id}");
        let fed = engine
            .feedback(p, done.route_id, Layer::Episodic)
            .await
            .unwrap();
        assert_eq!(fed.item.kind, kind);
        let example = fed.example().unwrap();
        assert_eq!((example.item.kind, example.layer), (kind, Layer::Episodic));
    }
}

/// Each model's routes and feedback are counted apart, oldest model first, and another
/// project's routes never count.
async fn statistics_are_kept_per_model(db: TestDb) {
    let (engine, p) = setup(&db).await;
    let wm = engine.working_memory();
    let add = |project: ProjectId, text: &'static str| {
        let wm = &wm;
        async move { wm.add(project, NewItem::new(text)).await.unwrap().id }
    };
    let a = add(p, "Switched the base image to debian:bookworm").await;
    let b = add(p, "Next: add caching to search").await;
    let c = add(p, "Run make seed after a reset").await;
    assert!(engine.routing_stats(p).await.unwrap().per_model.is_empty());
    let routed_a = engine.consolidate(p, a).await.unwrap();
    let routed_b = engine.consolidate(p, b).await.unwrap();
    let chosen = engine
        .consolidate_as(p, c, Layer::Procedural)
        .await
        .unwrap();
    let other = engine
        .projects()
        .get_or_create("/other", None)
        .await
        .unwrap()
        .id;
    let foreign = add(other, "Remember to rotate the API keys").await;
    let routed_foreign = engine.consolidate(other, foreign).await.unwrap();
    engine
        .feedback(other, routed_foreign.route_id, routed_foreign.layer)
        .await
        .unwrap();
    let wrong = |l: Layer| Layer::ALL.iter().copied().find(|&x| x != l).unwrap();
    engine
        .feedback(p, routed_a.route_id, routed_a.layer)
        .await
        .unwrap();
    engine
        .feedback(p, routed_b.route_id, wrong(routed_b.layer))
        .await
        .unwrap();
    engine
        .feedback(p, chosen.route_id, Layer::Semantic)
        .await
        .unwrap();
    let stats = engine.routing_stats(p).await.unwrap();
    let row = |model, routes, feedback_count, correct, accuracy| ModelRouteStats {
        model,
        routes,
        feedback_count,
        correct,
        accuracy,
    };
    assert_eq!(
        stats.per_model,
        [
            row(ModelLabel::Default, 2, 2, 1, Some(0.5)),
            row(ModelLabel::Override, 1, 1, 0, Some(0.0))
        ]
    );
    assert_eq!(stats.accuracy, Some(1.0 / 3.0));
}

async fn semantic_memory_versions_forget_and_sort(db: TestDb) {
    let (engine, p) = setup(&db).await;
    let layers = engine.layers();
    let v1 = layers
        .add_semantic(
            p,
            "The API rate limit is 100/min",
            MemoryType::Fact,
            &["api"],
        )
        .await
        .unwrap();
    let v2 = layers
        .update_semantic(p, v1.id, "The API rate limit is 500/min", "raised in March")
        .await
        .unwrap();
    let v3 = layers
        .update_semantic(p, v2.id, "The API rate limit is 1000/min", "raised again")
        .await
        .unwrap();
    assert_eq!(
        (v2.version, v3.version, v3.supersedes_id),
        (2, 3, Some(v2.id))
    );
    let err = layers
        .update_semantic(p, v1.id, "stale", "should fail")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { field: "id", .. }),
        "{err}"
    );
    let history = layers.history(p, v2.id).await.unwrap();
    assert_eq!(
        history.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![v1.id, v2.id, v3.id]
    );
    assert_eq!(history[1].update_reason.as_deref(), Some("raised in March"));
    assert_eq!(history[0].superseded_by, Some(v2.id));

    let other = layers
        .add_semantic(p, "Deploys happen on Tuesdays", MemoryType::Decision, &[])
        .await
        .unwrap();
    layers.mark_useful(p, other.id).await.unwrap();
    let useful = layers
        .list_semantic(p, SemanticSort::Useful, 10)
        .await
        .unwrap();
    assert_eq!(
        useful.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![other.id, v3.id],
        "current versions only"
    );
    let recent = layers
        .list_semantic(p, SemanticSort::Recent, 1)
        .await
        .unwrap();
    assert_eq!(recent[0].id, other.id);
    layers.get_semantic(p, v3.id).await.unwrap();
    let accessed = layers
        .list_semantic(p, SemanticSort::Accessed, 10)
        .await
        .unwrap();
    assert_eq!(accessed[0].id, v3.id);

    assert!(layers.forget(p, Layer::Semantic, v2.id).await.unwrap());
    assert!(
        !layers.forget(p, Layer::Semantic, v2.id).await.unwrap(),
        "true once, then false"
    );
    assert_eq!(
        layers.history(p, v3.id).await.unwrap().len(),
        1,
        "the chain is cut where v2 was"
    );
    let q = engine
        .projects()
        .get_or_create("/elsewhere", None)
        .await
        .unwrap()
        .id;
    assert!(
        !layers.forget(q, Layer::Semantic, v3.id).await.unwrap(),
        "another project cannot forget it"
    );
    assert!(layers.get_semantic(p, v3.id).await.is_ok());
}

async fn recall_searches_the_layers_without_changing_them(db: TestDb) {
    let (engine, p) = setup(&db).await;
    let q = engine
        .projects()
        .get_or_create("/recall/other", None)
        .await
        .unwrap()
        .id;
    let layers = engine.layers();
    let fact = layers
        .add_semantic(p, "API keys are stored in the vault", MemoryType::Fact, &[])
        .await
        .unwrap();
    layers
        .add_event(
            p,
            "We rotated the API keys after the incident",
            "action",
            "s",
            1,
        )
        .await
        .unwrap();
    layers
        .add_procedure(
            p,
            "rotate keys",
            "workflow",
            "generate new API keys, upload, swap",
        )
        .await
        .unwrap();
    layers
        .add_task(
            p,
            "Rotate the API keys on Friday",
            athena_memory::TaskPriority::High,
            None,
        )
        .await
        .unwrap();
    layers
        .add_semantic(p, "Lunch is at noon", MemoryType::Fact, &[])
        .await
        .unwrap();
    layers
        .add_semantic(q, "API keys of the other project", MemoryType::Fact, &[])
        .await
        .unwrap();
    let before = layers
        .list_semantic(p, SemanticSort::Recent, 10)
        .await
        .unwrap();

    let hits = engine.recall(p, "API keys?", 10).await.unwrap();
    let mut found: Vec<Layer> = hits.iter().map(|h| h.layer().unwrap()).collect();
    found.sort();
    assert_eq!(
        found,
        Layer::ALL.to_vec(),
        "one hit per layer, nothing from the other project or about lunch"
    );
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(hits
        .iter()
        .all(|h| h.content.to_lowercase().contains("api keys")));

    let only = engine
        .recall_in(p, "keys", 10, &[Layer::Semantic, Layer::Prospective])
        .await
        .unwrap();
    assert_eq!(only.len(), 2);
    assert!(only
        .iter()
        .all(|h| matches!(h.layer(), Some(Layer::Semantic | Layer::Prospective))));

    layers
        .update_semantic(
            p,
            fact.id,
            "API keys are stored in the secrets manager",
            "moved",
        )
        .await
        .unwrap();
    let semantic = engine
        .recall_in(p, "vault manager", 10, &[Layer::Semantic])
        .await
        .unwrap();
    assert_eq!(semantic.len(), 1, "superseded versions are not recalled");
    assert!(semantic[0].content.contains("secrets manager"));

    let after = layers
        .list_semantic(p, SemanticSort::Recent, 10)
        .await
        .unwrap();
    assert_eq!(
        before.iter().find(|m| m.content.contains("Lunch")),
        after.iter().find(|m| m.content.contains("Lunch")),
        "recall changed nothing"
    );
    let err = engine.recall(p, "?!", 5).await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { field: "query", .. }),
        "{err}"
    );
}

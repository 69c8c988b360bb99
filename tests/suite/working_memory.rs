//! The working memory on both backends: capacity and displacement without loss, decay in SQL and
//! Rust, rehearsal, tenancy, the sketchpad, chunks, goals, events, search and statistics.

use crate::common;

use athena_memory::working_memory::activation::activation_after;
use athena_memory::Config;
use athena_memory::Entity;
use athena_memory::{CapacityLevel, ItemState, MemoryEvent, NewItem};
use athena_memory::{Component, Engine, Error};
use athena_memory::{FocusTarget, GoalStatus, NewGoal};
use athena_memory::{ItemId, ProjectId};
use common::TestDb;

on_both_backends!(
    eight_adds_leave_seven_active_and_the_weakest_pending,
    activation_matches_the_formula_in_sql_and_rust,
    rehearsal_restores_activation,
    projects_are_isolated,
    sketchpad_matches_whole_directories,
    chunks_bind_five_strings_and_known_sources,
    goals_order_complete_cascade_and_nest,
    capacity_status_thresholds,
    bad_input_is_rejected_and_changes_nothing,
    strict_mode_rejects_and_soft_limit_announces,
    decayed_items_go_pending_or_are_forgotten_with_a_record,
    search_ranks_by_similarity_and_activation,
    decay_in_sql_equals_decay_in_rust_on_random_inputs,
);

async fn setup(db: &TestDb) -> (Engine, ProjectId) {
    common::engine_and_project(db, "/wm/project").await
}

async fn eight_adds_leave_seven_active_and_the_weakest_pending(db: TestDb) {
    let (engine, p) = setup(&db).await;
    let wm = engine.working_memory();
    let a0 = [1.0, 0.9, 0.3, 0.8, 0.95, 0.7, 0.85];
    let mut ids = Vec::new();
    for (i, a) in a0.iter().enumerate() {
        let out = wm
            .add(p, NewItem::new(format!("note {i}")).activation(*a))
            .await
            .unwrap();
        assert_eq!(out.displaced, None);
        ids.push(out.id);
    }
    let eighth = wm.add(p, NewItem::new("note 7")).await.unwrap();
    assert_eq!(
        eighth.displaced,
        Some(ids[2]),
        "the lowest-activation item is displaced"
    );
    let active = wm
        .list(p, Some(Component::Phonological), ItemState::Active)
        .await
        .unwrap();
    assert_eq!(active.len(), 7);
    assert!(!active.iter().any(|i| i.id == ids[2]));
    assert_eq!(active[0].activation, 1.0, "strongest first");
    let pending = wm.pending(p, 10).await.unwrap();
    assert_eq!(
        pending.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![ids[2]]
    );
    assert_eq!(pending[0].content, "note 2");
    assert_eq!(
        common::count(&db, "working_memory").await,
        8,
        "nothing was deleted"
    );
}

async fn activation_matches_the_formula_in_sql_and_rust(db: TestDb) {
    let (engine, p) = setup(&db).await;
    let wm = engine.working_memory();
    let low = wm
        .add(
            p,
            NewItem::new("low importance")
                .activation(0.9)
                .decay_rate(0.05)
                .importance(0.0),
        )
        .await
        .unwrap();
    let high = wm
        .add(
            p,
            NewItem::new("high importance")
                .activation(0.9)
                .decay_rate(0.05)
                .importance(1.0),
        )
        .await
        .unwrap();
    let low_item = wm.get(p, low.id).await.unwrap();
    let high_item = wm.get(p, high.id).await.unwrap();
    for t in [10.0f64, 20.0, 30.0, 60.0] {
        // Both items measured t seconds after their own last access.
        for (item, lambda) in [(&low_item, 0.05f64), (&high_item, 0.025)] {
            let now = item.last_accessed_at + (t * 1000.0) as i64;
            let expected = 0.9 * (-lambda * t).exp();
            let sql = wm
                .activations_at(p, now)
                .await
                .unwrap()
                .into_iter()
                .find(|(id, _)| *id == item.id)
                .unwrap()
                .1;
            let rust = item.activation_at(now);
            assert!(
                (sql - expected).abs() < 1e-9,
                "t={t}: sql {sql} vs {expected}"
            );
            assert!(
                (rust - expected).abs() < 1e-9,
                "t={t}: rust {rust} vs {expected}"
            );
            assert!((activation_after(0.9, 0.05, item.importance, t) - expected).abs() < 1e-12);
        }
        let now = low_item.last_accessed_at.max(high_item.last_accessed_at) + (t * 1000.0) as i64;
        let acts = wm.activations_at(p, now).await.unwrap();
        assert_eq!(
            acts[0].0, high.id,
            "at t={t} the more important item has decayed less"
        );
        assert!(acts[0].1 > acts[1].1);
    }
}

async fn rehearsal_restores_activation(db: TestDb) {
    let (engine, p) = setup(&db).await;
    let wm = engine.working_memory();
    let added = wm
        .add(p, NewItem::new("fading").activation(0.4))
        .await
        .unwrap();
    let before = wm.get(p, added.id).await.unwrap();
    let item = wm.rehearse(p, added.id).await.unwrap();
    assert_eq!((item.activation, item.access_count), (1.0, 1));
    assert!(item.last_accessed_at >= before.last_accessed_at);
    let (_, now_act) = wm.activations_at(p, item.last_accessed_at).await.unwrap()[0];
    assert!((now_act - 1.0).abs() < 1e-12);
}

async fn projects_are_isolated(db: TestDb) {
    let (engine, a) = setup(&db).await;
    let b = engine
        .projects()
        .get_or_create("/wm/other", None)
        .await
        .unwrap()
        .id;
    let wm = engine.working_memory();
    let item = wm.add(a, NewItem::new("secret of A")).await.unwrap();
    for err in [
        wm.get(b, item.id).await.unwrap_err(),
        wm.rehearse(b, item.id).await.unwrap_err(),
    ] {
        assert!(
            matches!(err, Error::NotFound { project_id, .. } if project_id == b),
            "{err}"
        );
    }
    assert!(wm.search(b, "secret", 5, None).await.unwrap().is_empty());
    assert!(wm
        .list(b, None, ItemState::Active)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(wm.search(a, "secret", 5, None).await.unwrap().len(), 1);
}

async fn sketchpad_matches_whole_directories(db: TestDb) {
    let (engine, p) = setup(&db).await;
    let wm = engine.working_memory();
    let mut ids = Vec::new();
    for path in [
        "/src/auth/jwt.rs",
        "/src/auth/session.rs",
        "/src/authz/x.rs",
        "/src/auth/deep/y.py",
    ] {
        ids.push(
            wm.add(p, NewItem::new(format!("looked at {path}")).file_path(path))
                .await
                .unwrap()
                .id,
        );
    }
    let found: Vec<ItemId> = wm
        .find_by_directory(p, "/src/auth")
        .await
        .unwrap()
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(
        found,
        vec![ids[0], ids[1], ids[3]],
        "/src/auth must not match /src/authz/x.rs"
    );
    let neighbours: Vec<ItemId> = wm
        .spatial_neighbours(p, "/src/auth/jwt.rs")
        .await
        .unwrap()
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(neighbours, vec![ids[1]]);
    let item = wm.get(p, ids[3]).await.unwrap();
    assert_eq!(item.component, Component::Visuospatial);
    let info = item.file_info().unwrap();
    assert_eq!(
        (
            info.file_type,
            info.directory.as_str(),
            info.file_name.as_str()
        ),
        ("python", "/src/auth/deep", "y.py")
    );
}

async fn chunks_bind_five_strings_and_known_sources(db: TestDb) {
    let (engine, p) = setup(&db).await;
    let wm = engine.working_memory();
    let heard = wm.add(p, NewItem::new("the login fails")).await.unwrap().id;
    let seen = wm
        .add(p, NewItem::new("jwt.rs").file_path("/src/jwt.rs"))
        .await
        .unwrap()
        .id;
    let parts = ["one", "two", "three", "four", "five", "six"];
    let chunk = wm
        .add(p, NewItem::chunk(&parts, &[heard, seen]))
        .await
        .unwrap();
    let item = wm.get(p, chunk.id).await.unwrap();
    assert_eq!(item.component, Component::EpisodicBuffer);
    assert_eq!(item.metadata["chunk"].as_array().unwrap().len(), 5);
    assert_eq!(item.content, "one; two; three; four; five");
    assert_eq!(item.sources, vec![heard, seen]);

    let before = common::count(&db, "working_memory").await;
    let err = wm
        .add(p, NewItem::chunk(&["x"], &[chunk.id]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NotFound { id, .. } if id == chunk.id.0),
        "a chunk is not a valid source: {err}"
    );
    assert_eq!(common::count(&db, "working_memory").await, before);
}

async fn goals_order_complete_cascade_and_nest(db: TestDb) {
    let (engine, p) = setup(&db).await;
    let goals = engine.working_memory().goals();
    let g3 = goals
        .add(p, NewGoal::new("three").priority(3))
        .await
        .unwrap();
    let g9 = goals
        .add(p, NewGoal::new("nine").priority(9))
        .await
        .unwrap();
    let g5 = goals
        .add(p, NewGoal::new("five").priority(5))
        .await
        .unwrap();
    let order: Vec<i64> = goals
        .active(p)
        .await
        .unwrap()
        .iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(order, vec![g9.id, g5.id, g3.id]);

    let child = goals
        .add(p, NewGoal::new("child").subgoal_of(g9.id))
        .await
        .unwrap();
    let grandchild = goals
        .add(p, NewGoal::new("grandchild").subgoal_of(child.id))
        .await
        .unwrap();
    let tree = goals.hierarchy(p).await.unwrap();
    let gc = tree.iter().find(|n| n.goal.id == grandchild.id).unwrap();
    assert_eq!(
        (gc.depth, gc.path.clone()),
        (2, vec![g9.id, child.id, grandchild.id])
    );
    assert_eq!(tree[0].goal.id, g9.id);
    assert_eq!(tree[1].goal.id, child.id, "children follow their parent");

    let done = goals.complete(p, g9.id, true).await.unwrap();
    assert_eq!(done, vec![g9.id, child.id, grandchild.id]);
    for id in done {
        let g = goals.get(p, id).await.unwrap();
        assert_eq!((g.status, g.progress), (GoalStatus::Completed, 1.0));
    }
    assert_eq!(goals.complete(p, g5.id, false).await.unwrap(), vec![g5.id]);

    let g = goals.set_progress(p, g3.id, 0.5).await.unwrap();
    assert_eq!((g.progress, g.status), (0.5, GoalStatus::Active));
    let g = goals.suspend(p, g3.id).await.unwrap();
    assert_eq!(g.status, GoalStatus::Suspended);
    let err = goals.suspend(p, g3.id).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidInput {
                field: "status",
                ..
            }
        ),
        "{err}"
    );
    goals.resume(p, g3.id).await.unwrap();
    let g = goals.set_progress(p, g3.id, 1.7).await.unwrap();
    assert_eq!(
        (g.progress, g.status),
        (1.0, GoalStatus::Completed),
        "clamped, and 1.0 completes"
    );
    assert!(goals.active(p).await.unwrap().is_empty());

    let err = goals
        .add(p, NewGoal::new("bad").priority(11))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidInput {
                field: "priority",
                ..
            }
        ),
        "{err}"
    );
    let focus = goals.focus(p, FocusTarget::Goal, g3.id, 0.8).await.unwrap();
    assert_eq!(focus.weight, 0.8);
    goals.focus(p, FocusTarget::Goal, g3.id, 0.3).await.unwrap();
    let attention = goals.attention(p).await.unwrap();
    assert_eq!((attention.len(), attention[0].weight), (1, 0.3));
    let err = goals
        .focus(p, FocusTarget::Item, 424_242, 0.5)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
}

async fn capacity_status_thresholds(db: TestDb) {
    let (engine, p) = setup(&db).await;
    let wm = engine.working_memory();
    let level = |caps: &[athena_memory::CapacityStatus], c: Component| {
        let s = caps.iter().find(|s| s.component == c).unwrap();
        (s.count, s.free, s.level)
    };
    for i in 0..4 {
        wm.add(p, NewItem::new(format!("p{i}"))).await.unwrap();
    }
    for i in 0..2 {
        wm.add(p, NewItem::chunk(&[format!("c{i}")], &[]))
            .await
            .unwrap();
    }
    let caps = wm.capacity(p).await.unwrap();
    assert_eq!(
        level(&caps, Component::Phonological),
        (4, 3, CapacityLevel::Available)
    );
    assert_eq!(
        level(&caps, Component::EpisodicBuffer),
        (2, 2, CapacityLevel::Available)
    );
    wm.add(p, NewItem::new("p4")).await.unwrap();
    wm.add(p, NewItem::chunk(&["c2"], &[])).await.unwrap();
    let caps = wm.capacity(p).await.unwrap();
    assert_eq!(
        level(&caps, Component::Phonological),
        (5, 2, CapacityLevel::NearFull)
    );
    assert_eq!(
        level(&caps, Component::EpisodicBuffer),
        (3, 1, CapacityLevel::NearFull)
    );
    wm.add(p, NewItem::new("p5")).await.unwrap();
    wm.add(p, NewItem::new("p6")).await.unwrap();
    wm.add(p, NewItem::chunk(&["c3"], &[])).await.unwrap();
    let caps = wm.capacity(p).await.unwrap();
    assert_eq!(
        level(&caps, Component::Phonological),
        (7, 0, CapacityLevel::Full)
    );
    assert_eq!(
        level(&caps, Component::EpisodicBuffer),
        (4, 0, CapacityLevel::Full)
    );
    let stats = wm.stats(p).await.unwrap();
    let phon = stats
        .iter()
        .find(|s| s.component == Component::Phonological)
        .unwrap();
    assert_eq!((phon.count, phon.pending, phon.capacity_used), (7, 0, 1.0));
    let (mean, min, max) = phon.activation.unwrap();
    assert!(min <= mean && mean <= max && max <= 1.0 && min > 0.99);
}

async fn bad_input_is_rejected_and_changes_nothing(db: TestDb) {
    let (engine, p) = setup(&db).await;
    let wm = engine.working_memory();
    wm.add(p, NewItem::new("keep me")).await.unwrap();
    let cases = [
        (NewItem::new("x").importance(1.5), "importance"),
        (NewItem::new("x").importance(f64::NAN), "importance"),
        (NewItem::new(""), "content"),
        (NewItem::new("   "), "content"),
        (NewItem::new("x").activation(2.0), "activation"),
    ];
    for (item, expected) in cases {
        let err = wm.add(p, item).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { field, .. } if field == expected),
            "{err}"
        );
    }
    let err = wm
        .add(ProjectId(987_654), NewItem::new("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotFound {
                entity: Entity::Project,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(common::count(&db, "working_memory").await, 1);
    assert_eq!(
        wm.get(p, ItemId(1_000_000)).await.unwrap_err().to_string(),
        format!("working memory item 1000000 not found in project {p}")
    );
}

async fn strict_mode_rejects_and_soft_limit_announces(db: TestDb) {
    let config = Config::builder(&db.url)
        .strict_capacity(true)
        .build()
        .unwrap();
    let engine = Engine::with_config(config).await.unwrap();
    let p = engine
        .projects()
        .get_or_create("/strict", None)
        .await
        .unwrap()
        .id;
    let wm = engine.working_memory();
    let mut events = wm.subscribe();
    for i in 0..7 {
        wm.add(p, NewItem::new(format!("n{i}"))).await.unwrap();
    }
    let err = wm.add(p, NewItem::new("one too many")).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::CapacityExceeded {
                component: "phonological",
                capacity: 7
            }
        ),
        "{err}"
    );
    assert_eq!(common::count(&db, "working_memory").await, 7);
    assert!(wm.pending(p, 10).await.unwrap().is_empty());
    let mut soft = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let MemoryEvent::SoftLimit {
            count, capacity, ..
        } = event
        {
            soft.push((count, capacity));
        }
    }
    assert_eq!(
        soft,
        vec![(6, 7), (7, 7)],
        "the soft limit is one below capacity"
    );
}

async fn decayed_items_go_pending_or_are_forgotten_with_a_record(db: TestDb) {
    for forget in [false, true] {
        let config = Config::builder(&db.url)
            .decay_threshold(0.5)
            .forget_decayed(forget)
            .build()
            .unwrap();
        let engine = Engine::with_config(config).await.unwrap();
        let p = engine
            .projects()
            .get_or_create(&format!("/decay/{forget}"), None)
            .await
            .unwrap()
            .id;
        let wm = engine.working_memory();
        let mut events = wm.subscribe();
        let weak = wm
            .add(p, NewItem::new("already faint").activation(0.3))
            .await
            .unwrap()
            .id;
        let strong = wm.add(p, NewItem::new("fresh")).await.unwrap();
        assert_eq!(strong.decayed, vec![weak]);
        let event = events.try_recv().unwrap();
        if forget {
            assert_eq!(
                event,
                MemoryEvent::Forgotten {
                    project_id: p,
                    item_id: weak,
                    content: "already faint".into()
                }
            );
            assert!(wm.get(p, weak).await.is_err());
        } else {
            assert_eq!(
                event,
                MemoryEvent::Decayed {
                    project_id: p,
                    item_id: weak
                }
            );
            assert_eq!(wm.get(p, weak).await.unwrap().state, ItemState::Pending);
            let err = wm.rehearse(p, weak).await.unwrap_err();
            assert!(
                matches!(err, Error::InvalidInput { field: "id", .. }),
                "{err}"
            );
        }
        assert_eq!(wm.sweep(p).await.unwrap(), Vec::<ItemId>::new());
    }
}

async fn search_ranks_by_similarity_and_activation(db: TestDb) {
    let (engine, p) = setup(&db).await;
    let wm = engine.working_memory();
    let keys = wm
        .add(
            p,
            NewItem::new("rotate the API keys on Friday").embedding(vec![1.0, 0.0]),
        )
        .await
        .unwrap()
        .id;
    let faint = wm
        .add(
            p,
            NewItem::new("API keys live in the vault")
                .activation(0.2)
                .embedding(vec![0.0, 1.0]),
        )
        .await
        .unwrap()
        .id;
    wm.add(p, NewItem::new("lunch at noon")).await.unwrap();
    let hits = wm.search(p, "API keys", 2, None).await.unwrap();
    assert_eq!(
        hits.iter().map(|h| h.item.id).collect::<Vec<_>>(),
        vec![keys, faint]
    );
    let sim = 2.0 / (2.0f64 * 6.0).sqrt(); // 2 shared words of 2 and 6
    assert!((hits[0].similarity - sim).abs() < 1e-12);
    assert!((hits[0].score - (0.7 * sim + 0.3 * hits[0].activation)).abs() < 1e-12);
    let by_vector = wm
        .search(p, "anything", 1, Some(&[0.0, 1.0]))
        .await
        .unwrap();
    assert_eq!(
        (by_vector[0].item.id, by_vector[0].similarity),
        (faint, 1.0)
    );
    let err = wm.search(p, "x", 0, None).await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { field: "k", .. }),
        "{err}"
    );
}

/// The decay formula exists as SQL (ordering, eviction, sweeping) and as Rust
/// (`Item::activation_at`): on 150 random items and 12 random instants up to a day ahead they
/// must agree to 1e-9 (relative) on each backend.
async fn decay_in_sql_equals_decay_in_rust_on_random_inputs(db: TestDb) {
    let mut state = 0x5eed_u64;
    let mut uniform = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let roomy = athena_memory::Capacities {
        phonological: 1000,
        visuospatial: 1000,
        episodic_buffer: 1000,
        central_executive: 1000,
    };
    let config = Config::builder(&db.url).capacities(roomy).build().unwrap();
    let engine = Engine::with_config(config).await.unwrap();
    let p = engine
        .projects()
        .get_or_create("/decay", None)
        .await
        .unwrap()
        .id;
    let wm = engine.working_memory();
    for i in 0..150 {
        let item = NewItem::new(format!("random item {i}"))
            .component(Component::Phonological)
            .activation(0.2 + 0.8 * uniform())
            .importance(uniform())
            .decay_rate(10f64.powf(-4.0 + 4.0 * uniform()));
        wm.add(p, item).await.unwrap();
    }
    let items = wm.list(p, None, ItemState::Active).await.unwrap();
    assert_eq!(
        items.len(),
        150,
        "no item decayed or was displaced while adding"
    );
    let start = items.iter().map(|i| i.last_accessed_at).max().unwrap();
    for _ in 0..12 {
        let now = start + (uniform() * 86_400_000.0) as i64;
        let sql = wm.activations_at(p, now).await.unwrap();
        assert_eq!(sql.len(), items.len());
        for (id, in_sql) in sql {
            let item = items.iter().find(|i| i.id == id).unwrap();
            let in_rust = item.activation_at(now);
            let tolerance = 1e-9 * in_rust.abs().max(1e-300);
            assert!(
                (in_sql - in_rust).abs() <= tolerance,
                "item {id} at {now}: SQL {in_sql} vs Rust {in_rust} ({})",
                db.backend
            );
        }
    }
    engine.close().await;
}

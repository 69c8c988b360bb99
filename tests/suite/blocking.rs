//! The sync facade works from a plain thread, inside both runtime flavours, from 8 threads at
//! once, and when dropped inside a runtime, on both backends.

use crate::common;

use std::sync::Arc;

use athena_memory::blocking::Engine;
use athena_memory::Entity;
use athena_memory::{CapacityLevel, ItemState, MemoryEvent, NewItem};
use athena_memory::{
    Component, Error, FocusTarget, Layer, MemoryType, ModelScope, NewGoal, RouteInput,
    SemanticSort, TaskPriority, TaskStatus,
};
use athena_memory::{ItemId, ProjectId, RouteId};
use common::TestDb;

on_both_backends_sync!(
    works_from_a_plain_thread,
    works_inside_a_current_thread_runtime,
    works_inside_a_multi_thread_runtime,
    eight_threads_share_one_instance,
    can_be_dropped_inside_a_runtime,
    working_memory_and_routing_through_the_facade,
    every_mirrored_method_matches_the_async_engine,
);

fn works_from_a_plain_thread(db: TestDb) {
    let url = db.url.clone();
    std::thread::spawn(move || {
        let engine = Engine::open(&url).unwrap();
        let project = engine
            .projects()
            .get_or_create("/plain/thread", None)
            .unwrap();
        let task = engine
            .layers()
            .add_task(project.id, "write the docs", TaskPriority::Low, None)
            .unwrap();
        assert_eq!(
            engine
                .layers()
                .list_tasks(project.id, TaskStatus::Pending)
                .unwrap(),
            vec![task]
        );
        let err = engine.projects().require("/not/registered").unwrap_err();
        assert!(matches!(err, Error::ProjectNotFound { .. }), "{err}");
        engine.close();
        assert!(matches!(
            engine.projects().find_by_path("/plain/thread"),
            Err(Error::Closed)
        ));
    })
    .join()
    .unwrap();
}

fn works_inside_a_current_thread_runtime(db: TestDb) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let engine = Engine::open(&db.url).unwrap();
        let p = engine
            .projects()
            .get_or_create("/current/thread", None)
            .unwrap();
        assert_eq!(
            engine
                .projects()
                .find_by_path("/current/thread/src")
                .unwrap()
                .unwrap()
                .id,
            p.id
        );
        // Async work of the caller's own runs beside it on the same runtime.
        tokio::task::yield_now().await;
        assert_eq!(
            engine
                .projects()
                .get_or_create("/current/thread", None)
                .unwrap()
                .id,
            p.id
        );
    });
}

fn works_inside_a_multi_thread_runtime(db: TestDb) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let url = db.url.clone();
        tokio::spawn(async move {
            let engine = Engine::open(&url).unwrap();
            let p = engine
                .projects()
                .get_or_create("/multi/thread", None)
                .unwrap();
            assert_eq!(
                engine.projects().require("/multi/thread/a/b").unwrap().id,
                p.id
            );
            assert!(engine.health_check().connected);
        })
        .await
        .unwrap();
    });
}

fn eight_threads_share_one_instance(db: TestDb) {
    let engine = Arc::new(Engine::open(&db.url).unwrap());
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let engine = Arc::clone(&engine);
            std::thread::spawn(move || {
                let shared = engine.projects().get_or_create("/shared", None).unwrap();
                let own = engine
                    .projects()
                    .get_or_create(&format!("/own/{i}"), None)
                    .unwrap();
                for n in 0..5 {
                    engine
                        .layers()
                        .add_task(own.id, &format!("task {n}"), TaskPriority::Medium, None)
                        .unwrap();
                }
                (shared.id, own.id)
            })
        })
        .collect();
    let results: Vec<(ProjectId, ProjectId)> =
        handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(results.iter().all(|(shared, _)| *shared == results[0].0));
    for (_, own) in results {
        assert_eq!(
            engine
                .layers()
                .list_tasks(own, TaskStatus::Pending)
                .unwrap()
                .len(),
            5
        );
    }
}

fn can_be_dropped_inside_a_runtime(db: TestDb) {
    for multi in [false, true] {
        let rt = if multi {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        };
        let url = db.url.clone();
        rt.block_on(async move {
            let engine = Engine::open(&url).unwrap();
            engine.projects().get_or_create("/dropped", None).unwrap();
            drop(engine);
        });
    }
    // The data written before each drop is there for the next user.
    let engine = Engine::open(&db.url).unwrap();
    assert!(engine
        .projects()
        .find_by_path("/dropped")
        .unwrap()
        .is_some());
}

fn working_memory_and_routing_through_the_facade(db: TestDb) {
    let engine = Engine::open(&db.url).unwrap();
    let p = engine
        .projects()
        .get_or_create("/facade/wm", None)
        .unwrap()
        .id;
    let mut ids = Vec::new();
    for i in 0..8 {
        let out = engine
            .working_memory()
            .add(
                p,
                NewItem::new(format!("note {i}")).activation(if i == 4 { 0.2 } else { 1.0 }),
            )
            .unwrap();
        ids.push(out.id);
        if i == 7 {
            assert_eq!(out.displaced, Some(ids[4]));
        }
    }
    let caps = engine.working_memory().capacity(p).unwrap();
    assert_eq!(caps[0].level, CapacityLevel::Full);
    assert_eq!(
        engine
            .working_memory()
            .list(p, Some(Component::Phonological), ItemState::Pending)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        engine
            .working_memory()
            .rehearse(p, ids[0])
            .unwrap()
            .activation,
        1.0
    );
    assert_eq!(
        engine
            .working_memory()
            .search(p, "note 3", 1, None)
            .unwrap()[0]
            .item
            .id,
        ids[3]
    );
    let item = engine.working_memory().get(p, ids[0]).unwrap();
    let decision = engine.route(p, &item.route_input(item.created_at)).unwrap();
    assert_eq!(decision.model, "default");
    let err = engine
        .feedback(p, RouteId(12345), Layer::Semantic)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotFound {
                entity: Entity::Route,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(engine.routing_stats(p).unwrap().accuracy, None);
    assert!(matches!(
        engine.train(p),
        Err(Error::TrainingDeclined { .. })
    ));
}

/// Every method of the blocking handles, called once through the facade, each result checked.
fn every_mirrored_method_matches_the_async_engine(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let config = athena_memory::Config::builder(&db.url).build().unwrap();
    let engine = Engine::with_config(config).unwrap();
    assert_eq!(engine.config().database_url(), db.url);
    // The bridge itself runs any async code against the engine.
    let none = engine
        .call(|e| async move { e.projects().list().await })
        .unwrap();
    assert!(none.is_empty());

    // Projects.
    let projects = engine.projects();
    let p = projects.get_or_create("/mirror", Some("mirror")).unwrap();
    assert_eq!(projects.get(p.id).unwrap().unwrap().name, "mirror");
    assert_eq!(
        projects.find_by_path("/mirror/src").unwrap().unwrap().id,
        p.id
    );
    assert_eq!(projects.require("/mirror").unwrap().id, p.id);
    assert_eq!(projects.list().unwrap().len(), 1);
    projects.ensure_exists(p.id).unwrap();
    assert!(matches!(
        projects.ensure_exists(ProjectId(999)),
        Err(Error::NotFound { .. })
    ));
    let p = p.id;

    // Working memory and goals.
    let wm = engine.working_memory();
    let mut events = wm.subscribe();
    let file = wm
        .add(
            p,
            NewItem::new("src/auth/login.rs")
                .component(Component::Visuospatial)
                .file_path("/mirror/src/auth/login.rs"),
        )
        .unwrap()
        .id;
    let sibling = wm
        .add(
            p,
            NewItem::new("src/auth/token.rs")
                .component(Component::Visuospatial)
                .file_path("/mirror/src/auth/token.rs"),
        )
        .unwrap()
        .id;
    let note = wm
        .add(p, NewItem::new("Next: add caching to search"))
        .unwrap()
        .id;
    assert_eq!(
        wm.get(p, note).unwrap().content,
        "Next: add caching to search"
    );
    assert_eq!(wm.rehearse(p, note).unwrap().access_count, 1);
    assert_eq!(wm.list(p, None, ItemState::Active).unwrap().len(), 3);
    assert!(wm.pending(p, 10).unwrap().is_empty());
    assert!(wm.sweep(p).unwrap().is_empty());
    let future = wm.get(p, note).unwrap().last_accessed_at + 60_000;
    let activations = wm.activations_at(p, future).unwrap();
    assert!(activations.iter().all(|(_, a)| *a > 0.0 && *a < 1.0));
    assert_eq!(wm.capacity(p).unwrap()[1].count, 2);
    assert_eq!(wm.find_by_directory(p, "/mirror/src").unwrap().len(), 2);
    let neighbours = wm
        .spatial_neighbours(p, "/mirror/src/auth/login.rs")
        .unwrap();
    assert_eq!(
        neighbours.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![sibling]
    );
    assert_eq!(
        wm.search(p, "caching search", 1, None).unwrap()[0].item.id,
        note
    );
    assert_eq!(wm.stats(p).unwrap()[0].count, 1);
    for i in 0..5 {
        wm.add(p, NewItem::new(format!("filler {i}"))).unwrap();
    }
    let heard: Vec<MemoryEvent> = std::iter::from_fn(|| events.try_recv().ok()).collect();
    assert!(
        heard
            .iter()
            .any(|e| matches!(e, MemoryEvent::SoftLimit { count: 6, .. })),
        "{heard:?}"
    );

    let goals = wm.goals();
    let goal = goals
        .add(p, NewGoal::new("ship the CLI").priority(3))
        .unwrap();
    let sub = goals
        .add(p, NewGoal::new("write tests").subgoal_of(goal.id))
        .unwrap();
    assert_eq!(goals.get(p, goal.id).unwrap().text, "ship the CLI");
    assert_eq!(goals.active(p).unwrap().len(), 2);
    assert_eq!(goals.set_progress(p, sub.id, 0.5).unwrap().progress, 0.5);
    assert_eq!(
        goals.suspend(p, sub.id).unwrap().status.as_str(),
        "suspended"
    );
    assert_eq!(goals.resume(p, sub.id).unwrap().status.as_str(), "active");
    assert_eq!(goals.hierarchy(p).unwrap().len(), 2);
    assert_eq!(
        goals
            .focus(p, FocusTarget::Goal, goal.id, 0.8)
            .unwrap()
            .weight,
        0.8
    );
    assert_eq!(goals.attention(p).unwrap().len(), 1);
    let mut done = goals.complete(p, goal.id, true).unwrap();
    done.sort_unstable();
    assert_eq!(done, vec![goal.id, sub.id]);

    // Layers.
    let layers = engine.layers();
    let fact = layers
        .add_semantic(
            p,
            "JWT tokens provide stateless auth",
            MemoryType::Fact,
            &["auth"],
        )
        .unwrap();
    assert_eq!(layers.get_semantic(p, fact.id).unwrap().tags, vec!["auth"]);
    assert_eq!(
        layers
            .list_semantic(p, SemanticSort::Recent, 5)
            .unwrap()
            .len(),
        1
    );
    assert!(layers.mark_useful(p, fact.id).unwrap() > fact.usefulness);
    let newer = layers
        .update_semantic(p, fact.id, "JWTs give stateless auth", "shorter")
        .unwrap();
    assert_eq!(layers.history(p, newer.id).unwrap().len(), 2);
    let event = layers
        .add_event(p, "deployed v2", "deploy", "s1", 1_000)
        .unwrap();
    assert_eq!(
        layers.list_events(p, 0, 2_000, None).unwrap(),
        vec![event.clone()]
    );
    assert_eq!(
        layers.list_events(p, 0, 2_000, Some("other")).unwrap(),
        vec![]
    );
    let procedure = layers
        .add_procedure(p, "reset", "ops", "Run `make seed` after a reset")
        .unwrap();
    let procedure_id = procedure.id;
    assert_eq!(layers.list_procedures(p).unwrap(), vec![procedure.clone()]);
    assert_eq!(layers.find_procedure(p, "reset").unwrap(), Some(procedure));
    let task = layers
        .add_task(p, "rotate the keys", TaskPriority::High, Some(5_000))
        .unwrap();
    assert_eq!(layers.list_tasks_due(p, 6_000).unwrap(), vec![task.clone()]);
    assert_eq!(
        layers.complete_task(p, task.id).unwrap().status,
        TaskStatus::Completed
    );
    assert_eq!(
        layers.list_tasks(p, TaskStatus::Completed).unwrap().len(),
        1
    );
    assert!(matches!(
        layers.get(p, Layer::Procedural, procedure_id).unwrap(),
        athena_memory::Memory::Procedural(ref m) if m.name == "reset"
    ));
    assert_eq!(layers.count(p).unwrap().prospective, 1);
    assert!(layers.forget(p, Layer::Episodic, event.id).unwrap());
    assert!(!layers.forget(p, Layer::Episodic, event.id).unwrap());
    assert!(layers.forget(p, Layer::Semantic, newer.id).unwrap());

    // Routing, consolidation and recall.
    let input = RouteInput {
        content: "Remember to rotate the API keys on Friday",
        component: Component::Phonological,
        activation: 1.0,
        importance: 0.5,
        age_seconds: 0.0,
        kind: None,
    };
    let router = engine.router(p).unwrap();
    assert_eq!(
        engine.refresh_router(p).unwrap().model_label(),
        router.model_label()
    );
    let decision = engine.route(p, &input).unwrap();
    assert_eq!(decision, router.route(&input));
    let log = engine.route_log();
    let route = engine
        .import_labels(p, &[(input, Layer::Prospective)])
        .unwrap()[0];
    let logged = log.get(p, route).unwrap();
    assert_eq!(
        (logged.item.content.as_str(), &logged.model_version),
        (input.content, &decision.model)
    );
    assert_eq!(logged.correct_layer, Some(Layer::Prospective));
    assert_eq!(log.labelled(Some(p)).unwrap().len(), 1);
    let record = engine.feedback(p, route, Layer::Prospective).unwrap();
    assert_eq!(record.id, route);
    assert_eq!(engine.routing_stats(p).unwrap().feedback_count, 1);

    let one = engine.consolidate(p, note).unwrap();
    assert_eq!(one.item_id, note);
    let forced = engine.consolidate_as(p, file, Layer::Episodic).unwrap();
    assert_eq!(forced.layer, Layer::Episodic);
    let batch = engine
        .consolidate_batch(p, &[sibling, ItemId(4242)])
        .unwrap();
    assert_eq!(
        (batch.consolidated.len(), batch.not_found),
        (1, vec![ItemId(4242)])
    );
    assert!(engine
        .consolidate_pending(p, 10)
        .unwrap()
        .consolidated
        .is_empty());
    assert!(!engine
        .recall(p, "seed after a reset", 5)
        .unwrap()
        .is_empty());
    assert!(engine
        .recall_in(p, "seed after a reset", 5, &[Layer::Semantic])
        .unwrap()
        .is_empty());
    let wm = engine.working_memory();
    let held = |state| wm.list(p, None, state).unwrap().len();
    let left = held(ItemState::Active) + held(ItemState::Pending);
    assert!(left > 0, "the test leaves items in working memory");
    assert_eq!(
        engine.consolidate_all(p, 1000).unwrap().consolidated.len(),
        left
    );
    assert_eq!(held(ItemState::Active) + held(ItemState::Pending), 0);
    let terms = engine
        .indexed_terms(p, one.layer.into(), one.memory_id.0)
        .unwrap();
    assert!(!terms.is_empty());

    // Models: train declines on one label; store, list, activate, export and import.
    assert!(matches!(
        engine.train(p),
        Err(Error::TrainingDeclined { .. })
    ));
    let models = engine.models();
    let model = (*common::small_base().model().unwrap()).clone();
    let stored = engine
        .store_model(ModelScope::Project(p), &model, false)
        .unwrap();
    assert_eq!(models.list(ModelScope::Project(p)).unwrap().len(), 1);
    assert!(models.active(ModelScope::Project(p)).unwrap().is_none());
    assert!(engine.activate_model(p, stored.version).unwrap().active);
    let path = dir.path().join("model.json");
    engine.export_model(p, &path).unwrap();
    let imported = engine.import_model(p, &path, true).unwrap();
    assert_eq!(imported.version, stored.version + 1);
    assert_eq!(engine.rollback_model(p).unwrap().version, stored.version);
    assert!(matches!(
        engine.rollback_model(p),
        Err(Error::InvalidInput {
            field: "version",
            ..
        })
    ));
    let was = engine.deactivate_model(p).unwrap();
    assert_eq!(was.map(|m| m.version), Some(stored.version));
    assert!(models.active(ModelScope::Project(p)).unwrap().is_none());
    assert!(engine.deactivate_model(p).unwrap().is_none());
    assert!(engine.deactivate_global_model().unwrap().is_none());
    assert!(matches!(
        engine.activate_global_model(99),
        Err(Error::NotFound { .. })
    ));

    let many = layers
        .add_semantic_all(p, &["A fact", "Another fact"], MemoryType::Fact)
        .unwrap();
    assert_eq!(many.len(), 2);
    assert_eq!(
        layers.get_semantic(p, many[1]).unwrap().content,
        "Another fact"
    );

    assert!(engine.pool_stats().max >= 1);
    assert!(engine.health_check().connected);
    engine.close();
}

/// The handles of the async API and their blocking twins share these names.
const HANDLES: [&str; 7] = [
    "Engine",
    "Projects",
    "WorkingMemory",
    "Goals",
    "Layers",
    "RouteLog",
    "ModelRegistry",
];

/// `(handle, method)` for every method `source` defines in `impl HANDLE` blocks (`pub fn`, or
/// `pub async fn` when `asynchronous`), and for the blocking module, every twin its `twins!`
/// blocks list (`HANDLE via ...;` then one `fn name(...)` line per twin).
fn methods(source: &str, asynchronous: bool) -> Vec<(String, String)> {
    let mut handle: Option<&str> = None;
    let mut out = Vec::new();
    for line in source.lines().map(str::trim_start) {
        let starts_block = line
            .strip_prefix("impl ")
            .map(|rest| rest.trim_end_matches(" {"))
            .or_else(|| line.split(" via |").nth(1).and(line.split(' ').next()));
        if let Some(name) = starts_block {
            handle = HANDLES.iter().copied().find(|h| *h == name);
            continue;
        }
        let prefix = if asynchronous {
            "pub async fn "
        } else {
            "pub fn "
        };
        let name = line
            .strip_prefix(prefix)
            .or_else(|| (!asynchronous).then(|| line.strip_prefix("fn ")).flatten());
        if let (Some(h), Some(rest)) = (handle, name) {
            let name = rest.split(['(', '<']).next().unwrap_or_default();
            if !name.starts_with('$') && !name.is_empty() {
                out.push((h.to_owned(), name.to_owned()));
            }
        }
    }
    out
}

fn async_methods() -> Vec<(String, String)> {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut dirs = vec![src];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() && name != "bin" {
                dirs.push(path);
            } else if name.ends_with(".rs") && name != "blocking.rs" {
                out.extend(methods(&std::fs::read_to_string(&path).unwrap(), true));
            }
        }
    }
    out
}

/// Every public async method of the async handles has a blocking twin of the same name on
/// the same handle: a method added to the async API without its twin fails here.
#[test]
fn every_async_method_has_a_blocking_twin() {
    let twins = methods(include_str!("../../src/blocking.rs"), false);
    let async_methods = async_methods();
    assert!(
        async_methods.len() > 60,
        "the scan finds the async API: {async_methods:?}"
    );
    let missing: Vec<&(String, String)> = async_methods
        .iter()
        .filter(|m| !twins.contains(m))
        .collect();
    assert!(
        missing.is_empty(),
        "async methods without a twin: {missing:?}"
    );
}

/// The test above names every method the blocking module defines: a method added to the facade
/// without a test fails here.
#[test]
fn every_blocking_method_is_exercised() {
    let tests = include_str!("blocking.rs");
    let missing: Vec<String> = methods(include_str!("../../src/blocking.rs"), false)
        .into_iter()
        .map(|(_, name)| name)
        .filter(|name| {
            !tests.contains(&format!(".{name}(")) && !tests.contains(&format!("::{name}("))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "blocking methods without a test: {missing:?}"
    );
}

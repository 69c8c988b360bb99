//! The sync facade works from a plain thread, inside both runtime flavours, from 8 threads at
//! once, and when dropped inside a runtime, on both backends.

mod common;

use std::sync::Arc;

use athena_memory::blocking::Engine;
use athena_memory::{CapacityLevel, ItemState, NewItem};
use athena_memory::{Component, Error, Layer, TaskPriority, TaskStatus};
use common::TestDb;

on_both_backends_sync!(
    works_from_a_plain_thread,
    works_inside_a_current_thread_runtime,
    works_inside_a_multi_thread_runtime,
    eight_threads_share_one_instance,
    can_be_dropped_inside_a_runtime,
    working_memory_and_routing_through_the_facade,
);

fn works_from_a_plain_thread(db: TestDb) {
    let url = db.url.clone();
    std::thread::spawn(move || {
        let engine = Engine::open(&url).unwrap();
        let project = engine.get_or_create_project("/plain/thread", None).unwrap();
        let task = engine
            .create_task(project.id, "write the docs", TaskPriority::Low, None)
            .unwrap();
        assert_eq!(
            engine.tasks(project.id, TaskStatus::Pending).unwrap(),
            vec![task]
        );
        let err = engine.require_project("/not/registered").unwrap_err();
        assert!(matches!(err, Error::ProjectNotFound { .. }), "{err}");
        engine.close();
        assert!(matches!(
            engine.find_project("/plain/thread"),
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
            .get_or_create_project("/current/thread", None)
            .unwrap();
        assert_eq!(
            engine
                .find_project("/current/thread/src")
                .unwrap()
                .unwrap()
                .id,
            p.id
        );
        // Async work of the caller's own runs beside it on the same runtime.
        tokio::task::yield_now().await;
        assert_eq!(
            engine
                .get_or_create_project("/current/thread", None)
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
            let p = engine.get_or_create_project("/multi/thread", None).unwrap();
            assert_eq!(
                engine.require_project("/multi/thread/a/b").unwrap().id,
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
                let shared = engine.get_or_create_project("/shared", None).unwrap();
                let own = engine
                    .get_or_create_project(&format!("/own/{i}"), None)
                    .unwrap();
                for n in 0..5 {
                    engine
                        .create_task(own.id, &format!("task {n}"), TaskPriority::Medium, None)
                        .unwrap();
                }
                (shared.id, own.id)
            })
        })
        .collect();
    let results: Vec<(i64, i64)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(results.iter().all(|(shared, _)| *shared == results[0].0));
    for (_, own) in results {
        assert_eq!(engine.tasks(own, TaskStatus::Pending).unwrap().len(), 5);
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
            engine.get_or_create_project("/dropped", None).unwrap();
            drop(engine);
        });
    }
    // The data written before each drop is there for the next user.
    let engine = Engine::open(&db.url).unwrap();
    assert!(engine.find_project("/dropped").unwrap().is_some());
}

fn working_memory_and_routing_through_the_facade(db: TestDb) {
    let engine = Engine::open(&db.url).unwrap();
    let p = engine.get_or_create_project("/facade/wm", None).unwrap().id;
    let mut ids = Vec::new();
    for i in 0..8 {
        let out = engine
            .add_item(
                p,
                NewItem::new(format!("note {i}")).activation(if i == 4 { 0.2 } else { 1.0 }),
            )
            .unwrap();
        ids.push(out.id);
        if i == 7 {
            assert_eq!(out.displaced, Some(ids[4]));
        }
    }
    let caps = engine.capacity(p).unwrap();
    assert_eq!(caps[0].level, CapacityLevel::Full);
    assert_eq!(
        engine
            .list_items(p, Some(Component::Phonological), ItemState::Pending)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(engine.rehearse(p, ids[0]).unwrap().activation, 1.0);
    assert_eq!(engine.search(p, "note 3", 1).unwrap()[0].item.id, ids[3]);
    let decision = engine.route_item(p, ids[0]).unwrap();
    assert_eq!(decision.model, "default");
    let err = engine.feedback(p, 12345, Layer::Semantic).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotFound {
                entity: "route",
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

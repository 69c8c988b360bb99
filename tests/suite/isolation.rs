//! Tenant isolation, as a property over random interleavings of two projects' operations on
//! both backends: no call made for project A ever returns one of project B's rows or changes
//! them.

use crate::common;

use athena_memory::SemanticSort;
use athena_memory::{Engine, Layer, MemoryType};
use athena_memory::{ItemId, MemoryId, ProjectId, RouteId};
use athena_memory::{ItemState, NewItem};
use common::TestDb;
use proptest::prelude::*;

/// One operation, on project `0` or `1`; indices pick among that project's known ids.
#[derive(Debug, Clone)]
enum Op {
    Add(String),
    Rehearse(usize),
    Consolidate(usize),
    Feedback(usize, usize),
    Remember(String),
    Forget(usize),
    Search(String),
    Recall(String),
}

fn op() -> impl Strategy<Value = Op> {
    let word = prop::sample::select(vec!["cache", "deploy", "fixed", "next", "the api", "run"]);
    prop_oneof![
        3 => word.clone().prop_map(|w| Op::Add(format!("{w} note"))),
        1 => any::<usize>().prop_map(Op::Rehearse),
        2 => any::<usize>().prop_map(Op::Consolidate),
        1 => (any::<usize>(), 0usize..4).prop_map(|(i, l)| Op::Feedback(i, l)),
        1 => word.clone().prop_map(|w| Op::Remember(format!("{w} fact"))),
        1 => any::<usize>().prop_map(Op::Forget),
        1 => word.clone().prop_map(|w| Op::Search(w.to_owned())),
        1 => word.prop_map(|w| Op::Recall(w.to_owned())),
    ]
}

/// Everything of project `p` an operation could change, as comparable text.
async fn snapshot(engine: &Engine, p: ProjectId) -> String {
    let wm = engine.working_memory();
    let active = wm.list(p, None, ItemState::Active).await.unwrap();
    let pending = wm.pending(p, 10_000).await.unwrap();
    let facts = engine
        .layers()
        .list_semantic(p, SemanticSort::Recent, 10_000)
        .await
        .unwrap();
    let stats = engine.routing_stats(p).await.unwrap();
    format!(
        "{:?}|{:?}|{:?}|{}|{}",
        active
            .iter()
            .map(|i| (i.id, &i.content, i.activation, i.access_count))
            .collect::<Vec<_>>(),
        pending.iter().map(|i| i.id).collect::<Vec<_>>(),
        facts.iter().map(|f| (f.id, &f.content)).collect::<Vec<_>>(),
        stats.total_routes,
        stats.feedback_count
    )
}

/// Ids each project has seen, so operations can aim at its own rows and at the other's.
#[derive(Default)]
struct Known {
    items: Vec<ItemId>,
    routes: Vec<RouteId>,
    facts: Vec<MemoryId>,
}

fn pick<T: Copy>(ids: &[T], i: usize) -> Option<T> {
    (!ids.is_empty()).then(|| ids[i % ids.len()])
}

async fn run(db: &TestDb, ops: &[(usize, Op)]) {
    let engine = Engine::open(&db.url).await.unwrap();
    let projects = [
        engine
            .projects()
            .get_or_create("/tenant/a", None)
            .await
            .unwrap()
            .id,
        engine
            .projects()
            .get_or_create("/tenant/b", None)
            .await
            .unwrap()
            .id,
    ];
    let mut known = [Known::default(), Known::default()];
    let wm = engine.working_memory();
    for (who, op) in ops {
        let (me, other) = (projects[*who], projects[1 - who]);
        let before = snapshot(&engine, other).await;
        // Aim half the id-taking operations at the other project's ids: they must fail.
        let mine = &known[*who];
        let theirs = &known[1 - who];
        match op.clone() {
            Op::Add(text) => {
                let added = wm.add(me, NewItem::new(text)).await.unwrap();
                known[*who].items.push(added.id);
            }
            Op::Rehearse(i) => {
                if let Some(id) = pick(&theirs.items, i) {
                    assert!(
                        wm.rehearse(me, id).await.is_err(),
                        "rehearsed another's item"
                    );
                }
                if let Some(id) = pick(&mine.items, i) {
                    if let Ok(item) = wm.rehearse(me, id).await {
                        assert_eq!(item.project_id, me);
                    }
                }
            }
            Op::Consolidate(i) => {
                if let Some(id) = pick(&theirs.items, i) {
                    assert!(
                        engine.consolidate(me, id).await.is_err(),
                        "took another's item"
                    );
                }
                if let Some(id) = pick(&mine.items, i) {
                    if let Ok(done) = engine.consolidate(me, id).await {
                        known[*who].routes.push(done.route_id);
                    }
                }
            }
            Op::Feedback(i, layer) => {
                if let Some(id) = pick(&theirs.routes, i) {
                    assert!(engine.feedback(me, id, Layer::ALL[layer]).await.is_err());
                }
                if let Some(id) = pick(&mine.routes, i) {
                    let r = engine.feedback(me, id, Layer::ALL[layer]).await.unwrap();
                    assert_eq!(r.project_id, me);
                }
            }
            Op::Remember(text) => {
                let m = engine
                    .layers()
                    .add_semantic(me, &text, MemoryType::Fact, &[])
                    .await
                    .unwrap();
                known[*who].facts.push(m.id);
            }
            Op::Forget(i) => {
                if let Some(id) = pick(&theirs.facts, i) {
                    assert!(!engine
                        .layers()
                        .forget(me, Layer::Semantic, id)
                        .await
                        .unwrap_or(false));
                }
            }
            Op::Search(q) => {
                for hit in wm.search(me, &q, 50, None).await.unwrap() {
                    assert_eq!(hit.item.project_id, me);
                }
            }
            Op::Recall(q) => {
                let own: Vec<i64> = engine
                    .layers()
                    .list_semantic(me, SemanticSort::Recent, 10_000)
                    .await
                    .unwrap()
                    .iter()
                    .map(|m| m.id.0)
                    .collect();
                for hit in engine.recall(me, &q, 50).await.unwrap() {
                    if hit.layer() == Some(Layer::Semantic) {
                        assert!(own.contains(&hit.id), "recalled another's fact {hit:?}");
                    }
                }
            }
        }
        assert_eq!(
            snapshot(&engine, other).await,
            before,
            "{op:?} under {me} changed {other}"
        );
    }
    engine.close().await;
}

fn check(db_for_case: impl Fn() -> Option<TestDb>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = ProptestConfig {
        cases: 24,
        ..ProptestConfig::default()
    };
    proptest!(config, |(ops in prop::collection::vec((0usize..2, op()), 1..40))| {
        if let Some(db) = db_for_case() {
            runtime.block_on(run(&db, &ops));
        }
    });
}

#[test]
fn no_call_under_one_project_touches_another_sqlite() {
    check(|| Some(common::sqlite()));
}

#[test]
fn no_call_under_one_project_touches_another_postgres() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    check(|| runtime.block_on(common::postgres()));
}

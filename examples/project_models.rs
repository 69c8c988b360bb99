//! Measures what adapted project models cost: database bytes, resident memory and load time for
//! many projects, each with a model of its own stored as a delta on the shipped default.
//!
//! ```text
//! cargo run --release --example project_models -- [--projects N] [--labels K] [--distinct M]
//!     [--database-url URL] [--json]
//! ```
//!
//! Adapts the shipped default to `M` (default 100) different sets of `K` (default 20) labels,
//! drawn seeded from the shipped corpus, as `Engine::train` adapts it
//! ([`athena_memory::router::adapt_model`]), and stores one of them, round robin, as the active
//! model of each of `N` (default 1,000) projects ([`Engine::store_model`]). Each project has a
//! row of its own, which a fresh engine reads and caches on its own: the distinct models only
//! save adaptation time (about 0.2 s each). Then a fresh engine routes one note in each project,
//! which loads and caches every project's router.
//!
//! Printed: `stored_bytes_mean` and `stored_bytes_max` (one project's stored model),
//! `whole_model_bytes`, `whole_model_heap_kb` and `whole_model_parse_ms` (the same model stored
//! whole, as before deltas, the heap it holds once parsed and the time to parse it: what each
//! cached project router held and took to load then), `database_bytes` (the
//! SQLite file, with its write-ahead log; absent on PostgreSQL), `rss_base_mb` (resident memory
//! once the shipped default routes, in this process that also adapted and stored the models),
//! `heap_per_project_kb` (heap bytes allocated and still held per cached project router,
//! counted by the example's allocator: resident memory would show it only roughly, as the
//! allocator reuses what the writing engine freed), `load_ms_p50` and `load_ms_p99` (a project's first route: its row read,
//! the delta applied, the router cached). With `--json` exactly one JSON object on stdout.
//! Default database: a temporary SQLite file.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use athena_memory::router::{adapt_model, Example, Router};
use athena_memory::{
    corpus, AdaptParams, Config, Engine, ModelLabel, ModelScope, ProjectId, RouteInput,
    RoutingBase, TreeModel,
};
use serde_json::json;

struct Args {
    projects: usize,
    labels: usize,
    distinct: usize,
    url: Option<String>,
    json: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        projects: 1000,
        labels: 20,
        distinct: 100,
        url: None,
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--projects" => args.projects = number(value()?)?,
            "--labels" => args.labels = number(value()?)?,
            "--distinct" => args.distinct = number(value()?)?,
            "--database-url" => args.url = Some(value()?),
            "--json" => args.json = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.projects == 0 || args.distinct == 0 || args.labels < 2 {
        return Err("--projects and --distinct must be at least 1, --labels at least 2".into());
    }
    Ok(args)
}

/// `k` labels for model `i`: rows of the shipped corpus picked by a seeded generator.
fn labels(i: usize, k: usize) -> Vec<Example> {
    let rows = corpus::shipped();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64 ^ (i as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    (0..k)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            rows[(state >> 33) as usize % rows.len()].clone()
        })
        .collect()
}

/// `m` models adapted from `base`, on two threads.
fn adapt_models(base: &TreeModel, m: usize, k: usize) -> Vec<Arc<TreeModel>> {
    let params = AdaptParams::default();
    let adapt = |i: usize| {
        let model = adapt_model(base, corpus::shipped(), &labels(i, k), &params);
        Arc::new(model.expect("the shipped default adapts"))
    };
    std::thread::scope(|s| {
        let odd = s.spawn(|| (1..m).step_by(2).map(adapt).collect::<Vec<_>>());
        let even: Vec<_> = (0..m).step_by(2).map(adapt).collect();
        let odd = odd.join().expect("adapting thread");
        let mut all = Vec::with_capacity(m);
        for (i, model) in even.into_iter().enumerate() {
            all.push(model);
            all.extend(odd.get(i).cloned());
        }
        all
    })
}

/// The system allocator, counting the bytes allocated and not yet freed: what the cached
/// routers hold, which resident memory shows only roughly (the allocator reuses what the
/// writing engine freed before the routers are read).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on unchanged to the system allocator; the counter is a side
// record that never affects what is returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: as the caller's contract for `GlobalAlloc::alloc`.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with `layout`, as the caller guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Resident memory of this process in kB (Linux), 0 elsewhere.
fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("project_models: {e}");
        std::process::exit(2);
    });
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("project_models.db");
    let url = args
        .url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", path.display()));
    let open = || async {
        let config = Config::builder(&url).build().expect("configuration");
        Engine::with_config(config)
            .await
            .expect("open the database")
    };
    let base = RoutingBase::shipped().model().expect("the shipped default");
    let started = Instant::now();
    let models = adapt_models(&base, args.distinct, args.labels);
    let adapt_s = started.elapsed().as_secs_f64();
    let whole = models[0].to_json();
    let before = LIVE.load(Ordering::Relaxed);
    let t = Instant::now();
    let parsed = TreeModel::from_json(&whole, "whole").expect("a model's JSON reads back");
    let whole_model_parse_ms = t.elapsed().as_secs_f64() * 1e3;
    let whole_model_heap_kb = LIVE.load(Ordering::Relaxed).saturating_sub(before) as f64 / 1024.0;
    drop(parsed);

    let writer = open().await;
    let stamp = athena_memory::time::now_ms();
    let mut projects: Vec<ProjectId> = Vec::with_capacity(args.projects);
    let mut stored_bytes = Vec::with_capacity(args.projects);
    for i in 0..args.projects {
        let path = format!("/project_models/{stamp}/{i}");
        let project = writer.projects().get_or_create(&path, None).await;
        let id = project.expect("project").id;
        let model = &models[i % models.len()];
        let stored = writer
            .store_model(ModelScope::Project(id), model, true)
            .await;
        stored_bytes.push(stored.expect("store the model").model.len());
        projects.push(id);
    }
    writer.close().await;
    drop(writer);

    let reader = open().await;
    let note = "Run the migrations before starting the server";
    let input = RouteInput::new(note);
    let idle = reader
        .projects()
        .get_or_create("/project_models/idle", None)
        .await;
    reader
        .route(idle.expect("project").id, &input)
        .await
        .expect("route with the shipped default");
    let rss_base = rss_kb();
    let heap_base = LIVE.load(Ordering::Relaxed);
    let mut loads = Vec::with_capacity(projects.len());
    for &id in &projects {
        let t = Instant::now();
        let decision = reader.route(id, &input).await.expect("route");
        loads.push(t.elapsed().as_secs_f64() * 1e3);
        let own =
            matches!(decision.model, ModelLabel::Project { project_id, .. } if project_id == id);
        assert!(own, "routed by its own model");
    }
    let heap_after = LIVE.load(Ordering::Relaxed);
    if let Router::Model(m) = reader.router(projects[0]).await.expect("router") {
        assert!(
            std::ptr::eq(m.trees(), base.trees()),
            "the base's trees are shared"
        );
    }
    loads.sort_by(f64::total_cmp);
    let database_bytes = ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", path.display())).ok())
        .map(|m| m.len())
        .sum::<u64>();
    let n = projects.len() as f64;
    let figures = json!({
        "projects": projects.len(),
        "labels": args.labels,
        "distinct_models": models.len(),
        "adapt_s": adapt_s,
        "stored_bytes_mean": stored_bytes.iter().sum::<usize>() as f64 / n,
        "stored_bytes_max": stored_bytes.iter().max(),
        "whole_model_bytes": whole.len(),
        "whole_model_heap_kb": whole_model_heap_kb,
        "whole_model_parse_ms": whole_model_parse_ms,
        "database_bytes": (args.url.is_none()).then_some(database_bytes),
        "rss_base_mb": rss_base as f64 / 1024.0,
        "heap_per_project_kb": heap_after.saturating_sub(heap_base) as f64 / 1024.0 / n,
        "load_ms_p50": percentile(&loads, 0.5),
        "load_ms_p99": percentile(&loads, 0.99),
    });
    if args.json {
        println!("{figures}");
    } else {
        println!("{}", serde_json::to_string_pretty(&figures).expect("JSON"));
    }
}

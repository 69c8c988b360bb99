//! Measures how recall's cost grows with the store.
//!
//! ```text
//! cargo run --release --example recall_scale -- --memories N [--database-url URL] [--json]
//!     [--queries Q] [--seed S]
//! ```
//!
//! Builds `N` memories of generated English-like text in one project, and a tenth as many in
//! each of two other projects (tenancy is part of the cost), with [`Layers::remember_all`] in
//! transactions of 10,000; then times `Q` (default 1,000) natural-language questions of 3 to 12
//! words, `recall(p, question, 10)` each, one after another.
//!
//! The text: sentences of 6 to 30 words, about 45 % of them stop words, the rest drawn from a
//! Zipf distribution (exponent 1) over a vocabulary that grows with the store: 400 common
//! words, then generated rarer ones, as word counts grow in real text (Heaps' law). Questions
//! mix a few stop words with content words drawn the same way, so some are common and some
//! rare, as in an agent's questions.
//!
//! Printed: `memories`, `build_s`, `p50_ms`, `p99_ms` (one recall), `mean_hits`. With `--json`
//! exactly one JSON object on stdout. Default database: a temporary SQLite file.
//!
//! [`Layers::remember_all`]: athena_memory::Layers::remember_all

use std::time::Instant;

use athena_memory::{Engine, MemoryType};
use serde_json::json;

/// Memories per `remember_all` call (one transaction).
const BATCH: usize = 10_000;

const STOP: &[&str] = &[
    "the", "a", "to", "and", "of", "in", "it", "is", "that", "for", "on", "with", "was", "we", "i",
    "you", "this", "but", "be", "at", "have", "so", "they", "just", "my", "about", "from",
];

const COMMON: &str = "time people year way day thing man world life hand part child eye woman place work week case point government company number group problem fact water money story month lot right study book job word business issue side kind head house service friend father power hour game line end member law car city community name president team minute idea kid body information back parent face others level office door health person art war history party result change morning reason research girl guy moment air teacher force education foot boy age policy process music market sense nation plan college interest death experience effect use class control care field development role effort rate heart drug show leader light voice wife police mind price report decision son view relationship town road arm difference value building action model season society tax director position player record paper space ground form event official matter center couple site project activity star table need court oil situation cost industry figure street image phone data picture practice piece land product doctor wall patient worker news test movie north love support technology step baby computer type attention film tree source organization hair window evidence population site deploy server database cache query index cluster release branch commit merge build pipeline config secret token key vault backup restore schema migration table column request response client timeout retry queue worker job schedule cron alert dashboard metric log trace error bug fix patch test suite coverage lint format review feature flag rollout canary region zone node pod container image registry network proxy ingress route domain certificate user account session password login permission role policy audit compliance invoice payment customer order cart product price discount shipping warehouse inventory supplier contract meeting standup retro sprint ticket epic story estimate deadline roadmap milestone launch demo garden painting pottery camping hiking swimming running concert museum beach mountain lake forest park dog cat horse bird adoption school class career counseling volunteer festival parade wedding birthday holiday trip vacation flight hotel restaurant recipe dinner breakfast coffee tea book novel poem song guitar piano violin";

/// A small deterministic generator (SplitMix64): the same seed builds the same store.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Words drawn from a Zipf(1) distribution over `vocabulary` ranks: rank r has weight 1/r,
/// sampled by inverting the harmonic approximation `H(r) ≈ ln r + γ`.
struct Words {
    common: Vec<&'static str>,
    vocabulary: usize,
}

impl Words {
    fn new(memories: usize) -> Self {
        let common: Vec<&'static str> = COMMON.split_whitespace().collect();
        // Heaps' law, roughly: distinct words grow with the square root of the text.
        let vocabulary = common.len() + (40.0 * (memories as f64 * 15.0).sqrt()) as usize;
        Words { common, vocabulary }
    }

    fn word(&self, rng: &mut Rng) -> String {
        let h = (self.vocabulary as f64).ln() + 0.577;
        let rank = ((rng.unit() * h - 0.577).exp().floor() as usize).clamp(1, self.vocabulary);
        match self.common.get(rank - 1) {
            Some(w) => (*w).to_owned(),
            None => format!("w{rank:x}q"),
        }
    }

    fn sentence(&self, rng: &mut Rng, min: usize, max: usize) -> String {
        let n = min + rng.below(max - min + 1);
        (0..n)
            .map(|_| {
                if rng.unit() < 0.45 {
                    STOP[rng.below(STOP.len())].to_owned()
                } else {
                    self.word(rng)
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn question(&self, rng: &mut Rng) -> String {
        const OPENERS: &[&str] = &[
            "What did we decide about",
            "When did",
            "Where is",
            "How do I",
            "Who handled",
            "Why did the",
        ];
        let opener = OPENERS[rng.below(OPENERS.len())];
        let opener_words = opener.split_whitespace().count();
        let extra = (3 + rng.below(10)).saturating_sub(opener_words).max(1);
        let rest: Vec<String> = (0..extra).map(|_| self.word(rng)).collect();
        format!("{opener} {}?", rest.join(" "))
    }
}

struct Args {
    memories: usize,
    url: Option<String>,
    json: bool,
    queries: usize,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        memories: 0,
        url: None,
        json: false,
        queries: 1000,
        seed: 42,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--memories" => args.memories = number(value()?)? as usize,
            "--database-url" => args.url = Some(value()?),
            "--json" => args.json = true,
            "--queries" => args.queries = number(value()?)? as usize,
            "--seed" => args.seed = number(value()?)?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.memories == 0 {
        return Err("--memories N (at least 1) is required".into());
    }
    Ok(args)
}

async fn build(engine: &Engine, project: i64, n: usize, words: &Words, rng: &mut Rng) {
    let mut left = n;
    while left > 0 {
        let size = left.min(BATCH);
        let texts: Vec<String> = (0..size).map(|_| words.sentence(rng, 6, 30)).collect();
        engine
            .layers()
            .remember_all(project, &texts, MemoryType::Fact)
            .await
            .expect("store a batch");
        left -= size;
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("recall_scale: {e}");
        std::process::exit(2);
    });
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = args
        .url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("recall_scale.db").display()));
    let engine = Engine::open(&url).await.expect("open the database");
    let projects = engine.projects();
    let stamp = athena_memory::time::now_ms();
    let mut rng = Rng(args.seed);
    let words = Words::new(args.memories);
    let started = Instant::now();
    let mut main_project = 0;
    for (i, share) in [(0, 10), (1, 1), (2, 1)] {
        let path = format!("/recall_scale/{stamp}/{i}");
        let id = projects
            .get_or_create(&path, None)
            .await
            .expect("project")
            .id;
        build(&engine, id, args.memories * share / 10, &words, &mut rng).await;
        if i == 0 {
            main_project = id;
        }
    }
    let build_s = started.elapsed().as_secs_f64();
    let mut latencies = Vec::with_capacity(args.queries);
    let mut hits = 0usize;
    for _ in 0..args.queries {
        let q = words.question(&mut rng);
        let t = Instant::now();
        hits += engine
            .recall(main_project, &q, 10)
            .await
            .expect("recall")
            .len();
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    engine.close().await;
    latencies.sort_by(f64::total_cmp);
    let report = json!({
        "memories": args.memories,
        "build_s": build_s,
        "p50_ms": percentile(&latencies, 0.5),
        "p99_ms": percentile(&latencies, 0.99),
        "mean_hits": hits as f64 / args.queries.max(1) as f64,
    });
    if args.json {
        println!("{report}");
    } else {
        for (key, value) in report.as_object().into_iter().flatten() {
            println!("{key:>10}  {value}");
        }
    }
}

//! # athena-memory
//!
//! A working memory for AI agents, after Baddeley's model, and a learned consolidation router
//! that moves items into four long-term layers (semantic, episodic, procedural, prospective),
//! stored through async sqlx repositories on embedded SQLite or PostgreSQL.
//!
//! ## Architecture
//!
//! Everything an embedder uses is at the crate root: `use athena_memory::{Engine, NewItem, Layer}`.
//! The public modules hold functions and constants only: [`router`] (training, evaluation,
//! adaptation), [`features`] (extraction, lexical similarity), [`recall`] (the text analyzer and
//! date cues of recall), [`corpus`] (JSON Lines corpora),
//! [`working_memory`] (activation maths, limits), [`time`], and [`blocking`] (the sync twin of
//! [`Engine`]).
//!
//! Data flows one way, and no module imports one above it (`tests/suite/architecture.rs` checks it):
//!
//! ```text
//! front doors   Engine, blocking::Engine          engine.rs, blocking.rs
//!      │
//! policy        WorkingMemory (capacity, displacement, decay), consolidation pipeline
//!      │        (claim → decide → write)          working_memory/, consolidate.rs
//!      │
//! repositories  one module per table group, all SQL lives here     db/
//!      │          items.rs     working_memory
//!      │          layers.rs    semantic_memories, episodic_events, procedures, prospective_tasks
//!      │          routes.rs    consolidation_routes      models.rs  router_models
//!      │          projects.rs  projects                  recall.rs  the recall index (postings)
//!      │          working_memory/goals.rs                goals (the executive's own table)
//! settings      Config, validated once by ConfigBuilder              config.rs
//!      │
//! pure routing  Router, TreeModel, training, adaptation, explanations  router/, corpus.rs
//!      │        the recall analyzer (stems, stop words) and ranking          recall/
//!      │
//! pure features RouteInput → feature vectors, the text model, lexical similarity   features/
//!      │
//! foundation    Error, Layer, Component, ItemState, time, rng, string enums
//! ```
//!
//! Where to add things:
//! - **a long-term layer**: a variant of [`Layer`], its table in both `migrations/` folders, its
//!   row and `insert_*` function in `db/layers.rs`, its row builder in `consolidate.rs`, and a
//!   [`Place`] variant in `recall/` (the recall index then covers it).
//! - **a feature**: a new [`FeatureSchema`] variant and its extractor in `features/`; models
//!   record their schema, so old models keep working.
//! - **a backend**: a variant of [`Backend`], its pool in `db::Pool`, its transaction in
//!   `db::WriteTx` (the `on_pool!`/`on_tx!` macros then compile every query for it), its
//!   migrations, and the few statements whose SQL differs (`impl Backend` in `db/mod.rs`,
//!   `db/items.rs::claim`).
//!
//! ## Quickstart
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use athena_memory::{Engine, MemoryType};
//!
//! let engine = Engine::open("sqlite::memory:").await?;
//! let project = engine.projects().get_or_create("/home/me/app", None).await?;
//! let fact = engine
//!     .layers()
//!     .add_semantic(project.id, "JWT tokens provide stateless auth", MemoryType::Fact, &["auth"])
//!     .await?;
//! assert_eq!(engine.layers().get_semantic(project.id, fact.id).await?.content, fact.content);
//! engine.close().await;
//! # Ok::<(), athena_memory::Error>(())
//! # }).unwrap();
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod blocking;
mod component;
mod config;
mod consolidate;
pub mod corpus;
mod db;
mod engine;
mod enum_str;
mod error;
pub mod features;
mod ids;
mod layer;
mod model_file;
pub mod recall;
mod rng;
pub mod router;
mod routing_base;
pub mod time;
pub mod working_memory;

pub use component::{Component, ContentType, ItemState};
pub use config::{
    redact_url, Backend, Capacities, Config, ConfigBuilder, PoolConfig, RouterConfig,
    WorkingMemoryConfig, DEFAULT_DECAY_RATE, DEFAULT_DECAY_THRESHOLD,
};
pub use consolidate::{
    BatchReport, Consolidated, CONSOLIDATED_EVENT_TYPE, CONSOLIDATED_PROCEDURE_CATEGORY,
    DEFAULT_SESSION,
};
pub use corpus::CorpusItem;
pub use db::layers::{
    EpisodicEvent, LayerCounts, Layers, Memory, MemoryType, Procedure, ProspectiveTask,
    SemanticMemory, SemanticSort, TaskPriority, TaskStatus, MAX_CONTENT_CHARS,
};
pub use db::models::{ModelRegistry, ModelScope, StoredModel};
pub use db::projects::{Project, Projects};
pub use db::routes::{LayerRouteStats, ModelRouteStats, RouteLog, RouteRecord, RoutingStats};
pub use db::{Database, HealthReport, HealthStatus, PoolStats};
pub use engine::{Engine, TrainingMethod, TrainingReport, MAX_BATCH};
pub use error::{
    Entity, Error, Result, MAX_DECAY_RATE, MAX_METADATA_BYTES, MAX_METADATA_DEPTH, MIN_DECAY_RATE,
};
pub use features::{
    FeatureSchema, OwnedRouteInput, RouteInput, TextKind, TextLearner, TextModel, V1Markers,
    MIN_PER_KIND,
};
pub use ids::{ItemId, MemoryId, ProjectId, RouteId};
pub use layer::Layer;
pub use recall::{Place, RecallHit, RecallParams};
pub use router::{
    AdaptParams, Adapted, Cue, CueKind, Direction, Evidence, Example, Explanation, HeuristicRouter,
    InUse, LayerMetrics, Metrics, ModelLabel, Node, PathStep, Reading, RouteDecision, Router,
    TrainParams, TrainedModel, Tree, TreeModel, ValidTrainParams,
};
pub use routing_base::RoutingBase;
pub use working_memory::{
    AddOutcome, CapacityLevel, CapacityStatus, ComponentStats, FileInfo, Focus, FocusTarget, Goal,
    GoalNode, GoalStatus, GoalType, Goals, Item, MemoryEvent, NewGoal, NewItem, SearchHit,
    WorkingMemory,
};

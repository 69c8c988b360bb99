//! # athena-memory
//!
//! A working memory for AI agents, after Baddeley's model, and a learned consolidation router
//! that moves items into four long-term layers (semantic, episodic, procedural, prospective),
//! stored through async sqlx repositories on embedded SQLite or PostgreSQL.
//!
//! ## Layout
//!
//! ```text
//! agent ──add──▶ working memory ──▶ consolidation ──▶ semantic | episodic | procedural | prospective
//!                                        │
//!                       features ──▶ router (decision tree or heuristic) ──▶ RouteDecision
//! ```
//!
//! - [`error`]: the one [`Error`] type and [`Result`].
//! - [`config`]: [`Config`], built and validated once by [`ConfigBuilder`].
//! - [`db`]: [`Database`] over the native SQLite and PostgreSQL pools, pool statistics, health
//!   check, and one repository module per table group ([`db::projects`], [`db::layers`]).
//! - [`corpus`]: JSON Lines corpora of labelled items, for offline training.
//! - [`engine`]: [`Engine`], the async front door.
//! - [`blocking`]: [`blocking::Engine`], the same without async.
//! - [`layer`]: the four long-term [`Layer`]s; [`item`]: working-memory components.
//! - [`features`]: feature extraction (pure): [`FeatureSchema`] `v1`, ...
//! - [`working_memory`]: Baddeley's components, capacity, decay, rehearsal, goals, search.
//! - [`router`]: the heuristic, the calibrated tree model, training and metrics (pure).
//! - [`time`]: UTC Unix-millisecond time, the one representation stored on both backends.
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
//!     .remember(project.id, "JWT tokens provide stateless auth", MemoryType::Fact, &["auth"])
//!     .await?;
//! assert_eq!(engine.layers().semantic(project.id, fact.id).await?.content, fact.content);
//! engine.close().await;
//! # Ok::<(), athena_memory::Error>(())
//! # }).unwrap();
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod blocking;
pub mod config;
pub mod consolidate;
pub mod corpus;
pub mod db;
pub mod engine;
mod enum_str;
pub mod error;
pub mod features;
pub mod item;
pub mod layer;
mod rng;
pub mod router;
pub mod time;
pub mod working_memory;

pub use config::{Backend, Config, ConfigBuilder, PoolConfig};
pub use db::layers::{
    EpisodicEvent, Layers, MemoryType, Procedure, ProspectiveTask, SemanticMemory, TaskPriority,
    TaskStatus,
};
pub use db::projects::{Project, Projects};
pub use db::{Database, HealthReport, HealthStatus, PoolStats};
pub use engine::{Engine, TrainingMethod, TrainingReport};
pub use error::{Error, Result};
pub use features::{FeatureSchema, RouteInput};
pub use item::{Component, ContentType};
pub use layer::Layer;
pub use router::{RouteDecision, Router, TreeModel};
pub use working_memory::{AddOutcome, Item, ItemState, MemoryEvent, NewItem, WorkingMemory};

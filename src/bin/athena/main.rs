//! `athena`: the command-line tool and MCP server of athena-memory.
//!
//! Every command prints a readable report, or with `--json` exactly one JSON document with
//! stable keys. The database comes from `--database-url` or `ATHENA_DATABASE_URL`, else a
//! SQLite file in the user's data directory; the project is `--project PATH` or the current
//! directory, resolved to its longest registered ancestor (registered on first use).
//!
//! Exit codes: 0 success; 1 a failure (database unreachable, `doctor` unhealthy, ...); 2 bad
//! input (the message names the field and the rule); 3 an id that does not exist in the project.

mod commands;
mod context;
mod mcp;
mod output;
mod store;

use std::path::PathBuf;
use std::process::ExitCode;

use athena_memory::{Component, Layer, TextKind};
use athena_memory::{ItemId, MemoryId, RouteId};
use clap::{Parser, Subcommand};

/// Working memory and a learned consolidation router for AI agents.
#[derive(Debug, Parser)]
#[command(name = "athena", version, about)]
struct Cli {
    /// Database URL (`sqlite://PATH`, `postgres://...`); default: a SQLite file in the user's
    /// data directory ($XDG_DATA_HOME/athena-memory/athena.db).
    #[arg(long, env = "ATHENA_DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// The project directory (default: the current directory), resolved to its longest
    /// registered ancestor.
    #[arg(long, global = true)]
    project: Option<PathBuf>,
    /// A routing base of your own: the model file that routes projects without one of their
    /// own (JSON, as `athena models export` or the `train` example writes it). Needs
    /// --base-corpus. Default: the shipped model.
    #[arg(
        long,
        env = "ATHENA_BASE_MODEL",
        global = true,
        requires = "base_corpus"
    )]
    base_model: Option<PathBuf>,
    /// The labelled corpus (JSON Lines) the --base-model was trained on: what a project's
    /// labels adapt it on.
    #[arg(
        long,
        env = "ATHENA_BASE_CORPUS",
        global = true,
        requires = "base_model"
    )]
    base_corpus: Option<PathBuf>,
    /// Print one JSON document instead of the readable report.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Add a note to working memory.
    Add {
        /// The note.
        text: String,
        /// Importance, 0..=1 (slows decay).
        #[arg(long)]
        importance: Option<f64>,
        /// Component: phonological, visuospatial, episodic_buffer, central_executive.
        #[arg(long)]
        component: Option<Component>,
        /// A file the note is about (makes it a visuospatial item unless --component says).
        #[arg(long)]
        file: Option<String>,
        /// What kind of text it is: note (an agent's note) or code_comment (a comment or doc
        /// line from source code). Unset, the router guesses from the words.
        #[arg(long)]
        kind: Option<TextKind>,
        /// Who said it, its session and when.
        #[command(flatten)]
        about: store::About,
    },
    /// Working memory: items with their current activation, and each component's capacity.
    List,
    /// Rehearse an item: its activation returns to 1.
    Rehearse {
        /// The item id.
        id: ItemId,
    },
    /// Consolidate items into long-term memory: the given ids; with no ids (or --pending) the
    /// items waiting for consolidation (displaced from a full component or decayed); with
    /// --all everything in working memory, as at the end of a task.
    Consolidate {
        /// Item ids.
        ids: Vec<ItemId>,
        /// Drain pending items (displaced or decayed): what no ids does too.
        #[arg(long, conflicts_with_all = ["ids", "all"])]
        pending: bool,
        /// Consolidate everything in working memory now, active items included.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        /// With no ids: at most this many items (default 1000).
        #[arg(long, conflicts_with = "ids")]
        limit: Option<u32>,
    },
    /// Recall what was remembered: working memory and the four long-term layers, best first.
    Recall {
        /// What to look for, in plain words or as a question.
        query: String,
        /// How many results (default 5).
        #[arg(long, default_value_t = 5)]
        k: usize,
        /// Only these layers (repeatable; working memory is then left out).
        #[arg(long = "layer")]
        layers: Vec<Layer>,
    },
    /// Show one long-term memory.
    Show {
        /// semantic, episodic, procedural or prospective.
        layer: Layer,
        /// Its id.
        id: MemoryId,
    },
    /// Delete one long-term memory.
    Forget {
        /// semantic, episodic, procedural or prospective.
        layer: Layer,
        /// Its id.
        id: MemoryId,
    },
    /// Tell the router where a consolidated item belonged.
    Feedback {
        /// The route id printed by consolidate.
        route_id: RouteId,
        /// The correct layer.
        layer: Layer,
    },
    /// Train this project's router on its feedback (after importing labelled notes with --from).
    Train {
        /// JSON Lines of {"content", "layer"} to add as this project's labels first.
        #[arg(long)]
        from: Option<PathBuf>,
    },
    /// Router models of this project.
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
    /// Routing accuracy, feedback and working-memory figures.
    Stats,
    /// The central executive's goals.
    Goals {
        #[command(subcommand)]
        action: GoalsAction,
    },
    /// Prospective memory: tasks and intentions.
    Tasks {
        #[command(subcommand)]
        action: TasksAction,
    },
    /// Check the database, schema, pool and model; exits 1 when unhealthy.
    Doctor,
    /// Serve MCP: over stdio, or streamable HTTP with --http.
    Mcp {
        /// Serve streamable HTTP on this loopback address (e.g. 127.0.0.1:8765) at /mcp.
        #[arg(long)]
        http: Option<std::net::SocketAddr>,
    },
}

/// `athena models ...`.
#[derive(Debug, Subcommand)]
enum ModelsAction {
    /// Every version, the active one marked.
    List,
    /// Route with version V.
    Activate {
        /// The version.
        version: i64,
    },
    /// Go back to the version before the active one.
    Rollback,
    /// Stop routing with this project's models: the global model, else the shipped default,
    /// routes it again. Its versions stay stored for `activate`.
    Deactivate,
    /// Write the active model to a file.
    Export {
        /// The file.
        path: PathBuf,
    },
    /// Store a model file as the next version and activate it.
    Import {
        /// The file.
        path: PathBuf,
    },
}

/// `athena goals ...`.
#[derive(Debug, Subcommand)]
enum GoalsAction {
    /// Active goals, by priority.
    List,
    /// Set a goal.
    Add {
        /// The goal.
        text: String,
        /// Priority (higher first; default 0).
        #[arg(long)]
        priority: Option<i64>,
    },
    /// Complete a goal and its sub-goals.
    Done {
        /// The goal id.
        id: i64,
    },
}

/// `athena tasks ...`.
#[derive(Debug, Subcommand)]
enum TasksAction {
    /// Open tasks (pending and in progress).
    List,
    /// Complete a task.
    Done {
        /// The task id.
        id: MemoryId,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(output::exit_code(&err))
        }
    }
}

//! `athena mcp`: the Model Context Protocol server (the official Rust SDK, `rmcp`), over stdio
//! or, with `--http ADDR`, the streamable HTTP transport at `http://ADDR/mcp`.
//!
//! Every tool answers with one JSON document as text. Results are bounded (each list has a
//! limit with a default) and carry the ids the next call needs: item ids for `consolidate`,
//! route ids for `feedback`, memory ids, goal and task ids. A bad argument is a tool error whose
//! message names the field and the rule; the server keeps serving. `consolidate` (pending) and
//! `train` send progress notifications when the client asks for them.

use std::net::SocketAddr;
use std::sync::Arc;

use athena_memory::{Component, Error, Layer, Result, TextKind};
use athena_memory::{ItemId, MemoryId, RouteId};
use rmcp::handler::server::{router::tool::ToolRouter, wrapper::Parameters};
use rmcp::model::{
    CallToolResult, ContentBlock, Implementation, ProgressNotificationParam, RequestMetaObject,
    ServerCapabilities, ServerConfig,
};
use rmcp::{tool, tool_handler, tool_router, Peer, RoleServer, ServerHandler, ServiceExt};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::store::{parse_time, About, Store};

/// Serves MCP for `store` until the client disconnects (stdio) or the process is interrupted
/// (HTTP).
pub async fn serve(store: Store, http: Option<SocketAddr>) -> Result<()> {
    let store = Arc::new(store);
    match http {
        None => {
            let service = Athena::new(store)
                .serve(rmcp::transport::stdio())
                .await
                .map_err(|e| io_error("mcp stdio", e))?;
            service
                .waiting()
                .await
                .map_err(|e| io_error("mcp stdio", e))?;
            Ok(())
        }
        Some(addr) => serve_http(store, addr).await,
    }
}

/// The streamable HTTP transport on a loopback address, at `/mcp`.
async fn serve_http(store: Arc<Store>, addr: SocketAddr) -> Result<()> {
    use rmcp::transport::streamable_http_server::{
        session::local::LocalSessionManager, StreamableHttpServerConfig, StreamableHttpService,
    };
    if !addr.ip().is_loopback() {
        return Err(Error::invalid(
            "http",
            format!("must be a loopback address such as 127.0.0.1:8765, got {addr}"),
        ));
    }
    let service = StreamableHttpService::new(
        move || Ok(Athena::new(Arc::clone(&store))),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let router = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| io_error("mcp http listener", e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| io_error("mcp http listener", e))?;
    // Tests and scripts read this line to learn the port when ADDR asked for port 0.
    eprintln!("athena mcp: serving streamable HTTP on http://{bound}/mcp");
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| io_error("mcp http server", e))
}

fn io_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Io {
        path: what.into(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// The MCP server: the store and its tools.
#[derive(Clone)]
pub struct Athena {
    store: Arc<Store>,
    #[allow(dead_code, reason = "read by the tool_handler macro")]
    tool_router: ToolRouter<Self>,
}

impl Athena {
    fn new(store: Arc<Store>) -> Self {
        Athena {
            store,
            tool_router: Self::tool_router(),
        }
    }
}

/// A tool's answer: its value as JSON text, or a tool error naming the field and the rule.
fn answer<T: serde::Serialize>(result: Result<T>) -> CallToolResult {
    match result {
        Ok(value) => match serde_json::to_string(&value) {
            Ok(text) => CallToolResult::success(vec![ContentBlock::text(text)]),
            Err(e) => CallToolResult::error(vec![ContentBlock::text(e.to_string())]),
        },
        Err(e) => CallToolResult::error(vec![ContentBlock::text(e.to_string())]),
    }
}

/// Parses an optional enum argument, naming the field when it is unknown.
fn parse<T: std::str::FromStr<Err = Error>>(value: Option<&str>) -> Result<Option<T>> {
    value.map(str::parse).transpose()
}

/// Sends progress to the client when it asked for it (a progress token in `_meta`).
fn progress_sender(
    meta: &RequestMetaObject,
    peer: Peer<RoleServer>,
    label: &'static str,
) -> impl FnMut(usize, usize) {
    let token = meta.get_progress_token();
    move |done, total| {
        if let Some(token) = token.clone() {
            let peer = peer.clone();
            let note = ProgressNotificationParam::new(token, done as f64)
                .with_total(total as f64)
                .with_message(format!("{done}/{total} {label}"));
            tokio::spawn(async move {
                let _ = peer.notify_progress(note).await;
            });
        }
    }
}

/// The values the JSON schema lists for a `component` argument. The argument itself is read
/// as text and parsed by the library, whose error names the field and the values.
#[derive(JsonSchema)]
#[schemars(rename_all = "snake_case")]
#[allow(dead_code)]
enum ComponentValue {
    Phonological,
    Visuospatial,
    EpisodicBuffer,
    CentralExecutive,
}

/// The values the JSON schema lists for a `kind` argument.
#[derive(JsonSchema)]
#[schemars(rename_all = "snake_case")]
#[allow(dead_code)]
enum KindValue {
    Note,
    CodeComment,
}

/// The values the JSON schema lists for a `layer` argument.
#[derive(JsonSchema)]
#[schemars(rename_all = "snake_case")]
#[allow(dead_code)]
enum LayerValue {
    Semantic,
    Episodic,
    Procedural,
    Prospective,
}

/// `remember`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RememberArgs {
    /// The note, as the agent would write it ("Switched the base image to debian:bookworm",
    /// "Next: add caching to search"). 1 to 10,000 characters.
    pub text: String,
    /// How important it is, 0 to 1 (default 0.5); important notes decay more slowly.
    pub importance: Option<f64>,
    /// Working-memory component: phonological (default; words), visuospatial (files),
    /// episodic_buffer (chunks) or central_executive.
    #[schemars(with = "Option<ComponentValue>")]
    pub component: Option<String>,
    /// A file path the note is about; makes it a visuospatial item.
    pub file: Option<String>,
    /// What kind of text it is: "note" (an agent's own note) or "code_comment" (a
    /// comment or doc line copied from source code). Unset, the router guesses from the words.
    #[schemars(with = "Option<KindValue>")]
    pub kind: Option<String>,
    /// Who said or wrote it: a person's name, "user", "assistant", a tool. Recall favours
    /// memories whose speaker the question names.
    pub speaker: Option<String>,
    /// The conversation or task it belongs to; notes of one session are read with their
    /// neighbours when recalled.
    pub session: Option<String>,
    /// When it happened, UTC: "2023-05-08", "2023-05-08T13:56:00Z" or Unix milliseconds
    /// (default: now).
    pub occurred_at: Option<String>,
}

/// `working_memory`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListArgs {
    /// How many items at most, 1 to 100 (default 20).
    pub limit: Option<usize>,
}

/// `consolidate`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ConsolidateArgs {
    /// Item ids from `remember` or `working_memory` to consolidate now. Leave empty to drain
    /// the items waiting for consolidation (pushed out of a full component, or decayed).
    #[serde(default)]
    #[schemars(with = "Vec<i64>")]
    pub ids: Vec<ItemId>,
    /// With no ids: consolidate everything in working memory now, active notes too (what to
    /// do at the end of a task). Default false.
    #[serde(default)]
    pub all: bool,
    /// With no ids: at most this many items, 1 to 10,000 (default 100).
    pub limit: Option<u32>,
}

/// `recall`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RecallArgs {
    /// What to look for, in plain words or as a question ("What did Caroline research?").
    pub query: String,
    /// How many results, 1 to 50 (default 5).
    pub k: Option<usize>,
    /// Only these layers: semantic, episodic, procedural, prospective (default: everything,
    /// working memory included).
    #[serde(default)]
    #[schemars(with = "Vec<LayerValue>")]
    pub layers: Vec<String>,
}

/// `feedback`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct FeedbackArgs {
    /// The `route_id` that `consolidate` returned for the item.
    #[schemars(with = "i64")]
    pub route_id: RouteId,
    /// Where the item belonged: semantic (a fact), episodic (an event), procedural (how to do
    /// something) or prospective (an intention or task).
    #[schemars(with = "LayerValue")]
    pub layer: String,
}

/// `set_goal`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct GoalArgs {
    /// The goal.
    pub text: String,
    /// Priority; higher comes first (default 0).
    pub priority: Option<i64>,
}

/// A tool taking one id.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct IdArgs {
    /// The id from the listing.
    pub id: i64,
}

/// `list_tasks`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct TasksArgs {
    /// How many tasks at most, 1 to 100 (default 20).
    pub limit: Option<usize>,
}

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct NoArgs {}

#[tool_router]
impl Athena {
    #[tool(
        description = "Add a note to working memory: something just seen, heard, done or decided. Returns the item with its id. Full components push their weakest item to pending consolidation; nothing is lost."
    )]
    async fn remember(&self, Parameters(a): Parameters<RememberArgs>) -> CallToolResult {
        let run = async {
            let component: Option<Component> = parse(a.component.as_deref())?;
            let kind: Option<TextKind> = parse(a.kind.as_deref())?;
            let occurred_at = a
                .occurred_at
                .as_deref()
                .map(|t| parse_time(t).map_err(|e| Error::invalid("occurred_at", e)))
                .transpose()?;
            let about = About {
                speaker: a.speaker,
                session: a.session,
                occurred_at,
            };
            self.store
                .add(
                    &a.text,
                    a.importance,
                    component,
                    a.file.as_deref(),
                    kind,
                    about,
                )
                .await
        };
        answer(run.await)
    }

    #[tool(
        description = "List working memory: items strongest first with their current activation (0-1) and state, and each component's count and capacity."
    )]
    async fn working_memory(&self, Parameters(a): Parameters<ListArgs>) -> CallToolResult {
        answer(self.store.working_memory(a.limit.unwrap_or(20)).await)
    }

    #[tool(
        description = "Move items from working memory into long-term memory. A trained router picks the layer (semantic fact, episodic event, procedural how-to, prospective intention) and says why. Give item ids; or none to drain the items waiting for consolidation (pushed out of a full component or decayed: fresh notes stay in working memory); or none with all=true to consolidate everything in working memory, as at the end of a task. Each result has a route_id for feedback and a memory_id. Notes are recallable before and after."
    )]
    async fn consolidate(
        &self,
        Parameters(a): Parameters<ConsolidateArgs>,
        meta: RequestMetaObject,
        peer: Peer<RoleServer>,
    ) -> CallToolResult {
        if a.ids.is_empty() {
            let progress = progress_sender(&meta, peer, "consolidated");
            let limit = a.limit.unwrap_or(100);
            if a.all {
                answer(self.store.consolidate_all(limit, progress).await)
            } else {
                answer(self.store.consolidate_pending(limit, progress).await)
            }
        } else {
            answer(self.store.consolidate(&a.ids).await)
        }
    }

    #[tool(
        description = "Recall what was remembered: working memory and the four long-term layers (or only the layers given), best first. Ask in plain words or as a question. Each hit says where it lives (place: working_memory or a layer), its id there, and who said it, in which session and when."
    )]
    async fn recall(&self, Parameters(a): Parameters<RecallArgs>) -> CallToolResult {
        let run = async {
            let layers = a
                .layers
                .iter()
                .map(|l| l.parse::<Layer>())
                .collect::<Result<Vec<_>>>()?;
            self.store.recall(&a.query, a.k.unwrap_or(5), &layers).await
        };
        answer(run.await)
    }

    #[tool(
        description = "Tell the router where a consolidated item really belonged, using the route_id from consolidate. Labels make this project's router better after training."
    )]
    async fn feedback(&self, Parameters(a): Parameters<FeedbackArgs>) -> CallToolResult {
        let run = async {
            let layer: Layer = a.layer.parse()?;
            self.store.feedback(a.route_id, layer).await
        };
        answer(run.await)
    }

    #[tool(description = "Set a goal for the central executive. Returns it with its id.")]
    async fn set_goal(&self, Parameters(a): Parameters<GoalArgs>) -> CallToolResult {
        answer(self.store.set_goal(&a.text, a.priority).await)
    }

    #[tool(description = "List the active goals, highest priority first.")]
    async fn list_goals(&self, Parameters(_): Parameters<NoArgs>) -> CallToolResult {
        answer(self.store.goals().await)
    }

    #[tool(description = "Complete a goal (and its sub-goals) by id; returns the completed ids.")]
    async fn complete_goal(&self, Parameters(a): Parameters<IdArgs>) -> CallToolResult {
        answer(self.store.complete_goal(a.id).await)
    }

    #[tool(
        description = "List open tasks and intentions from prospective memory (pending and in progress)."
    )]
    async fn list_tasks(&self, Parameters(a): Parameters<TasksArgs>) -> CallToolResult {
        answer(self.store.tasks(a.limit.unwrap_or(20)).await)
    }

    #[tool(description = "Mark a prospective task done by id.")]
    async fn complete_task(&self, Parameters(a): Parameters<IdArgs>) -> CallToolResult {
        answer(self.store.complete_task(MemoryId(a.id)).await)
    }

    #[tool(
        description = "Routing accuracy and feedback, working-memory load and long-term counts of this project."
    )]
    async fn stats(&self, Parameters(_): Parameters<NoArgs>) -> CallToolResult {
        answer(self.store.stats().await)
    }

    #[tool(
        description = "Train this project's router on its feedback. The new model is activated only when cross-validation on the labels shows it beats the default (or global) router; when it does not, a model already active that did worse in use than that router on its own labelled routes is deactivated (deactivated in the report). The report says why."
    )]
    async fn train(
        &self,
        Parameters(_): Parameters<NoArgs>,
        meta: RequestMetaObject,
        peer: Peer<RoleServer>,
    ) -> CallToolResult {
        let mut progress = progress_sender(&meta, peer, "training");
        progress(0, 1);
        let result = self.store.train(None).await;
        progress(1, 1);
        answer(result)
    }

    #[tool(
        description = "Stop routing with this project's own trained models (they stay stored): the global model, else the shipped default, routes it again. Use it when a trained model routes worse than before. Returns the version deactivated (null if none was active) and the router now in use."
    )]
    async fn deactivate_model(&self, Parameters(_): Parameters<NoArgs>) -> CallToolResult {
        answer(self.store.deactivate().await)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Athena {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("athena", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "athena-memory: a working memory and a learned long-term memory for this project. \
                 `remember` notes as you work; `consolidate` moves them into long-term layers \
                 (facts, events, how-tos, intentions); `recall` searches them; `feedback` with a \
                 route_id corrects the router, and `train` learns from the corrections.",
            )
    }
}

//! The MCP server as an agent meets it: the `athena` binary started as a child process and
//! driven by the official Rust SDK's client over stdio (on both backends), and once over the
//! streamable HTTP transport.

mod common;

use std::sync::{Arc, Mutex};

use athena_memory::{Component, Layer, TextKind};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientConfig, NumberOrString, ProgressNotificationParam,
    ProgressToken, RequestMetaObject,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{json, Value};

use common::TestDb;

on_both_backends!(an_agent_remembers_consolidates_recalls_and_trains_over_stdio);

/// Collects the progress notifications the server sends.
#[derive(Clone, Default)]
struct Agent {
    progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
}

impl ClientHandler for Agent {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(params);
    }
}

async fn call(
    client: &RunningService<RoleClient, impl rmcp::Service<RoleClient>>,
    tool: &'static str,
    args: Value,
) -> CallToolResult {
    let args = args.as_object().cloned().unwrap_or_default();
    client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(args))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

/// The JSON document a successful tool call answered with.
fn document(result: &CallToolResult) -> Value {
    assert_ne!(result.is_error, Some(true), "tool error: {result:?}");
    let text = result.content[0]
        .as_text()
        .expect("text content")
        .text
        .clone();
    serde_json::from_str(&text).expect("one JSON document")
}

fn error_text(result: &CallToolResult) -> String {
    assert_eq!(
        result.is_error,
        Some(true),
        "expected a tool error: {result:?}"
    );
    result.content[0].as_text().unwrap().text.clone()
}

const NOTES: [&str; 10] = [
    "Switched the base image to debian:bookworm",
    "Next: add caching to search",
    "Run `make seed` after a reset",
    "The API gateway times out after 30 seconds",
    "Fixed the flaky login test by waiting for the redirect",
    "TODO: rotate the API keys on Friday",
    "To release, tag the commit and push the tag",
    "Postgres listens on port 5432 in the dev stack",
    "Deployed v2.3 to staging this morning",
    "Remember to update the changelog before the release",
];

async fn an_agent_remembers_consolidates_recalls_and_trains_over_stdio(db: TestDb) {
    let agent = Agent::default();
    let transport = TokioChildProcess::new(
        tokio::process::Command::new(env!("CARGO_BIN_EXE_athena")).configure(|cmd| {
            // The small routing base, given as the environment can give it.
            let (model, corpus) = common::small_base_files();
            cmd.env("ATHENA_BASE_MODEL", model)
                .env("ATHENA_BASE_CORPUS", corpus);
            cmd.args([
                "--database-url",
                &db.url,
                "--project",
                "/agents/demo",
                "mcp",
            ]);
        }),
    )
    .unwrap();
    let client = agent.clone().serve(transport).await.unwrap();

    let info = client.peer_info().unwrap();
    assert_eq!(info.server_info.as_ref().unwrap().name, "athena");
    let tools = client.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "complete_goal",
            "complete_task",
            "consolidate",
            "deactivate_model",
            "feedback",
            "list_goals",
            "list_tasks",
            "recall",
            "remember",
            "set_goal",
            "stats",
            "train",
            "working_memory"
        ]
    );
    for tool in &tools {
        assert!(
            tool.description.as_ref().is_some_and(|d| d.len() > 30),
            "{}",
            tool.name
        );
        assert_eq!(
            tool.input_schema.get("type"),
            Some(&json!("object")),
            "{}",
            tool.name
        );
    }
    let remember = tools.iter().find(|t| t.name == "remember").unwrap();
    assert!(remember.input_schema["properties"]["text"].is_object());
    // Every enum argument's schema lists the values the library accepts.
    let layers: Vec<String> = Layer::ALL.iter().map(|l| l.to_string()).collect();
    for (tool, field, expected) in [
        (
            "remember",
            "component",
            vec![
                "phonological",
                "visuospatial",
                "episodic_buffer",
                "central_executive",
            ],
        ),
        ("remember", "kind", vec!["note", "code_comment"]),
        (
            "feedback",
            "layer",
            layers.iter().map(String::as_str).collect(),
        ),
        (
            "recall",
            "layers",
            layers.iter().map(String::as_str).collect(),
        ),
    ] {
        let schema = &tools.iter().find(|t| t.name == tool).unwrap().input_schema;
        assert_eq!(enum_values(schema, field), expected, "{tool}.{field}");
    }
    for value in ["episodic_buffer", "central_executive"] {
        assert!(value.parse::<Component>().is_ok(), "{value}");
    }
    for value in ["note", "code_comment"] {
        assert!(value.parse::<TextKind>().is_ok(), "{value}");
    }

    // Remember ten notes; a full loop displaces its weakest note to pending, nothing is lost.
    let mut ids = Vec::new();
    for (i, note) in NOTES.iter().enumerate() {
        // The first says what kind of text it is; the item keeps it.
        let args = match i {
            0 => json!({ "text": note, "kind": "note" }),
            _ => json!({ "text": note }),
        };
        let item = document(&call(&client, "remember", args).await);
        assert_eq!(item.get("kind"), (i == 0).then_some(&json!("note")));
        ids.push(item["id"].as_i64().unwrap());
    }
    let wm = document(&call(&client, "working_memory", json!({ "limit": 3 })).await);
    assert_eq!(
        wm["items"].as_array().unwrap().len(),
        3,
        "the limit bounds the answer"
    );
    assert_eq!(wm["total"], 10);

    // Consolidate the active ones by id, then drain the pending ones with progress.
    let active: Vec<i64> =
        document(&call(&client, "working_memory", json!({ "limit": 100 })).await)["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["state"] == "active")
            .map(|i| i["id"].as_i64().unwrap())
            .collect();
    let done = document(&call(&client, "consolidate", json!({ "ids": active })).await);
    let mut consolidated = done["consolidated"].as_array().unwrap().clone();
    let mut meta = RequestMetaObject::default();
    meta.set_progress_token(ProgressToken(NumberOrString::Number(7)));
    let mut params = CallToolRequestParams::new("consolidate").with_arguments(Default::default());
    params.meta = Some(meta);
    let drained = document(&client.call_tool(params).await.unwrap());
    consolidated.extend(drained["consolidated"].as_array().unwrap().iter().cloned());
    assert_eq!(
        consolidated.len(),
        10,
        "every note reached long-term memory once"
    );
    for c in &consolidated {
        assert!(c["route_id"].is_i64() && c["memory_id"].is_i64(), "{c}");
        assert!(c["why"].as_str().unwrap().contains(" rather than "), "{c}");
    }
    // Only the first note was given its kind; the router guessed the others' from their words.
    let given = consolidated
        .iter()
        .filter(|c| c["read_as"]["given"] == true);
    assert_eq!(given.count(), 1, "{consolidated:?}");
    // Ten notes in a loop of seven: the three weakest were displaced to pending.
    assert_eq!(
        drained["consolidated"].as_array().unwrap().len(),
        3,
        "{drained}"
    );
    // The client handles notifications on its own task, so the last one may land after the
    // answer: wait for it (up to 10 s, for a loaded machine).
    common::eventually(std::time::Duration::from_secs(10), async || {
        let progress = agent.progress.lock().unwrap().clone();
        progress
            .iter()
            .any(|p| p.progress == 3.0 && p.total == Some(3.0))
            .then_some(())
            .ok_or(format!(
                "draining pending items reports progress: {progress:?}"
            ))
    })
    .await;

    // Recall finds them.
    let hits = document(&call(&client, "recall", json!({ "query": "API keys rotate" })).await);
    assert!(hits.as_array().unwrap().iter().any(|h| h["content"]
        .as_str()
        .unwrap()
        .contains("rotate the API keys")));

    // A bad argument is a tool error naming the field, and the next call still works.
    let bad = call(&client, "remember", json!({ "text": "x", "importance": 5 })).await;
    assert!(error_text(&bad).contains("importance"), "{bad:?}");
    let bad = call(&client, "remember", json!({ "text": "x", "kind": "poem" })).await;
    assert!(error_text(&bad).contains("kind"), "{bad:?}");
    let bad = call(
        &client,
        "feedback",
        json!({ "route_id": 1, "layer": "someday" }),
    )
    .await;
    assert!(error_text(&bad).contains("layer"), "{bad:?}");
    let bad = call(&client, "recall", json!({ "query": "keys", "k": 0 })).await;
    assert!(error_text(&bad).contains('k'), "{bad:?}");
    let stats = document(&call(&client, "stats", json!({})).await);
    assert_eq!(
        stats["layers"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_i64().unwrap())
            .sum::<i64>(),
        10
    );

    // Notes just remembered are found by the next call, with who said them, their session and
    // when; consolidating with no ids leaves fresh notes where they are, all=true moves them.
    for (text, speaker) in [
        ("Kubernetes ingress needs the TLS secret", "ops-bot"),
        ("Caroline prefers the blue dashboard", "Caroline"),
        ("Release train leaves on Thursdays", "user"),
    ] {
        let args = json!({ "text": text, "speaker": speaker, "session": "task-42",
                           "occurred_at": "2023-05-08T13:56:00Z" });
        let item = document(&call(&client, "remember", args).await);
        assert_eq!(
            (&item["speaker"], &item["session"]),
            (&json!(speaker), &json!("task-42"))
        );
        assert_eq!(item["occurred_at"], 1_683_554_160_000i64);
    }
    let hits = document(&call(&client, "recall", json!({ "query": "kubernetes ingress" })).await);
    assert_eq!(hits[0]["place"], "working_memory", "{hits}");
    assert_eq!(hits[0]["speaker"], "ops-bot");
    let none = document(&call(&client, "consolidate", json!({})).await);
    assert_eq!(
        none["consolidated"],
        json!([]),
        "fresh notes are not pending"
    );
    let all = document(&call(&client, "consolidate", json!({ "all": true })).await);
    assert_eq!(all["consolidated"].as_array().unwrap().len(), 3, "{all}");
    let hits = document(
        &call(
            &client,
            "recall",
            json!({ "query": "What does Caroline prefer?" }),
        )
        .await,
    );
    assert_ne!(hits[0]["place"], "working_memory", "{hits}");
    assert_eq!(
        (&hits[0]["speaker"], &hits[0]["session"]),
        (&json!("Caroline"), &json!("task-42"))
    );
    let bad = call(
        &client,
        "remember",
        json!({ "text": "x", "occurred_at": "soon" }),
    )
    .await;
    assert!(error_text(&bad).contains("occurred_at"), "{bad:?}");

    // Feedback on every route (the layer each note really belongs in), then train.
    let truth = [
        "episodic",
        "prospective",
        "procedural",
        "semantic",
        "episodic",
        "prospective",
        "procedural",
        "semantic",
        "episodic",
        "prospective",
    ];
    for c in &consolidated {
        let item = c["item_id"].as_i64().unwrap();
        let layer = truth[ids.iter().position(|&i| i == item).unwrap()];
        let route = document(
            &call(
                &client,
                "feedback",
                json!({ "route_id": c["route_id"], "layer": layer }),
            )
            .await,
        );
        assert_eq!(route["correct_layer"], layer);
    }
    let trained = document(&call(&client, "train", json!({})).await);
    assert_eq!(trained["report"]["train_n"], 10);
    assert!(
        trained["report"]["evidence"]
            .as_str()
            .unwrap()
            .contains("label"),
        "{trained}"
    );

    // The agent can take the trained model out of service again; the default routes then.
    let off = document(&call(&client, "deactivate_model", json!({})).await);
    assert_eq!(off["routed_by"], "default", "{off}");
    let was_active = trained["report"]["activated"] == true;
    assert_eq!(
        off["deactivated_version"],
        if was_active {
            trained["report"]["version"].clone()
        } else {
            json!(null)
        },
        "{off} after {trained}"
    );

    // Goals and tasks.
    let goal = document(
        &call(
            &client,
            "set_goal",
            json!({ "text": "ship the MCP server", "priority": 2 }),
        )
        .await,
    );
    assert_eq!(
        document(&call(&client, "list_goals", json!({})).await)[0]["id"],
        goal["id"]
    );
    assert_eq!(
        document(&call(&client, "complete_goal", json!({ "id": goal["id"] })).await),
        json!([goal["id"]])
    );
    let tasks = document(&call(&client, "list_tasks", json!({})).await);
    let task = &tasks.as_array().unwrap()[0]; // "Next: add caching to search" and others
    let done = document(&call(&client, "complete_task", json!({ "id": task["id"] })).await);
    assert_eq!(done["status"], "completed");
    let left = document(&call(&client, "list_tasks", json!({})).await);
    assert_eq!(
        left.as_array().unwrap().len(),
        tasks.as_array().unwrap().len() - 1
    );
    let missing = call(&client, "complete_goal", json!({ "id": 987_654 })).await;
    assert!(error_text(&missing).contains("987654"));
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_speaks_streamable_http_on_loopback() {
    use rmcp::transport::StreamableHttpClientTransport;
    use tokio::io::AsyncBufReadExt;

    let db = common::sqlite();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_athena"))
        .args([
            "--database-url",
            &db.url,
            "--project",
            "/agents/http",
            "mcp",
            "--http",
            "127.0.0.1:0",
        ])
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("the server announces its address");
        if let Some(at) = line.find("http://") {
            break line[at..].trim().to_owned();
        }
    };
    let client = ClientConfig::default()
        .serve(StreamableHttpClientTransport::from_uri(url))
        .await
        .unwrap();
    let item = document(
        &call(
            &client,
            "remember",
            json!({ "text": "Next: add caching to search" }),
        )
        .await,
    );
    let done = document(&call(&client, "consolidate", json!({ "ids": [item["id"]] })).await);
    assert_eq!(done["consolidated"][0]["item_id"], item["id"]);
    let bad = call(&client, "working_memory", json!({ "limit": 1000 })).await;
    assert!(error_text(&bad).contains("limit"));
    assert_eq!(
        document(&call(&client, "stats", json!({})).await)["routing"]["total_routes"],
        1
    );
    client.cancel().await.unwrap();

    // A non-loopback address is refused before anything is served.
    let refused = tokio::process::Command::new(env!("CARGO_BIN_EXE_athena"))
        .args(["--database-url", &db.url, "mcp", "--http", "0.0.0.0:0"])
        .output()
        .await
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("loopback"));
}

/// The strings listed in the `enum`s of `field`'s schema in a tool's input `schema`, following
/// `$ref`s into the schema's `$defs`.
fn enum_values(schema: &serde_json::Map<String, Value>, field: &str) -> Vec<String> {
    fn walk(node: &Value, root: &serde_json::Map<String, Value>, out: &mut Vec<String>) {
        match node {
            Value::Object(map) => {
                if let Some(Value::String(reference)) = map.get("$ref") {
                    let name = reference.rsplit('/').next().unwrap_or_default();
                    if let Some(def) = root.get("$defs").and_then(|d| d.get(name)) {
                        walk(def, root, out);
                    }
                }
                if let Some(Value::Array(values)) = map.get("enum") {
                    out.extend(values.iter().filter_map(|v| v.as_str().map(str::to_owned)));
                }
                for (key, value) in map {
                    if key != "enum" && key != "$defs" {
                        walk(value, root, out);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, root, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&schema["properties"][field], schema, &mut out);
    out
}

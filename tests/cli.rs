//! The `athena` command-line tool as a process: every command with `--json` parsed and checked,
//! the readable output, exit codes and messages for bad input, and where the default database
//! lives. On both backends.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use common::TestDb;

on_both_backends_sync!(
    every_command_works_and_answers_in_json,
    bad_input_exits_non_zero_and_names_the_field
);

/// `athena --database-url URL --project PROJECT ARGS...`, routing and adapting with the small
/// routing base (`--base-model`, `--base-corpus`).
fn athena(db: &str, project: &str, args: &[&str]) -> Output {
    let (model, corpus) = common::small_base_files();
    Command::new(env!("CARGO_BIN_EXE_athena"))
        .args(["--database-url", db, "--project", project])
        .arg("--base-model")
        .arg(model)
        .arg("--base-corpus")
        .arg(corpus)
        .args(args)
        .env_remove("ATHENA_DATABASE_URL")
        .output()
        .expect("the athena binary runs")
}

/// The JSON document of a successful command.
fn json(db: &str, project: &str, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = athena(db, project, &all);
    assert!(
        out.status.success(),
        "{args:?}: exit {:?}, stderr {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.trim().lines().count(),
        1,
        "{args:?}: one JSON document per line: {text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
}

fn id(v: &Value) -> String {
    v["id"].as_i64().expect("an id").to_string()
}

fn every_command_works_and_answers_in_json(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (url, p) = (db.url.as_str(), "/cli/project");
    let added = json(
        url,
        p,
        &[
            "add",
            "Remember to rotate the API keys on Friday",
            "--importance",
            "0.8",
            "--kind",
            "note",
        ],
    );
    assert_eq!(
        (
            added["component"].as_str(),
            added["importance"].as_f64(),
            added["kind"].as_str()
        ),
        (Some("phonological"), Some(0.8), Some("note"))
    );
    let file = json(
        url,
        p,
        &["add", "login form", "--file", "/cli/project/src/login.rs"],
    );
    assert_eq!(file["component"], "visuospatial");
    assert!(file.get("kind").is_none(), "no kind unless given: {file}");
    let chunk = json(url, p, &["add", "plan", "--component", "central_executive"]);
    assert_eq!(chunk["component"], "central_executive");

    // A sub-directory resolves to the registered project: same working memory.
    let listed = json(url, "/cli/project/src/deep", &["list"]);
    assert_eq!(listed["total"], 3);
    assert_eq!(listed["capacity"].as_array().unwrap().len(), 4);
    let readable = athena(url, p, &["list"]);
    assert!(String::from_utf8_lossy(&readable.stdout).contains("rotate the API keys"));

    let rehearsed = json(url, p, &["rehearse", &id(&added)]);
    assert!(
        rehearsed["activation"].as_f64().unwrap() > 0.999,
        "{rehearsed}"
    );
    let done = json(url, p, &["consolidate", &id(&added), &id(&file), "999"]);
    assert_eq!(done["consolidated"].as_array().unwrap().len(), 2);
    assert_eq!(done["not_found"], serde_json::json!([999]));
    let first = &done["consolidated"][0];
    assert!(first["why"].as_str().unwrap().contains("rather than"));
    // The first item was added as a note; the second's kind was guessed from its words.
    assert_eq!(
        first["read_as"],
        serde_json::json!({ "kind": "note", "given": true, "code_probability": 0.0 })
    );
    let second = &done["consolidated"][1]["read_as"];
    assert_eq!(second["given"], false, "{done}");
    assert!((0.0..=1.0).contains(&second["code_probability"].as_f64().unwrap()));
    assert_eq!(
        json(url, p, &["consolidate", "--pending"])["consolidated"],
        serde_json::json!([])
    );

    let hits = json(url, p, &["recall", "API keys", "--k", "3"]);
    assert_eq!(
        hits["hits"][0]["content"],
        "Remember to rotate the API keys on Friday"
    );

    // A note with who said it, its session and when: found by the next call in working
    // memory, then in its layer after `consolidate --all`.
    let said = json(
        url,
        p,
        &[
            "add",
            "Ann moved the standup to Tuesdays",
            "--speaker",
            "Ann",
            "--session",
            "retro-3",
            "--at",
            "2023-05-08T13:56",
        ],
    );
    assert_eq!(
        (&said["speaker"], &said["session"], &said["occurred_at"]),
        (
            &serde_json::json!("Ann"),
            &serde_json::json!("retro-3"),
            &serde_json::json!(1_683_554_160_000i64)
        )
    );
    let found = &json(url, p, &["recall", "standup Tuesdays"])["hits"][0];
    assert_eq!(
        (&found["place"], &found["id"]),
        (&serde_json::json!("working_memory"), &said["id"])
    );
    assert_eq!(found["speaker"], "Ann");
    let readable =
        String::from_utf8_lossy(&athena(url, p, &["recall", "standup"]).stdout).to_string();
    assert!(
        readable.contains("working_memory") && readable.contains("Ann:"),
        "{readable}"
    );
    let drained = json(url, p, &["consolidate", "--all"]);
    assert_eq!(json(url, p, &["list"])["total"], 0, "{drained}");
    let moved = drained["consolidated"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["item_id"] == said["id"])
        .unwrap();
    let found = &json(url, p, &["recall", "standup Tuesdays"])["hits"][0];
    assert_eq!(
        (&found["place"], &found["id"]),
        (&moved["layer"], &moved["memory_id"])
    );
    assert_eq!(found["session"], "retro-3");
    let layer = first["layer"].as_str().unwrap().to_owned();
    let memory = first["memory_id"].to_string();
    let shown = json(url, p, &["show", &layer, &memory]);
    assert_eq!(shown["layer"], layer.as_str());
    let route = first["route_id"].to_string();
    let fed = json(url, p, &["feedback", &route, "prospective"]);
    assert_eq!(fed["correct_layer"], "prospective");

    // Train from a labelled file: the rows become this project's labels.
    let labels = dir.path().join("labels.jsonl");
    let rows: String = (0..12)
        .map(|i| {
            let (text, layer) = if i % 2 == 0 {
                (format!("Next: add caching to endpoint {i}"), "prospective")
            } else {
                (format!("Deployed build {i} to staging"), "episodic")
            };
            format!(
                "{}\n",
                serde_json::json!({
                    "content": text, "component": "phonological", "activation": 1.0,
                    "importance": 0.5, "age_s": 0, "layer": layer,
                })
            )
        })
        .collect();
    std::fs::write(&labels, rows).unwrap();
    let trained = json(url, p, &["train", "--from", labels.to_str().unwrap()]);
    assert_eq!(trained["imported"], 12);
    assert_eq!(trained["report"]["train_n"], 13);

    models_round_trip(url, p, dir.path(), trained["report"]["activated"] == true);
    let stats = json(url, p, &["stats"]);
    assert_eq!(stats["routing"]["feedback_count"], 13);
    let per_model = stats["routing"]["per_model"].as_array().unwrap();
    assert_eq!(
        per_model[0]["model"], "default",
        "the first routes were the default's"
    );
    let fed: i64 = per_model
        .iter()
        .map(|m| m["feedback_count"].as_i64().unwrap())
        .sum();
    assert_eq!(fed, 13, "every label counts under the model that routed it");
    assert_eq!(stats["project"]["path"], p);

    let goal = json(url, p, &["goals", "add", "ship the CLI", "--priority", "3"]);
    assert_eq!(
        json(url, p, &["goals", "list"])["goals"][0]["id"],
        goal["id"]
    );
    assert_eq!(
        json(url, p, &["goals", "done", &id(&goal)])["completed"],
        serde_json::json!([goal["id"]])
    );
    assert_eq!(
        json(url, p, &["goals", "list"])["goals"],
        serde_json::json!([])
    );

    // An intention becomes a prospective task, which `tasks` lists and completes.
    let intention = json(url, p, &["add", "Next: add caching to search"]);
    let routed = json(url, p, &["consolidate", &id(&intention)]);
    assert_eq!(
        routed["consolidated"][0]["layer"], "prospective",
        "{routed}"
    );
    let open = json(url, p, &["tasks", "list"])["tasks"].clone();
    let task = open
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["content"] == "Next: add caching to search")
        .expect("the task is listed")
        .clone();
    assert_eq!(
        json(url, p, &["tasks", "done", &id(&task)])["status"],
        "completed"
    );
    let left = json(url, p, &["tasks", "list"])["tasks"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(left, open.as_array().unwrap().len() - 1);
    assert_eq!(
        json(url, p, &["forget", &layer, &memory])["forgotten"]["id"],
        first["memory_id"]
    );
    let gone = athena(url, p, &["show", &layer, &memory]);
    assert_eq!(gone.status.code(), Some(3));

    let doctor = json(url, p, &["doctor"]);
    assert_eq!(
        (
            doctor["healthy"].as_bool(),
            doctor["schema_version"].as_i64()
        ),
        (Some(true), Some(4))
    );
    assert_eq!(doctor["backend"], db.backend);
}

/// `models list | activate | rollback | export | import | deactivate`.
fn models_round_trip(url: &str, p: &str, dir: &Path, trained_activated: bool) {
    let before = json(url, p, &["models", "list"])["models"]
        .as_array()
        .unwrap()
        .len();
    assert!(before >= 1, "training stored a version");
    let file = dir.join("model.json");
    if !trained_activated {
        // Export needs an active model: activate the trained one first.
        json(url, p, &["models", "activate", "1"]);
    }
    assert_eq!(
        json(url, p, &["models", "export", file.to_str().unwrap()])["exported"],
        file.to_str().unwrap()
    );
    let imported = json(url, p, &["models", "import", file.to_str().unwrap()]);
    let version = imported["active_version"].as_i64().unwrap();
    assert_eq!(version as usize, before + 1);
    let models = json(url, p, &["models", "list"])["models"].clone();
    assert_eq!(models[0]["version"], version);
    assert_eq!(models[0]["active"], true);
    // Stored as what it changed on the routing base, or whole: never more than the whole file.
    let stored = models[0]["stored_bytes"].as_u64().unwrap();
    let whole = std::fs::metadata(&file).unwrap().len();
    match models[0]["stored"].as_str() {
        Some("delta") => {
            assert!(stored * 5 < whole, "{stored} of {whole} bytes");
            let base = models[0]["base"].as_str().unwrap_or_default();
            assert!(
                base.starts_with("shipped-") || base.starts_with("base-"),
                "{base}"
            );
        }
        Some("whole") => {
            assert_eq!(stored, whole);
            assert!(
                models[0].get("base").is_none(),
                "a whole model names no base"
            );
        }
        other => panic!("stored as {other:?}"),
    }
    let rolled = json(url, p, &["models", "rollback"]);
    assert_eq!(rolled["active_version"].as_i64(), Some(version - 1));
    assert_eq!(
        json(url, p, &["models", "activate", &version.to_string()])["active_version"],
        version
    );
    let off = json(url, p, &["models", "deactivate"]);
    assert_eq!(
        (
            off["deactivated_version"].as_i64(),
            off["routed_by"].as_str()
        ),
        (Some(version), Some("default"))
    );
    let models = json(url, p, &["models", "list"])["models"].clone();
    assert_eq!(models.as_array().unwrap().len() as i64, version);
    assert!(models
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["active"] == false));
    assert_eq!(
        json(url, p, &["models", "deactivate"])["deactivated_version"],
        serde_json::Value::Null
    );
}

fn bad_input_exits_non_zero_and_names_the_field(db: TestDb) {
    let (url, p) = (db.url.as_str(), "/cli/bad");
    let cases: [(&[&str], i32, &str); 11] = [
        (&["add", "note", "--importance", "5"], 2, "importance"),
        (&["add", "note", "--at", "next week"], 2, "--at"),
        (&["add", "note", "--speaker", ""], 2, "speaker"),
        (&["add", ""], 2, "content"),
        (&["add", "x", "--component", "hippocampus"], 2, "component"),
        (&["add", "x", "--kind", "poem"], 2, "kind"),
        (&["recall", "keys", "--k", "0"], 2, "k"),
        (&["feedback", "12345", "semantic"], 3, "route"),
        (&["show", "someday", "1"], 2, "layer"),
        (&["rehearse", "424242"], 3, "424242"),
        (&["models", "rollback"], 2, "version"),
    ];
    for (args, code, field) in cases {
        let out = athena(url, p, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(field), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
    }
    // Nothing was written by the failed adds.
    assert_eq!(json(url, p, &["list"])["total"], 0);
    let missing = dir_file("no/such/file.jsonl");
    let out = athena(url, p, &["train", "--from", &missing]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("file.jsonl"));
    // A routing base needs its model and its corpus, both readable.
    let base = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_athena"))
            .args(["--database-url", url, "--project", p])
            .args(args)
            .env_remove("ATHENA_BASE_MODEL")
            .env_remove("ATHENA_BASE_CORPUS")
            .output()
            .unwrap()
    };
    let (model, _) = common::small_base_files();
    let model = model.to_str().unwrap();
    let out = base(&["--base-model", model, "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--base-corpus"));
    let out = base(&["--base-model", model, "--base-corpus", &missing, "list"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("file.jsonl"));
}

fn dir_file(name: &str) -> String {
    std::env::temp_dir().join(name).display().to_string()
}

#[test]
fn the_default_database_lives_in_the_users_data_directory() {
    let home = tempfile::tempdir().unwrap();
    let run = |xdg: Option<&Path>, args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_athena"));
        cmd.args(args)
            .current_dir(home.path())
            .env("HOME", home.path())
            .env_remove("ATHENA_DATABASE_URL")
            .env_remove("XDG_DATA_HOME");
        if let Some(dir) = xdg {
            cmd.env("XDG_DATA_HOME", dir);
        }
        cmd.output().unwrap()
    };
    let out = run(None, &["--json", "add", "Run `make seed` after a reset"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = home.path().join(".local/share/athena-memory/athena.db");
    assert!(db.is_file(), "created on first use at {}", db.display());
    // The current directory is the project: a second run there sees the note.
    let listed: Value = serde_json::from_slice(&run(None, &["--json", "list"]).stdout).unwrap();
    assert_eq!(listed["total"], 1);

    let xdg = home.path().join("xdg");
    assert!(run(Some(&xdg), &["list"]).status.success());
    assert!(
        xdg.join("athena-memory/athena.db").is_file(),
        "XDG_DATA_HOME wins over HOME"
    );

    // An unreachable database is a failure with the reason, not a hang or a panic.
    let out = run(
        None,
        &[
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
            "doctor",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error:"));
}

#[test]
fn long_work_stays_quiet_when_piped() {
    let db = common::sqlite();
    for i in 0..12 {
        athena(&db.url, "/cli/quiet", &["add", &format!("note {i}")]);
    }
    let out = athena(&db.url, "/cli/quiet", &["consolidate", "--pending"]);
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "no progress on a pipe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().count(),
        5,
        "12 notes in a loop of 7: 5 displaced"
    );
    // Each readable line names the item, its layer and why, and how its text was read: these
    // notes were added without a kind, so the kind was guessed.
    for line in stdout.lines() {
        assert!(
            line.starts_with("item ")
                && line.contains(" → ")
                && line.contains("rather than")
                && line.ends_with("% code comment)")
                && line.contains("; read as a"),
            "{line}"
        );
    }
}

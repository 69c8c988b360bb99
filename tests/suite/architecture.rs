//! The one-way house: every module of `src/` imports only modules of its own rank or below.
//! Ranks, lowest first (see ARCHITECTURE.md's code map):
//!
//! 0. foundation: `error`, `ids`, `time`, `enum_str`, `rng`, `layer`, `component`
//! 1. pure features: `features`
//! 2. routing and ranking: `router`, `recall` (pure), `corpus`, `routing_base`, `model_file`
//!    (their files)
//! 3. settings: `config`
//! 4. repositories: `db`
//! 5. policy: `working_memory`, `consolidate`
//! 6. front doors: `engine`, then `blocking`
//!
//! The test reads the source, so it fails the moment someone adds an import that points up.

use std::path::{Path, PathBuf};

const RANKS: &[(&str, u8)] = &[
    ("error", 0),
    ("time", 0),
    ("enum_str", 0),
    ("layer", 0),
    ("component", 0),
    ("rng", 0),
    ("ids", 0),
    ("features", 1),
    ("router", 2),
    ("recall", 2),
    ("corpus", 2),
    ("routing_base", 2),
    ("model_file", 2),
    ("config", 3),
    ("db", 4),
    ("working_memory", 5),
    ("consolidate", 5),
    ("engine", 6),
    ("blocking", 7),
];

fn rank(module: &str) -> Option<u8> {
    RANKS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Which module each root re-export (`pub use module::...::{A, B}` in `lib.rs`) comes from.
fn root_exports(lib: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for statement in lib.split("pub use ").skip(1) {
        let statement = statement.split(';').next().unwrap_or("");
        let module = statement.split("::").next().unwrap_or("").trim().to_owned();
        let names = statement.rsplit("::").next().unwrap_or("");
        for name in names.split([',', '{', '}']) {
            let name = name.split(" as ").last().unwrap_or("").trim();
            if !name.is_empty() {
                out.push((name.to_owned(), module.clone()));
            }
        }
    }
    out
}

/// Top-level modules named after `crate::` in non-test code of `text`; root re-exports
/// (`crate::Engine`, `crate::{Layer, Item}`) resolve to the module they come from.
fn imports(text: &str, exports: &[(String, String)]) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or(text);
    let resolve = |name: &str| {
        exports
            .iter()
            .find(|(n, _)| n == name)
            .map_or_else(|| name.to_owned(), |(_, m)| m.clone())
    };
    let code: String = code
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let list = &group[..group.find('}').unwrap_or(group.len())];
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let head = name.split("::").next().unwrap_or(name);
                found.push(resolve(head));
            }
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        found.push(resolve(&name));
    }
    found
}

#[test]
fn no_module_imports_one_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let exports = root_exports(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    let mut violations = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let own = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if own == "bin" {
            // The `athena` binary is a crate of its own on top: it sees only the public API.
            continue;
        }
        let Some(own_rank) = rank(&own) else {
            assert!(
                own == "lib",
                "{own} has no rank: add it to RANKS and ARCHITECTURE.md"
            );
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for module in imports(&text, &exports) {
            match rank(&module) {
                Some(r) if r > own_rank => {
                    violations.push(format!("{} imports crate::{module}", relative.display()))
                }
                Some(_) => {}
                None => violations.push(format!(
                    "{} names crate::{module}, which has no rank",
                    relative.display()
                )),
            }
        }
    }
    assert!(
        violations.is_empty(),
        "imports that point up:\n{}",
        violations.join("\n")
    );
}

/// Lines of each `fn` in `text` (signature to closing brace), by a brace count that skips
/// string literals and line comments.
fn function_lengths(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_start();
        let is_fn = !line.starts_with("//")
            && [
                "fn ",
                "pub fn ",
                "pub(crate) fn ",
                "async fn ",
                "pub async fn ",
                "pub(crate) async fn ",
                "const fn ",
                "pub const fn ",
            ]
            .iter()
            .any(|p| line.starts_with(p));
        if !is_fn {
            i += 1;
            continue;
        }
        let name: String = line
            .split("fn ")
            .nth(1)
            .unwrap_or("")
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let (mut depth, mut opened, mut j) = (0i32, false, i);
        while j < lines.len() {
            let code = lines[j].split("//").next().unwrap_or("");
            let mut in_string = false;
            let mut prev = ' ';
            for c in code.chars() {
                match c {
                    '"' if prev != '\\' => in_string = !in_string,
                    '{' if !in_string => {
                        depth += 1;
                        opened = true;
                    }
                    '}' if !in_string => depth -= 1,
                    _ => {}
                }
                prev = c;
            }
            if (opened && depth == 0) || (!opened && code.trim_end().ends_with(';')) {
                break;
            }
            j += 1;
        }
        if opened {
            out.push((name, i + 1, j - i + 1));
        }
        i = j + 1;
    }
    out
}

#[test]
fn no_function_in_src_is_longer_than_60_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut long = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (name, line, length) in function_lengths(&text) {
            if length > 60 {
                long.push(format!("{}:{line} {name} ({length} lines)", file.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "split these into named steps:\n{}",
        long.join("\n")
    );
    // The counter itself finds a long function when there is one.
    let body = "fn long() {\n".to_owned() + &"    let _ = 1;\n".repeat(70) + "}\n";
    assert_eq!(function_lengths(&body), vec![("long".to_owned(), 1, 72)]);
}

/// The code of `text` with comment lines and doc lines left out.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(n, l)| (n + 1, l))
}

/// Lines of the files under `src/{dir}` (every file when `dir` is empty) that contain one of
/// `needles`, outside comments, `#[cfg(test)]` modules (which start a file's tail) and files of
/// tests (`tests.rs`).
fn lines_containing(dir: &str, needles: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir);
    let mut files = Vec::new();
    if root.is_file() {
        files.push(root);
    } else {
        rust_files(&root, &mut files);
    }
    let mut found = Vec::new();
    for file in files.iter().filter(|f| !f.ends_with("tests.rs")) {
        let text = std::fs::read_to_string(file).unwrap();
        let text = text.split("#[cfg(test)]").next().unwrap_or("");
        for (n, line) in code_lines(text) {
            if needles.iter().any(|needle| line.contains(needle)) {
                found.push(format!("{}:{n}: {}", file.display(), line.trim()));
            }
        }
    }
    found
}

#[test]
fn only_db_holds_sql() {
    let sql = [
        "SELECT ",
        "INSERT INTO",
        "UPDATE ",
        "DELETE FROM",
        "CREATE TABLE",
    ];
    let outside: Vec<String> = lines_containing("", &sql)
        .into_iter()
        .filter(|l| !l.contains("/src/db/"))
        .collect();
    assert!(
        outside.is_empty(),
        "SQL outside src/db/:\n{}",
        outside.join("\n")
    );
    assert!(
        !lines_containing("db", &sql).is_empty(),
        "the scan finds the SQL that is there"
    );
}

#[test]
fn router_and_features_do_no_io() {
    let io = [
        "std::fs",
        "File::",
        "sqlx",
        "tokio",
        "std::net",
        "std::io::Read",
    ];
    for dir in ["router", "features"] {
        let found = lines_containing(dir, &io);
        assert!(found.is_empty(), "I/O in src/{dir}/:\n{}", found.join("\n"));
    }
    assert!(
        !lines_containing("model_file.rs", &["std::fs"]).is_empty(),
        "the scan finds the file I/O that is there"
    );
}

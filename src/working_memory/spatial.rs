//! The visuospatial sketchpad's view of file paths: type by extension, directory and file name,
//! and whole-component directory matching.

/// What the sketchpad knows of a file path.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileInfo {
    /// The file type derived from the extension (`rust`, `python`, ...; `unknown` otherwise).
    pub file_type: &'static str,
    /// Everything before the last `/` (`/` for a file at the root, empty for a bare name).
    pub directory: String,
    /// The last component.
    pub file_name: String,
}

/// File type by extension (case-insensitive).
pub fn file_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_ascii_lowercase(),
        _ => return "unknown",
    };
    match ext.as_str() {
        "py" => "python",
        "js" | "mjs" | "cjs" | "jsx" => "javascript",
        "ts" | "tsx" => "typescript",
        "rs" => "rust",
        "go" => "go",
        "java" => "java",
        "cpp" | "cc" | "cxx" => "cpp",
        "c" => "c",
        "h" | "hpp" | "hh" => "header",
        "md" | "markdown" => "markdown",
        "json" => "json",
        "yaml" | "yml" => "yaml",
        "toml" => "toml",
        "sql" => "sql",
        "sh" | "bash" | "zsh" => "shell",
        "html" | "htm" => "html",
        "css" => "css",
        _ => "unknown",
    }
}

/// Splits a path into [`FileInfo`].
pub fn file_info(path: &str) -> FileInfo {
    let (directory, file_name) = match path.rfind('/') {
        Some(0) => ("/".to_owned(), path[1..].to_owned()),
        Some(i) => (path[..i].to_owned(), path[i + 1..].to_owned()),
        None => (String::new(), path.to_owned()),
    };
    FileInfo {
        file_type: file_type(path),
        directory,
        file_name,
    }
}

/// Whether `path` lies in `directory` or below it, matching whole components: `/src/auth`
/// contains `/src/auth/x.rs` and `/src/auth/a/b.rs` but not `/src/authz/x.rs`.
pub fn is_within(path: &str, directory: &str) -> bool {
    let dir = directory.trim_end_matches('/');
    path.strip_prefix(dir)
        .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_type_directory_and_name() {
        assert_eq!(
            file_info("/src/auth/jwt.py"),
            FileInfo {
                file_type: "python",
                directory: "/src/auth".into(),
                file_name: "jwt.py".into()
            }
        );
        assert_eq!(file_info("/main.RS").file_type, "rust");
        assert_eq!(file_info("/main.rs").directory, "/");
        assert_eq!(file_type("include/x.hpp"), "header");
        assert_eq!(file_type("deploy.sh"), "shell");
        assert_eq!(file_type("Makefile"), "unknown");
        assert_eq!(file_type(".bashrc"), "unknown");
    }

    #[test]
    fn directories_match_whole_components() {
        assert!(is_within("/src/auth/x.rs", "/src/auth"));
        assert!(is_within("/src/auth/a/b.rs", "/src/auth/"));
        assert!(!is_within("/src/authz/x.rs", "/src/auth"));
        assert!(!is_within("/src/auth", "/src/auth"));
    }
}

//! Verbs in their base form, for the *imperative* shape token: a note whose head (its first
//! word, or the first word after a short label) is one of these reads as an instruction or a
//! task ("Run `make seed` after a reset", "Goal: Create the MCP server"), whatever the verb.
//! Weights learned for the class carry over to verbs a project's notes use that the training
//! notes rarely did.
//!
//! The list is general English usage in software writing, written by hand, not read off any
//! corpus; words that are mostly nouns in notes ("test", "setup", "design") are left out, since
//! their own word weights already say what they mean.

use std::sync::LazyLock;

use super::tokens::word_hash;

/// Lowercase base forms, alphabetical.
#[rustfmt::skip]
const BASE_VERBS: &[&str] = &[
    "access", "activate", "adapt", "add", "adjust", "adopt", "aggregate", "align", "allow",
    "analyse", "analyze", "append", "apply", "archive", "ask", "assert", "assign", "attach",
    "audit", "authenticate", "automate", "avoid", "benchmark", "bind", "bootstrap", "bump",
    "cache", "call", "capture", "change", "check", "choose", "clarify", "clean", "clear", "click",
    "clone", "close", "collect", "combine", "commit", "compare", "compile", "complete", "compress",
    "compute", "configure", "confirm", "connect", "consider", "consolidate", "continue", "convert",
    "copy", "correct", "create", "debug", "decide", "decouple", "define", "delete", "deploy",
    "deprecate", "describe", "detect", "determine", "disable", "discuss", "display", "document",
    "download", "draft", "drop", "edit", "eliminate", "embed", "emit", "enable", "encrypt",
    "enforce", "enhance", "ensure", "evaluate", "execute", "expand", "explore", "export", "expose",
    "extend", "extract", "finalise", "finalize", "find", "finish", "fix", "follow", "force",
    "format", "generate", "get", "give", "go", "handle", "harden", "hide", "identify", "implement",
    "import", "improve", "include", "increase", "initialise", "initialize", "inspect", "install",
    "integrate", "introduce", "investigate", "invoke", "keep", "launch", "let", "limit", "link",
    "list", "load", "lock", "log", "look", "make", "manage", "mark", "measure", "merge", "migrate",
    "minimise", "minimize", "modify", "monitor", "move", "navigate", "normalise", "normalize",
    "notify", "obtain", "open", "optimise", "optimize", "organise", "organize", "override",
    "parse", "pass", "perform", "persist", "pick", "pin", "place", "plan", "polish", "populate",
    "prefer", "prepare", "prevent", "print", "prioritise", "prioritize", "profile", "promote",
    "prototype", "provide", "prune", "publish", "pull", "push", "put", "query", "read", "rebuild",
    "reduce", "refactor", "refine", "refresh", "register", "reinstall", "release", "reload",
    "remove", "rename", "render", "reorganise", "reorganize", "repeat", "replace", "report",
    "request", "require", "research", "reset", "resolve", "restart", "restore", "restructure",
    "retry", "return", "reuse", "revert", "review", "revisit", "rewrite", "rotate", "run", "save",
    "scaffold", "scan", "schedule", "search", "secure", "select", "send", "separate", "serve",
    "set", "ship", "show", "simplify", "skip", "sort", "specify", "split", "start", "stop",
    "store", "streamline", "strip", "submit", "support", "switch", "sync", "synchronise",
    "synchronize", "tag", "take", "tidy", "track", "train", "transform", "translate", "trigger",
    "try", "tune", "turn", "type", "unify", "uninstall", "unlock", "update", "upgrade", "upload",
    "use", "validate", "verify", "visit", "wait", "watch", "wire", "wrap", "write",
];

/// Hashes of [`BASE_VERBS`], sorted for binary search.
static BASE_VERB_HASHES: LazyLock<Vec<u64>> = LazyLock::new(|| {
    let mut hashes: Vec<u64> = BASE_VERBS.iter().map(|w| word_hash(w)).collect();
    hashes.sort_unstable();
    hashes
});

/// Whether the word hashing to `h` ([`word_hash`]) is a verb of [`BASE_VERBS`].
pub(super) fn is_base_verb(h: u64) -> bool {
    BASE_VERB_HASHES.binary_search(&h).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_sorted_lowercase_and_unique() {
        for pair in BASE_VERBS.windows(2) {
            assert!(pair[0] < pair[1], "{} before {}", pair[0], pair[1]);
        }
        assert!(BASE_VERBS
            .iter()
            .all(|w| w.chars().all(|c| c.is_ascii_lowercase())));
    }

    #[test]
    fn finds_verbs_whatever_their_case() {
        assert!(is_base_verb(word_hash("Implement")));
        assert!(is_base_verb(word_hash("run")));
        assert!(!is_base_verb(word_hash("implemented")));
        assert!(!is_base_verb(word_hash("architecture")));
    }
}

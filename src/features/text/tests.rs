//! Tests of the text model, its tokens and its table.

use super::*;

#[test]
fn token_tables_read_back_in_their_layout_and_misplaced_tokens_are_errors() {
    let entries = (1..300u64)
        .map(|k| {
            (
                k.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                [k as f32, 0.0, 0.0, -1.0],
            )
        })
        .chain([(0, [9.0; 4])]);
    let table = TokenTable::new(entries);
    let mut bytes = Vec::new();
    table.write_compact(&mut bytes);
    let back = TokenTable::read_compact(&mut bytes.as_slice()).unwrap();
    assert_eq!(back, table);
    for cut in [0, 9, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            TokenTable::read_compact(&mut &bytes[..cut]).is_err(),
            "{cut}"
        );
    }
    // A token moved to the empty slot before its home is not where probing finds it.
    let home = (1..table.keys.len())
        .find(|&i| table.keys[i] != 0 && table.keys[i - 1] == 0)
        .unwrap();
    let mut moved = table.clone();
    moved.keys.swap(home - 1, home);
    moved.weights.swap(home - 1, home);
    let mut bytes = Vec::new();
    moved.write_compact(&mut bytes);
    let err = TokenTable::read_compact(&mut bytes.as_slice()).unwrap_err();
    assert!(err.to_string().contains("not where it hashes"), "{err}");
}

/// Two notes per layer, told apart by their words.
const LABELLED: [(&str, Layer); 8] = [
    ("Returns the length", Layer::Semantic),
    ("Returns the name", Layer::Semantic),
    ("Added support for tokio", Layer::Episodic),
    ("Added a builder", Layer::Episodic),
    ("To build, run make", Layer::Procedural),
    ("To test, run cargo test", Layer::Procedural),
    ("maybe we should cache this", Layer::Prospective),
    ("we should remove this", Layer::Prospective),
];

fn tokens(text: &str) -> Vec<u64> {
    let mut v = Vec::new();
    for_each_token(text, |t| v.push(t));
    v
}

#[test]
fn tokens_are_case_insensitive_words_pairs_positions_and_shape() {
    let a = tokens("Returns the value.");
    assert_eq!(
        a.len(),
        3 + 2 + 2 + 2 + 1 + 2 + 1,
        "3 words, 2 pairs, 2 position, 2 head, suffix -s, capital + period, length"
    );
    assert_eq!(
        tokens("returns THE value."),
        tokens("returns the value."),
        "words are lowercased"
    );
    assert_eq!(
        tokens("Implementing it").len(),
        tokens("Implements it").len(),
        "both endings are tokens"
    );
    assert_ne!(tokens("Implementing it"), tokens("Implements it"));
    assert_eq!(
        tokens("Ga").len() + 1,
        tokens("Gas").len(),
        "-s ending of a short word"
    );
    assert_ne!(
        tokens("Returns the value."),
        tokens("returns the value."),
        "capitalisation is a shape token"
    );
    assert_eq!(
        tokens("").len(),
        2,
        "an empty text has a lowercase-start and a length token"
    );
    let _ = tokens("émoji 👋🏽 and e\u{301}\u{301}");
}

#[test]
fn a_head_that_is_a_verb_in_its_base_form_has_a_shape_token() {
    let imperative = token(SALT_SHAPE, SHAPE_IMPERATIVE);
    for text in [
        "Deploy the API service",
        "run make seed after a reset",
        "Goal: Create the MCP server",
        "Search page - Add caching",
    ] {
        assert!(tokens(text).contains(&imperative), "{text}");
        let spans = spanned_tokens(text);
        assert!(
            spans.contains(&(imperative, TokenSpan::Shape(SHAPE_IMPERATIVE))),
            "{text}: explanations name it"
        );
    }
    for text in [
        "Deployed the API service",
        "Deployment: on Fly.io",
        "The build runs on CI",
        "Goal: shipping by Friday",
        "",
    ] {
        assert!(!tokens(text).contains(&imperative), "{text}");
    }
}

/// Notes where "add … to the client" is a next step and code comments (marked by a path)
/// where it is a change; `code` of the latter.
fn two_kinds(code: usize) -> Vec<(String, Layer, f64, TextKind)> {
    let mut rows = Vec::new();
    for i in 0..24 {
        rows.push((
            format!("add item{i} to the client"),
            Layer::Prospective,
            1.0,
            TextKind::Note,
        ));
        rows.push((
            format!("the client keeps item{i}"),
            Layer::Semantic,
            1.0,
            TextKind::Note,
        ));
    }
    for i in 0..code {
        let (text, layer) = if i % 2 == 0 {
            (
                format!("add item{i} to the client in `net::Pool`"),
                Layer::Episodic,
            )
        } else {
            (format!("`net::Pool` keeps item{i}"), Layer::Semantic)
        };
        rows.push((text, layer, 1.0, TextKind::CodeComment));
    }
    rows
}

fn fit_kinded(rows: &[(String, Layer, f64, TextKind)]) -> TextModel {
    let rows = rows.iter().map(|(t, l, w, k)| (t.as_str(), *l, *w, *k));
    TextModel::fit_logistic_kinded(rows, 10.0, 20, 1).unwrap()
}

#[test]
fn a_kind_aware_model_tells_the_kinds_apart_and_reads_each_its_own_way() {
    let m = fit_kinded(&two_kinds(48));
    assert!(m.is_kind_aware());
    let p = |t: &str| m.code_comment_probability(t).unwrap();
    assert!(
        p("add retries to the client in `net::Pool`") > 0.8,
        "{}",
        p("x")
    );
    assert!(p("add retries to the client") < 0.2);
    let best_as = |t: &str, kind| m.scores(t, kind).iter().position(|v| *v == 0.0).unwrap();
    let (note, code) = (
        "add retries to the client",
        "add retries to the client in `net::Pool`",
    );
    assert_eq!(best_as(note, None), Layer::Prospective.index());
    assert_eq!(best_as(code, None), Layer::Episodic.index());
    // A kind the caller knows overrides the classifier's guess.
    let (as_note, as_code) = (Some(TextKind::Note), Some(TextKind::CodeComment));
    assert_eq!(best_as(note, as_code), Layer::Episodic.index());
    assert_eq!(best_as(code, as_note), Layer::Prospective.index());
    for (text, kind, p) in [(note, as_note, 0.0), (code, as_code, 1.0)] {
        let (got, want) = (m.scores(text, kind), scores_by_hand(&m, text, p));
        assert!(
            got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-9),
            "{got:?} {want:?}"
        );
    }
    // "add" opening a note points to a next step, opening a code comment to a change.
    let add = token(SALT_FIRST, word_hash("add"));
    let copy = |k: usize| *m.table.get(token(COPY_SALT[k], add)).unwrap();
    let (e, p) = (Layer::Episodic.index(), Layer::Prospective.index());
    assert!(copy(0)[p] > copy(0)[e] && copy(1)[e] > copy(1)[p]);
    assert_eq!(
        fit_kinded(&two_kinds(48)),
        m,
        "same data and seed, same model"
    );
    let back: TextModel = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
    assert_eq!(back, m);
    assert!(back.is_kind_aware());
    // The weights an explanation reads add up to the scores, the kind known or not.
    for text in [code, "the client keeps it"] {
        for kind in [None, as_note, as_code] {
            let Contributions { weights, scale, .. } = m.token_contributions(&tokens(text), kind);
            let lp: [f64; 4] = std::array::from_fn(|c| {
                let sum: f64 = weights.iter().flatten().map(|w| w[c]).sum();
                m.scoring.constants()[c] + scale * sum
            });
            let best = lp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            for (a, b) in lp.iter().zip(m.scores(text, kind)) {
                assert!((a - best - b).abs() < 1e-9, "{text} {kind:?}: {lp:?}");
            }
        }
    }
}

#[test]
fn a_shifted_kind_prior_is_read_back_from_both_stored_forms() {
    let m = fit_kinded(&two_kinds(48));
    let note = "add retries to the client";
    let shifted = m.clone().with_kind_log_odds_shift(2.0);
    let probability = |m: &TextModel| m.code_comment_probability(note).unwrap();
    assert!(probability(&shifted) > probability(&m));
    let back: TextModel = serde_json::from_str(&serde_json::to_string(&shifted).unwrap()).unwrap();
    assert_eq!(back, shifted);
    let mut compact = Vec::new();
    shifted.write_compact(&mut compact);
    let read = TextModel::read_compact(&mut compact.as_slice()).unwrap();
    assert_eq!(read, shifted);
    assert_eq!(probability(&read), probability(&shifted));
}

#[test]
fn a_refit_of_the_label_tokens_moves_only_them_towards_the_labels() {
    let rows = two_kinds(48);
    let base = fit_kinded(&rows);
    let corpus = rows.iter().map(|(t, l, w, k)| (t.as_str(), *l, *w, *k));
    // This project writes "add … to the client" for what it has done.
    let labels: Vec<(String, Layer, f64, TextKind)> = (0..6)
        .map(|i| {
            (
                format!("add widget{i} to the client"),
                Layer::Episodic,
                5.0,
                TextKind::Note,
            )
        })
        .collect();
    let label_rows = || labels.iter().map(|(t, l, w, k)| (t.as_str(), *l, *w, *k));
    let refit = base
        .refit_label_tokens(corpus.clone(), label_rows(), 10, 3)
        .unwrap();
    let episodic = |m: &TextModel| m.scores("add widget9 to the client", Some(TextKind::Note));
    let e = Layer::Episodic.index();
    assert!(
        episodic(&refit)[e] > episodic(&base)[e],
        "{:?}",
        episodic(&refit)
    );
    // Only the labels' tokens and their note copies moved; the rest is the base's.
    let mut label_tokens = std::collections::HashSet::new();
    for (text, ..) in &labels {
        for_each_token(text, |t| {
            label_tokens.insert(t);
            label_tokens.insert(token(COPY_SALT[TextKind::Note as usize], t));
        });
    }
    let changed = refit.differing_tokens(&base);
    assert!(!changed.is_empty());
    assert!(changed.iter().all(|(t, _)| label_tokens.contains(t)));
    assert_eq!(refit.scoring, base.scoring);
    assert_eq!(
        base.refit_label_tokens(corpus, label_rows(), 10, 3)
            .unwrap(),
        refit,
        "same data and seed, same model"
    );
    let naive = TextModel::fit(rows.iter().map(|(t, l, ..)| (t.as_str(), *l)), 1.0, 1).unwrap();
    let err = naive
        .refit_label_tokens([], label_rows(), 10, 3)
        .unwrap_err();
    assert!(err.to_string().contains("model"), "{err}");
}

/// A kind-aware model's scores of `text` computed by hand with the code-comment share `p`:
/// shared weights plus each kind's copies by their share, over √(tokens counted).
fn scores_by_hand(m: &TextModel, text: &str, p: f64) -> [f64; 4] {
    let (mut sum, mut known) = ([0.0f64; 4], 0.0);
    for t in tokens(text) {
        for (key, share) in [
            (t, 1.0),
            (token(COPY_SALT[0], t), 1.0 - p),
            (token(COPY_SALT[1], t), p),
        ] {
            if let Some(w) = m.table.get(key) {
                known += share;
                (0..4).for_each(|c| sum[c] += share * f64::from(w[c]));
            }
        }
    }
    let lp: [f64; 4] =
        std::array::from_fn(|c| m.scoring.constants()[c] + sum[c] / known.max(1.0).sqrt());
    let best = lp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    lp.map(|v| v - best)
}

#[test]
fn too_few_of_a_kind_fit_the_plain_model() {
    let rows = two_kinds(MIN_PER_KIND - 1);
    let kinded = fit_kinded(&rows);
    assert!(!kinded.is_kind_aware());
    let text = "add retries to the client";
    assert_eq!(
        kinded.scores(text, Some(TextKind::CodeComment)),
        kinded.scores(text, None),
        "a model without kinds ignores the kind it is told"
    );
    assert_eq!(kinded.code_comment_probability("add it"), None);
    let plain = rows.iter().map(|(t, l, w, _)| (t.as_str(), *l, *w));
    assert_eq!(kinded, TextModel::fit_logistic(plain, 10.0, 20, 1).unwrap());
    assert!(fit_kinded(&two_kinds(MIN_PER_KIND)).is_kind_aware());
}

#[test]
fn logistic_regression_learns_words_deterministically_and_honours_weights() {
    let data = LABELLED;
    let fit = |w: f64, seed| {
        TextModel::fit_logistic(data.iter().map(|(t, l)| (*t, *l, w)), 10.0, 20, seed).unwrap()
    };
    let m = fit(1.0, 1);
    assert_eq!(m.learner(), TextLearner::Logistic);
    let best = |m: &TextModel, t: &str| m.scores(t, None).iter().position(|v| *v == 0.0).unwrap();
    assert_eq!(best(&m, "Returns the size"), Layer::Semantic.index());
    assert_eq!(best(&m, "Added serde support"), Layer::Episodic.index());
    assert_eq!(
        best(&m, "To deploy, run the script"),
        Layer::Procedural.index()
    );
    assert_eq!(
        best(&m, "we should rename this"),
        Layer::Prospective.index()
    );
    assert_eq!(fit(1.0, 1), m, "same data and seed, same model");
    let json = serde_json::to_string(&m).unwrap();
    assert!(json.contains("logistic_regression"));
    let back: TextModel = serde_json::from_str(&json).unwrap();
    assert_eq!(back, m);

    // One example weighted up outvotes two: "run" means prospective here.
    let mut weighted: Vec<(&str, Layer, f64)> = data.iter().map(|(t, l)| (*t, *l, 1.0)).collect();
    weighted.push(("run the benchmarks again", Layer::Prospective, 30.0));
    let w = TextModel::fit_logistic(weighted, 10.0, 20, 1).unwrap();
    assert_eq!(best(&w, "run make"), Layer::Prospective.index());
    assert_eq!(best(&m, "run make"), Layer::Procedural.index());

    for (c, epochs, weight, field) in [
        (0.0, 5, 1.0, "text_c"),
        (f64::NAN, 5, 1.0, "text_c"),
        (1.0, 0, 1.0, "text_epochs"),
        (1.0, 5, -1.0, "weight"),
        (1.0, 5, f64::INFINITY, "weight"),
    ] {
        let err = TextModel::fit_logistic(data.iter().map(|(t, l)| (*t, *l, weight)), c, epochs, 1)
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { field: f, .. } if f == field),
            "{err}"
        );
    }
}

#[test]
fn a_correction_learns_what_the_offsets_get_wrong() {
    // The other model calls everything semantic; this project's "zork" notes are procedures.
    let offset = [0.0, -3.0, -3.0, -3.0];
    let labels: Vec<(String, Layer)> = (0..20)
        .map(|i| match i % 2 {
            0 => (
                format!("The zork {i} holds the deploy steps"),
                Layer::Procedural,
            ),
            _ => (format!("The table {i} holds the rows"), Layer::Semantic),
        })
        .collect();
    let rows = || labels.iter().map(|(t, l)| (t.as_str(), *l, offset));
    let c = TextModel::fit_correction(rows(), 10.0, 3, 1).unwrap();
    let best = |text: &str| {
        let s = c.scores(text, None);
        let z: [f64; 4] = std::array::from_fn(|k| offset[k] + s[k]);
        let p = softmax(z);
        (0..4).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap()
    };
    assert_eq!(
        best("The zork 99 holds the deploy steps"),
        Layer::Procedural.index()
    );
    assert_eq!(best("The table 99 holds the rows"), Layer::Semantic.index());
    assert_eq!(TextModel::fit_correction(rows(), 10.0, 3, 1).unwrap(), c);
    // Scored beside another model in one pass, each gets its own scores.
    let other = TextModel::fit(LABELLED.iter().map(|(t, l)| (*t, *l)), 0.5, 1).unwrap();
    for text in ["The zork 7 holds", "Returns the value", ""] {
        assert_eq!(
            other.scores_with(&c, text, None),
            (other.scores(text, None), c.scores(text, None))
        );
    }
    let err = TextModel::fit_correction(
        [("a note", Layer::Semantic, [0.0, f64::NAN, 0.0, 0.0])],
        10.0,
        3,
        1,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidInput {
                field: "offset",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn spanned_tokens_are_the_same_tokens_in_the_same_order() {
    for text in [
        "Returns the value.",
        "Next: add caching to `search` (see [docs]) in 1.2?",
        "  Switched the base image to debian:bookworm  ",
        "émoji 👋🏽 and e\u{301}\u{301} ÀÉÎ Straße",
        "",
        "one",
        "Run `make seed` after a reset, then Foo::bar,",
        "Responsive Header Layout: Updated the header",
        "Deploy — running `make`",
        "Fix: ",
        "1.5 Verify the flow - end to end",
    ] {
        let spanned: Vec<u64> = spanned_tokens(text).iter().map(|t| t.0).collect();
        assert_eq!(spanned, tokens(text), "{text:?}");
    }
    let spans = spanned_tokens("Remember to rotate");
    assert!(
        spans.contains(&(spans[3].0, TokenSpan::Pair(0, 11))),
        "{spans:?}"
    );
}

#[test]
fn the_head_is_what_follows_a_short_label() {
    fn head(text: &str) -> (bool, Vec<&str>) {
        let h = Head::of(text);
        let words = h.words.iter().flatten().map(|&(a, b)| &text[a..b]);
        (h.labelled, words.collect())
    }
    let label = "Responsive Header Layout: Updated the header";
    assert_eq!(head(label), (true, vec!["Updated", "the"]));
    assert_eq!(head("Auth — uses JWT"), (true, vec!["uses", "JWT"]));
    assert_eq!(head("Cache - flushed"), (true, vec!["flushed"]));
    // The first separator counts, and only after one to five words.
    assert_eq!(head("Why: see: below"), (true, vec!["see", "below"]));
    assert_eq!(
        head("one two three four five six: x"),
        (false, vec!["one", "two"])
    );
    assert_eq!(head(": leading colon"), (false, vec!["leading", "colon"]));
    // No space after the colon: a path or a port, not a label.
    assert_eq!(
        head("debian:bookworm base"),
        (false, vec!["debian", "bookworm"])
    );
    assert_eq!(head("Fix: "), (true, vec![]));
    assert_eq!(head("`make` seed"), (false, vec!["make", "seed"]));

    // A labelled note gets the head tokens and its head word's ending; the same words
    // without the label are the opening instead.
    let spans = spanned_tokens(label);
    let after = spans
        .iter()
        .filter(|(_, s)| matches!(s, TokenSpan::AfterLabel(..)))
        .count();
    assert_eq!(after, 2, "{spans:?}");
    assert!(spans
        .iter()
        .any(|(_, s)| *s == TokenSpan::Ending(HEAD_ENDING + 1)));
    let plain = spanned_tokens("Updated the header");
    assert!(!plain
        .iter()
        .any(|(_, s)| matches!(s, TokenSpan::AfterLabel(..) | TokenSpan::Ending(3..))));
    assert!(plain.iter().any(|(_, s)| *s == TokenSpan::Ending(1)));
}

#[test]
fn learns_which_words_mean_which_layer() {
    let data = LABELLED;
    let m = TextModel::fit(data.iter().map(|(t, l)| (*t, *l)), 0.5, 1).unwrap();
    let best = |t: &str| m.scores(t, None).iter().position(|v| *v == 0.0).unwrap();
    assert_eq!(best("Returns the size"), Layer::Semantic.index());
    assert_eq!(best("Added serde support"), Layer::Episodic.index());
    assert_eq!(best("To deploy, run the script"), Layer::Procedural.index());
    assert_eq!(best("we should rename this"), Layer::Prospective.index());
    let json = serde_json::to_string(&m).unwrap();
    let back: TextModel = serde_json::from_str(&json).unwrap();
    assert_eq!(back, m);
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
    assert!(TextModel::fit(data.iter().map(|(t, l)| (*t, *l)), 0.0, 1).is_err());
    let pruned = TextModel::fit(data.iter().map(|(t, l)| (*t, *l)), 0.5, 2).unwrap();
    assert!(pruned.vocabulary_size() < m.vocabulary_size());
    assert!(pruned.vocabulary_size() > 0);
}

#[test]
fn the_token_table_finds_colliding_keys_and_only_its_own() {
    // 16 slots at least: keys 1, 17, 33 share a home slot and probe past each other.
    let keys = [1u64, 17, 33, 0, 5];
    let table = TokenTable::new(keys.iter().map(|&k| (k, [k as f32; 4])));
    assert_eq!(table.len(), keys.len());
    for k in keys {
        assert_eq!(table.get(k), Some(&[k as f32; 4]), "key {k}");
    }
    for missing in [49u64, 2, 16] {
        assert_eq!(table.get(missing), None, "key {missing}");
    }
}

#[test]
fn changed_weights_are_read_over_a_shared_table_and_equal_a_table_of_their_own() {
    let shared = Weights::own(TokenTable::new(
        [1u64, 17, 33, 0].map(|k| (k, [k as f32; 4])),
    ));
    let changed = shared.changed([(33, [0.0, 0.0, -1.0, 0.0]), (0, [7.0; 4]), (49, [2.0; 4])]);
    assert!(
        changed.shares_table_with(&shared),
        "the table is not copied"
    );
    assert_eq!(changed.get(33), Some(&[0.0, 0.0, -1.0, 0.0]));
    assert_eq!(
        changed.get(0),
        Some(&[7.0; 4]),
        "the zero-hash token changes too"
    );
    assert_eq!(
        changed.get(49),
        Some(&[2.0; 4]),
        "a token the table lacks is added"
    );
    assert_eq!(changed.get(17), Some(&[17.0; 4]));
    assert_eq!(changed.get(2), None);
    assert_eq!(changed.len(), 5);
    assert_eq!(
        shared.get(33),
        Some(&[33.0; 4]),
        "the shared table is as it was"
    );
    // Changed again: the earlier changes are kept unless replaced.
    let again = changed.changed([(33, [1.0; 4])]);
    assert_eq!(
        (again.get(33), again.get(49)),
        (Some(&[1.0; 4]), Some(&[2.0; 4]))
    );
    let own = Weights::own(TokenTable::new(changed.entries()));
    assert_eq!(own, changed);
    assert_ne!(own, shared);
    assert_eq!(*changed.merged(), *own.merged());
}

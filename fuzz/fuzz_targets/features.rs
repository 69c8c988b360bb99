//! Feature extraction, routing and explanation on arbitrary text: never a panic, always the same
//! answer twice, finite features, probabilities that sum to 1. Recall's analyzer and date cues
//! on the same text: never a panic, bounded query terms, indexing and querying agree.
#![no_main]

use std::sync::{Arc, OnceLock};

use athena_memory::recall::{analyze, date_cues, index_terms, query_terms, QueryTerms, MAX_QUERY_TERMS};
use athena_memory::{Component, FeatureSchema, RouteInput, Router, TextKind, TreeModel};
use libfuzzer_sys::fuzz_target;

fn router() -> &'static Router {
    static ROUTER: OnceLock<Router> = OnceLock::new();
    ROUTER.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/router-default.json");
        Router::Model(Arc::new(
            TreeModel::load(path.as_ref()).expect("the default model loads"),
        ))
    })
}

fuzz_target!(|data: &[u8]| {
    let (head, text) = data.split_first().unwrap_or((&0, &[]));
    let content = String::from_utf8_lossy(text);
    let input = RouteInput {
        content: &content,
        component: Component::ALL[usize::from(*head) % 4],
        activation: f64::from(*head) / 255.0,
        importance: f64::from(head.rotate_left(3)) / 255.0,
        age_seconds: f64::from(*head) * 17.0,
        kind: [None, Some(TextKind::Note), Some(TextKind::CodeComment)][usize::from(*head >> 2) % 3],
    };
    for schema in [FeatureSchema::V1, FeatureSchema::V2] {
        let f = schema.extract(&input);
        assert_eq!(f.len(), schema.len());
        assert!(f.iter().all(|v| v.is_finite()));
        assert_eq!(f, schema.extract(&input));
    }
    let d = router().route(&input);
    assert!((d.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    assert_eq!(d, router().route(&input));
    let why = router().explain(&input, &d);
    assert_eq!(why.layer, d.layer);

    let terms = index_terms(&content);
    assert_eq!(terms.length as usize, analyze(&content).len());
    if let QueryTerms::Terms(q) = query_terms(&content) {
        assert!(!q.is_empty() && q.len() <= MAX_QUERY_TERMS);
        assert!(q.iter().all(|t| terms.counts.contains_key(t)), "a query term the text is not indexed under");
    }
    for cue in date_cues(&content) {
        assert!((1..=12).contains(&cue.month));
    }
});

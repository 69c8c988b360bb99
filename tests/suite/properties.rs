//! Properties checked on generated inputs (proptest): feature extraction never panics and is
//! deterministic on any text, a decision's probabilities always sum to 1, and activation never
//! rises without rehearsal (in Rust and in the log-space form the SQL uses).

use std::sync::{Arc, OnceLock};

use athena_memory::working_memory::activation::{
    activation_after, activation_at, ln_activation, ln_activation_at,
};
use athena_memory::{Component, FeatureSchema, RouteInput, Router, TreeModel};
use proptest::prelude::*;

fn default_router() -> &'static Router {
    static ROUTER: OnceLock<Router> = OnceLock::new();
    ROUTER.get_or_init(|| {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/router-default.json");
        Router::Model(Arc::new(TreeModel::load(&path).unwrap()))
    })
}

fn component() -> impl Strategy<Value = Component> {
    prop::sample::select(Component::ALL.to_vec())
}

fn input(content: &str, component: Component, a: f64, i: f64, age: f64) -> RouteInput<'_> {
    RouteInput {
        content,
        component,
        activation: a,
        importance: i,
        age_seconds: age,
        kind: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any text (any Unicode, control characters, combining marks): both schemas extract a
    /// finite vector of the right length, twice the same, and routing gives probabilities in
    /// 0..=1 that sum to 1, with an explanation that names its layer.
    #[test]
    fn extraction_is_total_deterministic_and_decisions_are_distributions(
        content in any::<String>(),
        component in component(),
        a in 0.0f64..=1.0,
        i in 0.0f64..=1.0,
        age in 0.0f64..1e7,
    ) {
        let item = input(&content, component, a, i, age);
        for schema in [FeatureSchema::V1, FeatureSchema::V2] {
            let f = schema.extract(&item);
            prop_assert_eq!(f.len(), schema.len());
            prop_assert!(f.iter().all(|v| v.is_finite()));
            prop_assert_eq!(&f, &schema.extract(&item));
        }
        let router = default_router();
        let d = router.route(&item);
        prop_assert_eq!(&d, &router.route(&item));
        prop_assert!(d.features.iter().all(|v| v.is_finite()));
        prop_assert!(d.probabilities.iter().all(|p| (0.0..=1.0).contains(p)));
        prop_assert!((d.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        prop_assert_eq!(d.confidence, d.probabilities[d.layer.index()]);
        let why = router.explain(&item, &d);
        prop_assert_eq!(why.layer, d.layer);
        prop_assert!(why.summary.starts_with(d.layer.as_str()));
        let heuristic = Router::Heuristic.route(&item);
        prop_assert!((heuristic.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }

    /// Without rehearsal, activation at a later time is never higher, in the closed form and in
    /// the log-space form the SQL computes, for every rate and importance accepted.
    #[test]
    fn activation_never_rises_without_rehearsal(
        a0 in 0.0f64..=1.0,
        rate in 1e-9f64..=1e3,
        importance in 0.0f64..=1.0,
        t1 in 0i64..10_000_000_000,
        dt in 0i64..10_000_000_000,
    ) {
        let earlier = activation_at(a0, rate, importance, 0, t1);
        let later = activation_at(a0, rate, importance, 0, t1 + dt);
        prop_assert!(later <= earlier, "{later} > {earlier}");
        prop_assert!((0.0..=a0).contains(&later));
        let ln_a0 = ln_activation(a0);
        let ln_earlier = ln_activation_at(ln_a0, rate, importance, 0, t1);
        let ln_later = ln_activation_at(ln_a0, rate, importance, 0, t1 + dt);
        prop_assert!(ln_later <= ln_earlier);
        prop_assert!(ln_later.is_finite());
        let seconds = t1 as f64 / 1000.0;
        prop_assert!(activation_after(a0, rate, importance, seconds) <= a0);
    }
}

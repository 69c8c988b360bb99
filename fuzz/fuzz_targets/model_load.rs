//! Model loading on arbitrary text: a clear `InvalidModel` error, or a model that routes without
//! panicking and gives probabilities that sum to 1.
#![no_main]

use athena_memory::{Component, RouteInput, TreeModel};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(model) = TreeModel::from_json(text, "fuzz") {
        let d = model.route(&RouteInput {
            content: "Fixed the login page",
            component: Component::Phonological,
            activation: 1.0,
            importance: 0.5,
            age_seconds: 0.0,
            kind: None,
        });
        assert!((d.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-6);
    }
});

//! Model loading on arbitrary bytes, as JSON and as the compact form: a clear `InvalidModel`
//! error, or a model that routes without panicking and gives probabilities that sum to 1.
#![no_main]

use athena_memory::{RouteInput, TreeModel};
use libfuzzer_sys::fuzz_target;

fn routes_sanely(model: &TreeModel) {
    let d = model.route(&RouteInput::new("Fixed the login page"));
    assert!((d.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-6);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = TreeModel::from_compact(data, "fuzz") {
        routes_sanely(&model);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(model) = TreeModel::from_json(text, "fuzz") {
        routes_sanely(&model);
    }
});

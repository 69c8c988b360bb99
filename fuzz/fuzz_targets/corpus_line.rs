//! Corpus parsing on arbitrary bytes: an error naming the line, or items within their ranges;
//! never a panic.
#![no_main]

use std::path::Path;

use athena_memory::corpus;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match corpus::read(data, Path::new("fuzz.jsonl")) {
        Ok(items) => {
            for line in items {
                let item = &line.item;
                assert!((0.0..=1.0).contains(&item.activation));
                assert!((0.0..=1.0).contains(&item.importance));
                assert!(item.age_seconds.is_finite() && item.age_seconds >= 0.0);
            }
        }
        Err(err) => assert!(err.to_string().starts_with("fuzz.jsonl:"), "{err}"),
    }
});

//! The four long-term memory layers an item can be consolidated into.

use crate::enum_str::string_enum;

string_enum! {
    /// A long-term memory layer. The order (semantic, episodic, procedural, prospective) is the
    /// class order of every model, confusion matrix and probability vector in this crate.
    pub enum Layer as "layer" {
        /// Facts and knowledge: "JWT tokens provide stateless authentication".
        Semantic => "semantic",
        /// Events that happened: "Yesterday we fixed the auth bug".
        Episodic => "episodic",
        /// How to do something: "To deploy: build, push, apply".
        Procedural => "procedural",
        /// Intentions and tasks: "Remember to rotate the keys on Friday".
        Prospective => "prospective",
    }
}

impl Layer {
    /// The layer's class index (its position in [`Layer::ALL`]).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The layer with class index `i`, if `i < 4`.
    pub fn from_index(i: usize) -> Option<Layer> {
        Layer::ALL.get(i).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::Layer;

    #[test]
    fn round_trips_through_strings_and_indices() {
        for (i, layer) in Layer::ALL.iter().enumerate() {
            assert_eq!(layer.as_str().parse::<Layer>().unwrap(), *layer);
            assert_eq!(Layer::from_index(i), Some(*layer));
            assert_eq!(layer.index(), i);
        }
        assert_eq!(Layer::from_index(4), None);
        let err = "semantics".parse::<Layer>().unwrap_err().to_string();
        assert!(
            err.contains("layer") && err.contains("\"semantics\""),
            "{err}"
        );
    }
}

//! Typed ids: a project's, a working-memory item's, a logged route's and a long-term memory's
//! id are different types, so a call that takes two of them does not compile with them swapped.
//! Each is its number inside (`ProjectId(7)`, `id.0`), stored and serialised as that number.

/// Defines an id type over `i64`, transparent to sqlx and serde.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, sqlx::Type,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }
    };
}

id_type! {
    /// A registered project ([`crate::Project::id`]).
    ProjectId
}

id_type! {
    /// An item of a project's working memory ([`crate::Item::id`]).
    ItemId
}

id_type! {
    /// A logged routing decision ([`crate::RouteRecord::id`]; feedback names it).
    RouteId
}

id_type! {
    /// A long-term memory of one layer (a semantic memory, an episodic event, a procedure or
    /// a prospective task; the layer says which table).
    MemoryId
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_and_write_as_their_numbers() {
        let id = ProjectId(42);
        assert_eq!(id.to_string(), "42");
        assert_eq!("42".parse::<ProjectId>().unwrap(), id);
        assert!("x".parse::<RouteId>().is_err());
        assert_eq!(serde_json::to_string(&ItemId(7)).unwrap(), "7");
        assert_eq!(serde_json::from_str::<MemoryId>("9").unwrap(), MemoryId(9));
    }
}

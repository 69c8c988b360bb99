//! Core nouns shared by the working memory, the repositories and the router: components,
//! content types and item states.

use crate::enum_str::string_enum;

string_enum! {
    /// The working-memory component an item lives in (Baddeley's model).
    pub enum Component as "component" {
        /// Phonological loop: verbal items, capacity 7.
        Phonological => "phonological",
        /// Visuospatial sketchpad: spatial items such as files, capacity 7.
        Visuospatial => "visuospatial",
        /// Episodic buffer: chunks binding other items, capacity 4.
        EpisodicBuffer => "episodic_buffer",
        /// Central executive: goals and attention.
        CentralExecutive => "central_executive",
    }
}

string_enum! {
    /// What kind of content an item holds.
    pub enum ContentType as "content_type" {
        /// Words: notes, messages, thoughts.
        Verbal => "verbal",
        /// Places: files, directories, positions.
        Spatial => "spatial",
        /// A bound chunk of other items.
        Episodic => "episodic",
        /// A goal.
        Goal => "goal",
    }
}

impl Component {
    /// The content type an item of this component has unless the caller says otherwise.
    pub fn default_content_type(self) -> ContentType {
        match self {
            Component::Phonological => ContentType::Verbal,
            Component::Visuospatial => ContentType::Spatial,
            Component::EpisodicBuffer => ContentType::Episodic,
            Component::CentralExecutive => ContentType::Goal,
        }
    }
}

string_enum! {
    /// Whether an item is in the active set or waiting for consolidation.
    pub enum ItemState as "state" {
        /// Counts toward its component's capacity.
        Active => "active",
        /// Displaced or decayed: waiting to be consolidated into long-term memory.
        Pending => "pending",
    }
}

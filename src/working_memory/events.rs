//! Events the working memory publishes; subscribe with `WorkingMemory::subscribe`.

use crate::component::Component;
use crate::ids::{ItemId, ProjectId};

/// Something a caller may want to react to.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum MemoryEvent {
    /// A component reached its soft limit (one below capacity) or more.
    SoftLimit {
        /// Project.
        project_id: ProjectId,
        /// Component.
        component: Component,
        /// Active items now.
        count: usize,
        /// Capacity.
        capacity: usize,
    },
    /// A full component moved its weakest item to pending consolidation to make room.
    Displaced {
        /// Project.
        project_id: ProjectId,
        /// The displaced item.
        item_id: ItemId,
        /// Its component.
        component: Component,
    },
    /// An item's activation fell below the threshold; it moved to pending consolidation.
    Decayed {
        /// Project.
        project_id: ProjectId,
        /// The item.
        item_id: ItemId,
    },
    /// An item's activation fell below the threshold and forgetting is configured: it was
    /// deleted. The content is carried here so the caller can still keep it.
    Forgotten {
        /// Project.
        project_id: ProjectId,
        /// The deleted item.
        item_id: ItemId,
        /// Its content.
        content: String,
    },
}

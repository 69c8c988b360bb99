//! Working-memory items: what is stored, what a caller supplies, and what an add reports.

use serde_json::Value;

use crate::component::ItemState;
use crate::component::{Component, ContentType};
use crate::db::items::ItemRow;
use crate::error::{
    check_decay_rate, check_embedding, check_metadata, check_text, check_unit, Error, Result,
};
use crate::features::{RouteInput, TextKind};
use crate::ids::{ItemId, ProjectId};
use crate::time::{seconds_between, Millis};
use crate::working_memory::activation::activation_at;
use crate::working_memory::spatial::{file_info, FileInfo};

/// Longest item content, in characters. Working memory holds notes, not documents.
pub const MAX_ITEM_CHARS: usize = 10_000;
/// Longest embedding accepted, in dimensions.
pub const MAX_EMBEDDING_DIMS: usize = 4096;
/// Most strings an episodic-buffer chunk binds.
pub const MAX_CHUNK_PARTS: usize = 5;
/// Longest speaker name and session id, in characters.
pub const MAX_LABEL_CHARS: usize = 200;
/// Latest `occurred_at` accepted: the year 9999 (UTC Unix ms). The earliest is 0 (1970).
pub const MAX_OCCURRED_AT: Millis = 253_402_300_799_999;

/// A working-memory item.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Item {
    /// Id.
    pub id: ItemId,
    /// Owning project.
    pub project_id: ProjectId,
    /// The text.
    pub content: String,
    /// Verbal, spatial, episodic or goal.
    pub content_type: ContentType,
    /// The component it lives in.
    pub component: Component,
    /// Stored activation A0 (set to 1 by rehearsal).
    pub activation: f64,
    /// Decay rate per second.
    pub decay_rate: f64,
    /// Importance, 0..=1: slows decay.
    pub importance: f64,
    /// Active or pending consolidation.
    pub state: ItemState,
    /// A file path, for sketchpad items.
    pub file_path: Option<String>,
    /// Ids of the items an episodic-buffer chunk binds.
    pub sources: Vec<ItemId>,
    /// How often it was rehearsed.
    pub access_count: i64,
    /// Creation time (UTC Unix ms).
    pub created_at: Millis,
    /// Last access (creation or rehearsal), the origin of decay.
    pub last_accessed_at: Millis,
    /// Caller's metadata, a JSON object.
    pub metadata: Value,
    /// Caller-supplied embedding.
    pub embedding: Option<Vec<f32>>,
    /// What kind of text it is, when the caller said (see [`NewItem::kind`]).
    pub kind: Option<TextKind>,
    /// Who said or wrote it, when the caller said (see [`NewItem::speaker`]).
    pub speaker: Option<String>,
    /// The conversation or task it belongs to, when the caller said (see [`NewItem::session`]).
    pub session: Option<String>,
    /// When it happened (UTC Unix ms): the caller's [`NewItem::occurred_at`], else its creation.
    pub occurred_at: Millis,
}

impl Item {
    /// Current activation A(t) at `now`.
    pub fn activation_at(&self, now: Millis) -> f64 {
        activation_at(
            self.activation,
            self.decay_rate,
            self.importance,
            self.last_accessed_at,
            now,
        )
    }

    /// Seconds since creation at `now`.
    pub fn age_seconds(&self, now: Millis) -> f64 {
        seconds_between(self.created_at, now)
    }

    /// Type, directory and name of the item's file, if it has one.
    pub fn file_info(&self) -> Option<FileInfo> {
        self.file_path.as_deref().map(file_info)
    }

    /// The item as the router sees it at `now`.
    pub fn route_input(&self, now: Millis) -> RouteInput<'_> {
        RouteInput {
            content: &self.content,
            component: self.component,
            activation: self.activation,
            importance: self.importance,
            age_seconds: self.age_seconds(now),
            kind: self.kind,
        }
    }
}

impl From<ItemRow> for Item {
    fn from(r: ItemRow) -> Self {
        Item {
            id: r.id,
            project_id: r.project_id,
            content: r.content,
            content_type: r.content_type,
            component: r.component,
            activation: r.activation,
            decay_rate: r.decay_rate,
            importance: r.importance,
            state: r.state,
            file_path: r.file_path,
            sources: r.sources,
            access_count: r.access_count,
            created_at: r.created_at,
            last_accessed_at: r.last_accessed_at,
            metadata: r.metadata,
            embedding: r.embedding.map(|b| decode_embedding(&b)),
            kind: r.text_kind,
            speaker: r.speaker,
            session: r.session,
            occurred_at: r.occurred_at.unwrap_or(r.created_at),
        }
    }
}

/// Embeddings are stored portably as little-endian `f32`s, 4 bytes per dimension.
pub(crate) fn encode_embedding(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn decode_embedding(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// An item to add. Build with [`NewItem::new`] and the setters; validated by the add.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct NewItem {
    pub(crate) content: String,
    pub(crate) component: Component,
    pub(crate) content_type: Option<ContentType>,
    pub(crate) activation: f64,
    pub(crate) decay_rate: Option<f64>,
    pub(crate) importance: f64,
    pub(crate) file_path: Option<String>,
    pub(crate) sources: Vec<ItemId>,
    pub(crate) metadata: Value,
    pub(crate) embedding: Option<Vec<f32>>,
    pub(crate) kind: Option<TextKind>,
    pub(crate) speaker: Option<String>,
    pub(crate) session: Option<String>,
    pub(crate) occurred_at: Option<Millis>,
}

impl NewItem {
    /// A phonological item with activation 1, importance 0.5 and the configured decay rate.
    pub fn new(content: impl Into<String>) -> Self {
        NewItem {
            content: content.into(),
            component: Component::Phonological,
            content_type: None,
            activation: 1.0,
            decay_rate: None,
            importance: 0.5,
            file_path: None,
            sources: Vec::new(),
            metadata: Value::Object(Default::default()),
            embedding: None,
            kind: None,
            speaker: None,
            session: None,
            occurred_at: None,
        }
    }

    /// The component (default phonological). The content type follows it unless set.
    pub fn component(mut self, component: Component) -> Self {
        self.component = component;
        self
    }

    /// The content type (default: the component's, see [`Component::default_content_type`]).
    pub fn content_type(mut self, content_type: ContentType) -> Self {
        self.content_type = Some(content_type);
        self
    }

    /// Initial activation A0, 0..=1 (default 1).
    pub fn activation(mut self, a0: f64) -> Self {
        self.activation = a0;
        self
    }

    /// Decay rate per second, > 0 (default: the configured one).
    pub fn decay_rate(mut self, rate: f64) -> Self {
        self.decay_rate = Some(rate);
        self
    }

    /// Importance, 0..=1 (default 0.5).
    pub fn importance(mut self, importance: f64) -> Self {
        self.importance = importance;
        self
    }

    /// A file path (an absolute or relative `/`-separated path); sets the component to the
    /// visuospatial sketchpad.
    pub fn file_path(mut self, path: impl Into<String>) -> Self {
        self.file_path = Some(path.into());
        self.component = Component::Visuospatial;
        self
    }

    /// Metadata, a JSON object.
    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = metadata;
        self
    }

    /// An embedding for similarity search.
    pub fn embedding(mut self, embedding: Vec<f32>) -> Self {
        self.embedding = Some(embedding);
        self
    }

    /// What kind of text the item is: an agent's note or a comment from source code (default:
    /// not said). A router whose text model is kind-aware reads the text with that kind's
    /// weights instead of guessing the kind from the words; "Add retry to the client" is a next
    /// step in a note and a past change in a changelog comment. Other routers ignore it.
    pub fn kind(mut self, kind: TextKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Who said or wrote it: a person's name, "user", "assistant", a tool (at most
    /// [`MAX_LABEL_CHARS`] characters). Stored with the item and the memory it becomes; recall
    /// favours memories whose speaker the query names.
    pub fn speaker(mut self, speaker: impl Into<String>) -> Self {
        self.speaker = Some(speaker.into());
        self
    }

    /// The conversation or task it belongs to (at most [`MAX_LABEL_CHARS`] characters). Items of
    /// one session are neighbours in the order they were added, and recall reads a memory with
    /// its neighbours; a consolidated episodic event takes it as its session.
    pub fn session(mut self, session: impl Into<String>) -> Self {
        self.session = Some(session.into());
        self
    }

    /// When it happened (UTC Unix ms, 0..=[`MAX_OCCURRED_AT`]; default: when it is added).
    /// Activation still decays from when the item was added; recall's recency and a
    /// consolidated episodic event use this time.
    pub fn occurred_at(mut self, at: Millis) -> Self {
        self.occurred_at = Some(at);
        self
    }

    /// An episodic-buffer chunk binding up to [`MAX_CHUNK_PARTS`] strings (extra ones are
    /// dropped and the item's metadata says how many) and the ids of the phonological and
    /// visuospatial items it came from.
    pub fn chunk<S: AsRef<str>>(parts: &[S], sources: &[ItemId]) -> Self {
        let kept: Vec<&str> = parts
            .iter()
            .take(MAX_CHUNK_PARTS)
            .map(AsRef::as_ref)
            .collect();
        let mut item = NewItem::new(kept.join("; ")).component(Component::EpisodicBuffer);
        item.sources = sources.to_vec();
        item.metadata =
            serde_json::json!({ "chunk": kept, "dropped_parts": parts.len() - kept.len() });
        item
    }

    /// Checks every field; `default_decay` fills an unset decay rate.
    pub(crate) fn validate(&self, default_decay: f64) -> Result<f64> {
        check_text("content", &self.content, MAX_ITEM_CHARS)?;
        check_unit("activation", self.activation)?;
        check_unit("importance", self.importance)?;
        let rate = check_decay_rate("decay_rate", self.decay_rate.unwrap_or(default_decay))?;
        check_metadata("metadata", &self.metadata)?;
        if let Some(path) = &self.file_path {
            check_text("file_path", path, 4096)?;
        }
        if let Some(e) = &self.embedding {
            check_embedding("embedding", e, MAX_EMBEDDING_DIMS)?;
        }
        if let Some(speaker) = &self.speaker {
            check_text("speaker", speaker, MAX_LABEL_CHARS)?;
        }
        if let Some(session) = &self.session {
            check_text("session", session, MAX_LABEL_CHARS)?;
        }
        if let Some(at) = self.occurred_at {
            if !(0..=MAX_OCCURRED_AT).contains(&at) {
                return Err(Error::invalid(
                    "occurred_at",
                    format!("must be within 0..={MAX_OCCURRED_AT} (UTC Unix ms), got {at}"),
                ));
            }
        }
        if !self.sources.is_empty() && self.component != Component::EpisodicBuffer {
            return Err(Error::invalid(
                "sources",
                "only episodic-buffer chunks bind sources",
            ));
        }
        Ok(rate)
    }
}

/// What an add did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AddOutcome {
    /// The new item's id.
    pub id: ItemId,
    /// The item moved to pending consolidation to make room, if the component was full.
    pub displaced: Option<ItemId>,
    /// Items whose activation had decayed below the threshold and left the active set (moved to
    /// pending, or deleted when forgetting is configured) during this add.
    pub decayed: Vec<ItemId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_round_trip_as_little_endian_f32() {
        let v = vec![0.5f32, -1.25, 3.0e-8];
        let bytes = encode_embedding(&v);
        assert_eq!(bytes.len(), 12);
        assert_eq!(&bytes[..4], &0.5f32.to_le_bytes());
        assert_eq!(decode_embedding(&bytes), v);
    }

    #[test]
    fn a_chunk_keeps_five_strings() {
        let parts = ["a", "b", "c", "d", "e", "f"];
        let item = NewItem::chunk(&parts, &[ItemId(1), ItemId(2)]);
        assert_eq!(item.content, "a; b; c; d; e");
        assert_eq!(item.metadata["chunk"].as_array().unwrap().len(), 5);
        assert_eq!(item.metadata["dropped_parts"], 1);
        assert_eq!(item.component, Component::EpisodicBuffer);
    }

    #[test]
    fn validation_names_the_field() {
        let field = |item: NewItem| match item.validate(0.1) {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("expected an error, got {other:?}"),
        };
        assert_eq!(field(NewItem::new("")), "content");
        assert_eq!(
            field(NewItem::new("x".repeat(MAX_ITEM_CHARS + 1))),
            "content"
        );
        assert_eq!(field(NewItem::new("x").importance(1.5)), "importance");
        assert_eq!(field(NewItem::new("x").importance(f64::NAN)), "importance");
        assert_eq!(field(NewItem::new("x").activation(-0.1)), "activation");
        assert_eq!(field(NewItem::new("x").decay_rate(0.0)), "decay_rate");
        assert_eq!(
            field(NewItem::new("x").metadata(serde_json::json!([1]))),
            "metadata"
        );
        assert_eq!(
            field(NewItem::new("x").embedding(vec![f32::NAN])),
            "embedding"
        );
        assert_eq!(field(NewItem::new("x").speaker("")), "speaker");
        assert_eq!(field(NewItem::new("x").session("s".repeat(201))), "session");
        assert_eq!(field(NewItem::new("x").occurred_at(-1)), "occurred_at");
        assert!(NewItem::new("x").validate(0.1).is_ok());
        assert!(NewItem::new("x")
            .speaker("Caroline")
            .session("session_1")
            .occurred_at(0)
            .validate(0.1)
            .is_ok());
    }
}

//! Typed identifiers: 24 lowercase hex characters, a 4-byte time prefix then 8 random bytes.
//!
//! The shape matches Keen project ids (Keen clients treat project ids as opaque strings, and
//! the ones in the wild are of this form), and the time prefix keeps ids roughly creation-ordered.

use std::fmt;
use std::marker::PhantomData;

use rand::RngCore;

use crate::InvalidValue;

/// What an id identifies; only used as a type parameter.
pub trait IdKind {
    /// The noun used in error messages, e.g. "workspace".
    const NOUN: &'static str;
}

/// An identifier of a `K`.
pub struct Id<K> {
    raw: [u8; 12],
    kind: PhantomData<fn() -> K>,
}

impl<K: IdKind> Id<K> {
    /// A new id, unique with overwhelming probability.
    pub fn generate() -> Self {
        let mut raw = [0u8; 12];
        let secs = u32::try_from(chrono::Utc::now().timestamp()).unwrap_or(u32::MAX);
        raw[..4].copy_from_slice(&secs.to_be_bytes());
        rand::thread_rng().fill_bytes(&mut raw[4..]);
        Id { raw, kind: PhantomData }
    }

    /// Parses the 24-hex-character form; upper case is accepted.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        let mut raw = [0u8; 12];
        if text.len() != 24 || hex::decode_to_slice(text, &mut raw).is_err() {
            return Err(InvalidValue(format!("{} id must be 24 hexadecimal characters", K::NOUN)));
        }
        Ok(Id { raw, kind: PhantomData })
    }
}

impl<K> Clone for Id<K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K> Copy for Id<K> {}
impl<K> PartialEq for Id<K> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}
impl<K> Eq for Id<K> {}
impl<K> std::hash::Hash for Id<K> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.raw.hash(state);
    }
}
impl<K> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.raw))
    }
}
impl<K> fmt::Debug for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

macro_rules! id_kind {
    ($kind:ident, $alias:ident, $noun:literal) => {
        #[doc = concat!("Marker for ", $noun, " ids.")]
        pub enum $kind {}
        impl IdKind for $kind {
            const NOUN: &'static str = $noun;
        }
        #[doc = concat!("Identifies a ", $noun, ".")]
        pub type $alias = Id<$kind>;
    };
}

id_kind!(WorkspaceKind, WorkspaceId, "workspace");
id_kind!(UserKind, UserId, "user");
id_kind!(ApiKeyKind, ApiKeyId, "key");
id_kind!(EventKind, EventId, "event");
id_kind!(PipelineKind, PipelineId, "pipeline");
id_kind!(StageKind, StageId, "stage");
id_kind!(FieldKind, FieldId, "field");
id_kind!(BoxKind, BoxId, "box");
id_kind!(ContactKind, ContactId, "contact");
id_kind!(OrganizationKind, OrganizationId, "organization");
id_kind!(TaskKind, TaskId, "task");
id_kind!(CommentKind, CommentId, "comment");
id_kind!(ThreadKind, ThreadId, "thread");
id_kind!(MessageKind, MessageId, "message");
id_kind!(WebhookKind, WebhookId, "webhook");
id_kind!(ImportRunKind, ImportId, "import");
id_kind!(MailKind, MailId, "mail");
id_kind!(InboundKind, InboundId, "inbound mail");
id_kind!(CheckinEntryKind, CheckinEntryId, "entry");
id_kind!(CheckinCommentKind, CheckinCommentId, "entry comment");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_malformed() {
        let id = WorkspaceId::generate();
        assert_eq!(WorkspaceId::parse(&id.to_string()).unwrap(), id);
        assert_eq!(WorkspaceId::parse(&id.to_string().to_uppercase()).unwrap(), id);
        for bad in ["", "abc", "zzzzzzzzzzzzzzzzzzzzzzzz", "0123456789abcdef012345678"] {
            let err = WorkspaceId::parse(bad).unwrap_err();
            assert!(err.0.starts_with("workspace id"), "{bad}: {err}");
        }
    }

    #[test]
    fn ids_differ() {
        assert_ne!(UserId::generate(), UserId::generate());
    }
}

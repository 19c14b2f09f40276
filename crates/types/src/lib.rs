//! Identifiers, validated values, timestamps and the error kinds every crate maps its errors to.
//!
//! No IO and no async here: every other crate depends on this one.

mod error;
mod id;
mod names;
mod time;

pub use error::ErrorKind;
pub use id::{
    ApiKeyId, BoxId, CheckinCommentId, CheckinEntryId, CommentId, ContactId, EventId, FieldId, Id, IdKind,
    ImportId, InboundId, MailId, MessageId, OrganizationId, PipelineId, StageId, TaskId, ThreadId, UserId,
    WebhookId, WorkspaceId,
};
pub use names::{
    Domain, Email, FieldType, KeyKind, ParticipantRole, QueryName, Role, ThreadSource, WorkspaceName,
};
pub use time::Timestamp;

/// A value that failed to parse, with a message meant for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

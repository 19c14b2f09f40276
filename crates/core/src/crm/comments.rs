//! Comment services: comments on a box, oldest first, with the members they @mention (an
//! `@` followed by a member's email address); edited under their version and deleted by their
//! author or an admin.

use sb_store::CommentRecord;
use sb_types::{BoxId, CommentId, Email, Timestamp, UserId};
use serde_json::json;

use super::pipelines::stale;
use super::{Change, NOTES_MAX, id_in_path, invalid, outbox_entry};
use crate::{Access, CoreError, Permission, Switchboard};

/// A comment on a box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: CommentId,
    pub box_id: BoxId,
    pub body: String,
    /// The members `body` mentions, in order of first mention.
    pub mentions: Vec<UserId>,
    pub version: i64,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

fn body(text: &str) -> Result<String, CoreError> {
    let chars = text.trim().chars().count();
    if chars == 0 || chars > NOTES_MAX {
        return Err(invalid(format!("a comment is 1 to {NOTES_MAX} characters, got {chars}")));
    }
    Ok(text.trim().to_owned())
}

/// The email addresses written as `@address` in `text`, in order (trailing punctuation is not
/// part of the address).
fn mentioned(text: &str) -> Vec<Email> {
    text.split_whitespace()
        .filter_map(|word| word.strip_prefix('@'))
        .map(|word| word.trim_end_matches(|c: char| !c.is_alphanumeric()))
        .filter_map(|word| Email::parse(word).ok())
        .collect()
}

fn from_record(record: CommentRecord) -> Comment {
    Comment {
        id: record.id,
        box_id: record.box_id,
        body: record.body,
        mentions: record.mentions,
        version: record.version,
        created_by: record.created_by,
        created_at: record.created_at,
        updated_at: record.updated_at,
    }
}

fn record(comment: &Comment) -> CommentRecord {
    CommentRecord {
        id: comment.id,
        box_id: comment.box_id,
        body: comment.body.clone(),
        mentions: comment.mentions.clone(),
        version: comment.version,
        created_by: comment.created_by.clone(),
        created_at: comment.created_at,
        updated_at: comment.updated_at,
    }
}

fn payload(comment: &Comment) -> String {
    json!({
        "id": comment.id.to_string(),
        "box": comment.box_id.to_string(),
        "body": comment.body,
        "mentions": comment.mentions.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "version": comment.version,
        "created_by": comment.created_by,
        "updated_at": comment.updated_at.to_string(),
    })
    .to_string()
}

impl Switchboard {
    /// The members of the workspace that `text` mentions, each once, in order.
    async fn mentions(&self, access: &Access, text: &str) -> Result<Vec<UserId>, CoreError> {
        let addresses = mentioned(text);
        if addresses.is_empty() {
            return Ok(Vec::new());
        }
        let members = self.store().members(access.workspace()).await?;
        let mut users = Vec::new();
        for address in addresses {
            if let Some(member) = members.iter().find(|m| m.user.email == address)
                && !users.contains(&member.user.id)
            {
                users.push(member.user.id);
            }
        }
        Ok(users)
    }

    /// Adds a comment to the box `box_id` (as it appears in a URL).
    pub async fn add_comment(&self, access: &Access, box_id: &str, text: &str) -> Result<Comment, CoreError> {
        access.require(Permission::Write)?;
        let (crm_box, _) = self.find_box(access, box_id).await?;
        let now = Timestamp::now();
        let body = body(text)?;
        let comment = Comment {
            id: CommentId::generate(),
            box_id: crm_box.id,
            mentions: self.mentions(access, &body).await?,
            body,
            version: 1,
            created_by: access.actor_label(),
            created_at: now,
            updated_at: now,
        };
        let change = Change::Made(payload(&comment));
        let outbox = [outbox_entry(access, "comment", comment.id.to_string(), "COMMENT_CREATE", change)];
        let db = self.store().workspace_db(access.workspace()).await?;
        db.insert_comment(&record(&comment), &outbox).await?;
        Ok(comment)
    }

    /// The comments on the box `box_id`, oldest first.
    pub async fn box_comments(&self, access: &Access, box_id: &str) -> Result<Vec<Comment>, CoreError> {
        access.require(Permission::Read)?;
        let (crm_box, _) = self.find_box(access, box_id).await?;
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(db.box_comments(crm_box.id).await?.into_iter().map(from_record).collect())
    }

    /// The comment `id`, if the caller wrote it or administers the workspace.
    async fn own_comment(&self, access: &Access, id: &str) -> Result<Comment, CoreError> {
        access.require(Permission::Write)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        let found = db.comment(id_in_path(id, "comment")?).await?.ok_or(CoreError::NotFound("comment"))?;
        if found.created_by != access.actor_label() && !access.allows(Permission::Admin) {
            return Err(CoreError::Forbidden("only its author or an admin may change a comment"));
        }
        Ok(from_record(found))
    }

    /// Replaces the text of the comment `id` if it is still at `version`.
    pub async fn edit_comment(
        &self,
        access: &Access,
        id: &str,
        version: i64,
        text: &str,
    ) -> Result<Comment, CoreError> {
        let current = self.own_comment(access, id).await?;
        if version != current.version {
            return Err(stale("comment", version, current.version));
        }
        let body = body(text)?;
        if body == current.body {
            return Ok(current);
        }
        let comment = Comment {
            mentions: self.mentions(access, &body).await?,
            body,
            version: current.version + 1,
            updated_at: Timestamp::now(),
            ..current.clone()
        };
        let change = Change::Edited(payload(&current), payload(&comment));
        let outbox = [outbox_entry(access, "comment", comment.id.to_string(), "COMMENT_EDIT", change)];
        let db = self.store().workspace_db(access.workspace()).await?;
        db.update_comment(&record(&comment), current.version, &outbox).await?;
        Ok(comment)
    }

    /// Deletes the comment `id`.
    pub async fn delete_comment(&self, access: &Access, id: &str) -> Result<(), CoreError> {
        let comment = self.own_comment(access, id).await?;
        let change = Change::Removed(payload(&comment));
        let outbox = [outbox_entry(access, "comment", comment.id.to_string(), "COMMENT_DELETE", change)];
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(db.delete_comment(comment.id, &outbox, Timestamp::now()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_at_signs_before_addresses() {
        let found = mentioned("Thanks @Ana@Acme.com, and @bo@acme.com! cc @nobody, mail me@x.org");
        let texts: Vec<&str> = found.iter().map(Email::as_str).collect();
        assert_eq!(texts, ["ana@acme.com", "bo@acme.com"]);
    }
}

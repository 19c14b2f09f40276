//! Checks that values naming people and records of the workspace name real ones: a box's
//! assignees and followers (members), and its person, contact and organization field values.

use std::collections::HashSet;

use sb_types::{ContactId, FieldType, OrganizationId, UserId};
use serde_json::{Map, Value};

use super::{ASSIGNEES_MAX, Pipeline, field_of, invalid};
use crate::{Access, CoreError, Switchboard};

impl Switchboard {
    /// Refuses a person, contact or organization value in `changes` that names no member,
    /// contact or organization of the workspace.
    pub(super) async fn check_references(
        &self,
        access: &Access,
        pipeline: &Pipeline,
        changes: &Map<String, Value>,
    ) -> Result<(), CoreError> {
        let db = self.store().workspace_db(access.workspace()).await?;
        for (key, value) in changes {
            let (field, Some(id)) = (field_of(pipeline, key)?, value.as_str()) else { continue };
            let found = match field.field_type {
                FieldType::Person => match UserId::parse(id) {
                    Ok(user) => self.store().member_role(access.workspace(), user).await?.is_some(),
                    Err(_) => false,
                },
                FieldType::Contact => match ContactId::parse(id) {
                    Ok(contact) => db.contact(contact).await?.is_some(),
                    Err(_) => false,
                },
                FieldType::Organization => match OrganizationId::parse(id) {
                    Ok(organization) => db.organization(organization).await?.is_some(),
                    Err(_) => false,
                },
                _ => true,
            };
            if !found {
                return Err(invalid(format!(
                    "field {:?} ({}): {id:?} is no {} of this workspace",
                    field.name,
                    field.field_type,
                    match field.field_type {
                        FieldType::Person => "member",
                        other => other.as_str(),
                    }
                )));
            }
        }
        Ok(())
    }

    /// The distinct members among `ids`, in order; anyone else is refused.
    pub(super) async fn assignees(&self, access: &Access, ids: &[String]) -> Result<Vec<UserId>, CoreError> {
        self.members_among(access, "assignee", ids).await
    }

    /// The distinct members among `ids` (`what`s of a box), in order; anyone else is refused.
    pub(super) async fn members_among(
        &self,
        access: &Access,
        what: &str,
        ids: &[String],
    ) -> Result<Vec<UserId>, CoreError> {
        if ids.len() > ASSIGNEES_MAX {
            return Err(invalid(format!("a box has at most {ASSIGNEES_MAX} {what}s")));
        }
        let mut users = Vec::new();
        let mut seen = HashSet::new();
        for text in ids {
            let not_member = || invalid(format!("{what} {text:?} is not a member of this workspace"));
            let user = UserId::parse(text).map_err(|_| not_member())?;
            if self.store().member_role(access.workspace(), user).await?.is_none() {
                return Err(not_member());
            }
            if seen.insert(user) {
                users.push(user);
            }
        }
        Ok(users)
    }
}

//! Workspaces, the tenants: created with a master, a write and a read key.

use sb_types::{KeyKind, UserId, WorkspaceId, WorkspaceName};

use crate::{Access, Actor, CoreError, CreatedKey, Permission, Switchboard, Workspace};

/// A workspace just created, with the secrets of its first keys.
#[derive(Debug, Clone)]
pub struct CreatedWorkspace {
    pub workspace: Workspace,
    pub master: CreatedKey,
    pub write: CreatedKey,
    pub read: CreatedKey,
}

/// A workspace as its members see it.
#[derive(Debug, Clone)]
pub struct WorkspaceSummary {
    pub workspace: Workspace,
    pub member_count: i64,
}

impl Switchboard {
    /// Creates a workspace (with `owner` as its owner) and its master, write and read keys.
    pub async fn create_workspace(
        &self,
        name: &str,
        owner: Option<UserId>,
    ) -> Result<CreatedWorkspace, CoreError> {
        let name = WorkspaceName::parse(name)?;
        let workspace = self.store().create_workspace(&name, owner).await.map_err(|e| match e.kind() {
            sb_types::ErrorKind::Conflict => CoreError::Conflict(e.to_string()),
            _ => e.into(),
        })?;
        let by = owner.map_or_else(|| "cli".to_owned(), |u| format!("user:{u}"));
        let key = async |kind: KeyKind| {
            let name = crate::keys::key_name(None, kind)?;
            self.insert_key(workspace.id, kind, name, by.clone()).await
        };
        let master = key(KeyKind::Master).await?;
        let write = key(KeyKind::Write).await?;
        let read = key(KeyKind::Read).await?;
        tracing::info!(workspace = %workspace.id, "workspace created");
        Ok(CreatedWorkspace { workspace, master, write, read })
    }

    /// All workspaces, oldest first (operator view).
    pub async fn list_workspaces(&self) -> Result<Vec<Workspace>, CoreError> {
        Ok(self.store().list_workspaces().await?)
    }

    /// Full rights over one workspace for the admin CLI; `NotFound` if it does not exist.
    pub async fn operator_access(&self, workspace: WorkspaceId) -> Result<Access, CoreError> {
        self.store().workspace(workspace).await?.ok_or(CoreError::NotFound("workspace"))?;
        Ok(Access::new(workspace, Actor::Operator))
    }

    /// Whether a workspace with this id exists.
    pub async fn workspace_exists(&self, workspace: WorkspaceId) -> Result<bool, CoreError> {
        Ok(self.store().workspace(workspace).await?.is_some())
    }

    /// Deletes a workspace with everything it holds. Needs owner rights (or the operator).
    pub async fn delete_workspace(&self, access: &Access) -> Result<(), CoreError> {
        let owner =
            matches!(access.actor(), Actor::Operator | Actor::User { role: sb_types::Role::Owner, .. });
        if !owner {
            return Err(CoreError::Forbidden("only an owner may delete a workspace"));
        }
        self.close_event_store(access.workspace()).await;
        self.store().delete_workspace(access.workspace()).await.map_err(|e| match e.kind() {
            sb_types::ErrorKind::NotFound => CoreError::NotFound("workspace"),
            _ => e.into(),
        })?;
        tracing::info!(workspace = %access.workspace(), "workspace deleted");
        Ok(())
    }

    /// The caller's workspace with its member count.
    pub async fn workspace_summary(&self, access: &Access) -> Result<WorkspaceSummary, CoreError> {
        access.require(Permission::Read).or_else(|_| access.require(Permission::Write))?;
        let workspace =
            self.store().workspace(access.workspace()).await?.ok_or(CoreError::NotFound("workspace"))?;
        let member_count = self.store().member_count(workspace.id).await?;
        Ok(WorkspaceSummary { workspace, member_count })
    }
}

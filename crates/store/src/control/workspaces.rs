//! Workspaces (the tenants) and their members.

use sb_types::{Role, Timestamp, UserId, WorkspaceId, WorkspaceName};
use sqlx::any::AnyRow;

use super::users::{USER_COLUMNS, User, user_from_row};
use crate::{Store, StoreError, WorkspaceDb, conflict_as, parsed};

/// A stored workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: WorkspaceName,
    pub created_at: Timestamp,
}

/// A user's membership in a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user: User,
    pub role: Role,
    pub since: Timestamp,
}

fn member_from_row(row: &AnyRow) -> Result<Member, StoreError> {
    Ok(Member {
        user: user_from_row(row)?,
        role: parsed(row, 5, "memberships.role", Role::parse)?,
        since: parsed(row, 6, "memberships.created_at", Timestamp::parse)?,
    })
}

const DUPLICATE_NAME: &str = "a workspace with this name already exists";
const WORKSPACE_COLUMNS: &str = "w.id, w.name, w.created_at";

fn workspace_from_row(row: &AnyRow) -> Result<Workspace, StoreError> {
    Ok(Workspace {
        id: parsed(row, 0, "workspaces.id", WorkspaceId::parse)?,
        name: parsed(row, 1, "workspaces.name", WorkspaceName::parse)?,
        created_at: parsed(row, 2, "workspaces.created_at", Timestamp::parse)?,
    })
}

impl Store {
    /// Creates a workspace: its records database first, then its control row (and `owner`'s
    /// membership) in one transaction. A crash in between leaves an unreferenced folder, never
    /// a workspace without its database. `Conflict` if the name is taken, ignoring case.
    pub async fn create_workspace(
        &self,
        name: &WorkspaceName,
        owner: Option<UserId>,
    ) -> Result<Workspace, StoreError> {
        let name_key = name.as_str().to_lowercase();
        let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM workspaces WHERE name_key = $1")
            .bind(&name_key)
            .fetch_one(&self.control)
            .await
            .map_err(StoreError::from_sqlx)?;
        if taken > 0 {
            return Err(StoreError::Conflict(DUPLICATE_NAME.into()));
        }
        let workspace =
            Workspace { id: WorkspaceId::generate(), name: name.clone(), created_at: Timestamp::now() };
        let pool = self.backend.create_workspace_db(&self.control, workspace.id).await?;
        let db = WorkspaceDb::initialise(workspace.id, pool, workspace.created_at).await?;
        if let Err(e) = self.insert_workspace_rows(&workspace, &name_key, owner).await {
            db.close().await;
            self.backend.drop_workspace_db(&self.control, workspace.id).await?;
            return Err(e);
        }
        self.lock_workspaces().insert(workspace.id, db);
        Ok(workspace)
    }

    async fn insert_workspace_rows(
        &self,
        workspace: &Workspace,
        name_key: &str,
        owner: Option<UserId>,
    ) -> Result<(), StoreError> {
        let mut tx = self.control.begin().await.map_err(StoreError::from_sqlx)?;
        sqlx::query("INSERT INTO workspaces (id, name, name_key, created_at) VALUES ($1, $2, $3, $4)")
            .bind(workspace.id.to_string())
            .bind(workspace.name.as_str())
            .bind(name_key)
            .bind(workspace.created_at.to_string())
            .execute(&mut *tx)
            .await
            .map_err(conflict_as(DUPLICATE_NAME))?;
        if let Some(owner) = owner {
            sqlx::query(
                "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(workspace.id.to_string())
            .bind(owner.to_string())
            .bind(Role::Owner.as_str())
            .bind(workspace.created_at.to_string())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?;
        }
        tx.commit().await.map_err(StoreError::from_sqlx)
    }

    /// The workspace with this id, if it exists.
    pub async fn workspace(&self, id: WorkspaceId) -> Result<Option<Workspace>, StoreError> {
        let sql = format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces w WHERE w.id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.control)
            .await
            .map_err(StoreError::from_sqlx)?;
        row.as_ref().map(workspace_from_row).transpose()
    }

    /// All workspaces, oldest first.
    pub async fn list_workspaces(&self) -> Result<Vec<Workspace>, StoreError> {
        let sql = format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces w ORDER BY w.created_at, w.id");
        let rows = sqlx::query(&sql).fetch_all(&self.control).await.map_err(StoreError::from_sqlx)?;
        rows.iter().map(workspace_from_row).collect()
    }

    /// The workspaces `user` belongs to, with their role, by name.
    pub async fn workspaces_of_user(&self, user: UserId) -> Result<Vec<(Workspace, Role)>, StoreError> {
        let sql = format!(
            "SELECT {WORKSPACE_COLUMNS}, m.role FROM workspaces w
             JOIN memberships m ON m.workspace_id = w.id
             WHERE m.user_id = $1 ORDER BY w.name_key"
        );
        let rows = sqlx::query(&sql)
            .bind(user.to_string())
            .fetch_all(&self.control)
            .await
            .map_err(StoreError::from_sqlx)?;
        rows.iter()
            .map(|row| Ok((workspace_from_row(row)?, parsed(row, 3, "memberships.role", Role::parse)?)))
            .collect()
    }

    /// Deletes the workspace, its keys and memberships, then its records database and folder.
    pub async fn delete_workspace(&self, id: WorkspaceId) -> Result<(), StoreError> {
        let deleted = sqlx::query("DELETE FROM workspaces WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.control)
            .await
            .map_err(StoreError::from_sqlx)?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound("workspace"));
        }
        let cached = self.lock_workspaces().remove(&id);
        if let Some(db) = cached {
            db.close().await;
        }
        self.backend.drop_workspace_db(&self.control, id).await
    }

    /// Adds `user` to the workspace; `Conflict` if already a member.
    pub async fn add_member(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        role: Role,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(workspace.to_string())
        .bind(user.to_string())
        .bind(role.as_str())
        .bind(Timestamp::now().to_string())
        .execute(&self.control)
        .await
        .map_err(conflict_as("this user is already a member of the workspace"))?;
        Ok(())
    }

    /// The workspace's members, by email.
    pub async fn members(&self, workspace: WorkspaceId) -> Result<Vec<Member>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, m.role, m.created_at FROM memberships m
             JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 ORDER BY u.email"
        );
        let rows = sqlx::query(&sql)
            .bind(workspace.to_string())
            .fetch_all(&self.control)
            .await
            .map_err(StoreError::from_sqlx)?;
        rows.iter().map(member_from_row).collect()
    }

    /// One member of the workspace, if `user` is one.
    pub async fn member(&self, workspace: WorkspaceId, user: UserId) -> Result<Option<Member>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, m.role, m.created_at FROM memberships m
             JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 AND m.user_id = $2"
        );
        let row = sqlx::query(&sql)
            .bind(workspace.to_string())
            .bind(user.to_string())
            .fetch_optional(&self.control)
            .await
            .map_err(StoreError::from_sqlx)?;
        row.as_ref().map(member_from_row).transpose()
    }

    /// `user`'s role in the workspace, if a member.
    pub async fn member_role(
        &self,
        workspace: WorkspaceId,
        user: UserId,
    ) -> Result<Option<Role>, StoreError> {
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2")
                .bind(workspace.to_string())
                .bind(user.to_string())
                .fetch_optional(&self.control)
                .await
                .map_err(StoreError::from_sqlx)?;
        role.map(|r| crate::decode("memberships.role", Role::parse(&r))).transpose()
    }

    /// How many members the workspace has.
    pub async fn member_count(&self, workspace: WorkspaceId) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE workspace_id = $1")
            .bind(workspace.to_string())
            .fetch_one(&self.control)
            .await
            .map_err(StoreError::from_sqlx)
    }

    /// The workspace's records database, opened on first use. `NotFound` if the workspace
    /// does not exist.
    pub async fn workspace_db(&self, id: WorkspaceId) -> Result<WorkspaceDb, StoreError> {
        if let Some(db) = self.lock_workspaces().get(&id) {
            return Ok(db.clone());
        }
        let _opening = self.opening.lock().await;
        if let Some(db) = self.lock_workspaces().get(&id) {
            return Ok(db.clone());
        }
        if self.workspace(id).await?.is_none() {
            return Err(StoreError::NotFound("workspace"));
        }
        let pool = self.backend.connect_workspace_db(id, false).await?;
        let db = WorkspaceDb::open(id, pool).await?;
        Ok(self.lock_workspaces().entry(id).or_insert(db).clone())
    }
}

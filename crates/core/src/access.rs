//! Who is asking and what they may do in one workspace.

use sb_types::{ApiKeyId, KeyKind, Role, UserId, WorkspaceId};

/// One thing a caller may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read the workspace's data and run queries.
    Read,
    /// Record events and change records.
    Write,
    /// Manage keys, members and settings.
    Admin,
    /// See saved query definitions. Keen gives them to master keys only (a read key gets only
    /// their results); every member sees them, for the dashboard.
    SeeSavedQueries,
    /// Create, change and delete saved queries: master keys and members who may write.
    EditSavedQueries,
}

/// Who is acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Key {
        id: ApiKeyId,
        kind: KeyKind,
    },
    User {
        id: UserId,
        role: Role,
    },
    /// Someone running the admin CLI on the data folder: whoever can read the folder owns it.
    Operator,
    /// A Keen scoped key opened with the master key `master`.
    Scoped {
        master: ApiKeyId,
        read: bool,
        write: bool,
    },
}

/// A caller's rights in exactly one workspace. Only this crate builds one, after checking a
/// key or a session, so holding an `Access` proves the check happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    workspace: WorkspaceId,
    actor: Actor,
    /// Filters ANDed into every query this caller runs (a scoped key's `filters`).
    forced_filters: Vec<serde_json::Value>,
}

impl Access {
    pub(crate) fn new(workspace: WorkspaceId, actor: Actor) -> Access {
        Access { workspace, actor, forced_filters: Vec::new() }
    }

    pub(crate) fn with_forced_filters(mut self, filters: Vec<serde_json::Value>) -> Access {
        self.forced_filters = filters;
        self
    }

    /// Filters every query of this caller must also pass.
    pub fn forced_filters(&self) -> &[serde_json::Value] {
        &self.forced_filters
    }

    /// The one workspace this access is for.
    pub fn workspace(&self) -> WorkspaceId {
        self.workspace
    }

    /// Who is acting.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// How the actor is named in audit fields: a user id, a key id, or "cli".
    pub fn actor_label(&self) -> String {
        match &self.actor {
            Actor::Key { id, .. } => format!("key:{id}"),
            Actor::User { id, .. } => format!("user:{id}"),
            Actor::Operator => "cli".into(),
            Actor::Scoped { master, .. } => format!("scoped:{master}"),
        }
    }

    /// Whether the caller may do `permission`. Master keys, owners and admins may do all;
    /// a write key only writes (as in Keen); a read key only reads; a member reads, writes
    /// and edits saved queries; a viewer reads and sees saved queries.
    pub fn allows(&self, permission: Permission) -> bool {
        use Permission::{EditSavedQueries, Read, SeeSavedQueries, Write};
        match &self.actor {
            Actor::Operator | Actor::Key { kind: KeyKind::Master, .. } => true,
            Actor::Key { kind: KeyKind::Write, .. } => permission == Write,
            Actor::Key { kind: KeyKind::Read, .. } => permission == Read,
            Actor::User { role: Role::Owner | Role::Admin, .. } => true,
            Actor::User { role: Role::Member, .. } => {
                matches!(permission, Read | Write | SeeSavedQueries | EditSavedQueries)
            }
            Actor::User { role: Role::Viewer, .. } => matches!(permission, Read | SeeSavedQueries),
            Actor::Scoped { read, write, .. } => {
                (permission == Read && *read) || (permission == Write && *write)
            }
        }
    }

    /// `Forbidden` unless the caller may do `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), crate::CoreError> {
        if self.allows(permission) {
            Ok(())
        } else {
            Err(crate::CoreError::Forbidden(match permission {
                Permission::Read => "this key or role may not read this workspace",
                Permission::Write => "this key or role may not write to this workspace",
                Permission::Admin => "only a master key, an owner or an admin may do this",
                Permission::SeeSavedQueries => "only a master key or a member may see saved queries",
                Permission::EditSavedQueries => {
                    "only a master key or a member who may write may change saved queries"
                }
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_matrix() {
        let ws = WorkspaceId::generate();
        let key = |kind| Access::new(ws, Actor::Key { id: ApiKeyId::generate(), kind });
        let user = |role| Access::new(ws, Actor::User { id: UserId::generate(), role });
        let scoped = Access::new(ws, Actor::Scoped { master: ApiKeyId::generate(), read: true, write: true });
        // Read, Write, Admin, SeeSavedQueries, EditSavedQueries.
        let cases = [
            (key(KeyKind::Master), [true, true, true, true, true]),
            (key(KeyKind::Write), [false, true, false, false, false]),
            (key(KeyKind::Read), [true, false, false, false, false]),
            (scoped, [true, true, false, false, false]),
            (user(Role::Owner), [true, true, true, true, true]),
            (user(Role::Admin), [true, true, true, true, true]),
            (user(Role::Member), [true, true, false, true, true]),
            (user(Role::Viewer), [true, false, false, true, false]),
        ];
        let permissions = [
            Permission::Read,
            Permission::Write,
            Permission::Admin,
            Permission::SeeSavedQueries,
            Permission::EditSavedQueries,
        ];
        for (access, expected) in cases {
            let got = permissions.map(|p| access.allows(p));
            assert_eq!(got, expected, "{:?}", access.actor());
        }
    }
}

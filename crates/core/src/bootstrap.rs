//! The first start: on a data folder without users, an owner account and a first workspace.

use rand::Rng;
use sb_types::Role;

use crate::{CoreError, CreatedWorkspace, Switchboard};

/// What the first start created, to be printed once.
#[derive(Debug, Clone)]
pub struct FirstStart {
    pub owner_email: String,
    pub owner_password: String,
    /// The workspace created for the owner, unless workspaces existed already (made with the
    /// CLI before the first `serve`), in which case the owner joined those.
    pub workspace: Option<CreatedWorkspace>,
}

/// Name of the workspace made on the first start.
pub const FIRST_WORKSPACE_NAME: &str = "My workspace";

impl Switchboard {
    /// Creates the owner and the first workspace if no user exists yet; `None` otherwise.
    pub async fn first_start(&self, owner_email: &str) -> Result<Option<FirstStart>, CoreError> {
        if !self.store().has_no_users().await? {
            return Ok(None);
        }
        let password = generate_password();
        let owner = self.create_user(owner_email, Some("Owner"), Some(password.clone())).await?;
        let existing = self.store().list_workspaces().await?;
        let workspace = if existing.is_empty() {
            Some(self.create_workspace(FIRST_WORKSPACE_NAME, Some(owner.id)).await?)
        } else {
            for workspace in existing {
                self.store().add_member(workspace.id, owner.id, Role::Owner).await?;
            }
            None
        };
        Ok(Some(FirstStart { owner_email: owner.email.to_string(), owner_password: password, workspace }))
    }
}

/// 20 characters from an alphabet without look-alikes (about 115 bits).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..20).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

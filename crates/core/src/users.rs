//! Users and memberships: creating accounts, setting passwords, adding people to workspaces.

use sb_store::{Member, NewUser, User};
use sb_types::{Email, Role};

use crate::{Access, CoreError, Permission, Switchboard, passwords};

/// Longest display name accepted, in characters.
pub const MAX_USER_NAME: usize = 100;

impl Switchboard {
    /// Creates a user; with a password they can log in. `Conflict` if the email is taken.
    pub async fn create_user(
        &self,
        email: &str,
        name: Option<&str>,
        password: Option<String>,
    ) -> Result<User, CoreError> {
        let email = Email::parse(email)?;
        let name: String = name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| email.as_str().split('@').next().unwrap_or_default())
            .to_owned();
        if name.chars().count() > MAX_USER_NAME || name.chars().any(char::is_control) {
            return Err(CoreError::Invalid(format!(
                "name must be at most {MAX_USER_NAME} characters, without control characters"
            )));
        }
        let password_hash = match password {
            Some(password) => {
                passwords::check_policy(&password)?;
                Some(passwords::hash(password).await?)
            }
            None => None,
        };
        let user = NewUser { email, name: name.to_owned(), password_hash };
        self.store().create_user(user).await.map_err(|e| match e.kind() {
            sb_types::ErrorKind::Conflict => CoreError::Conflict(e.to_string()),
            _ => e.into(),
        })
    }

    /// All users.
    pub async fn list_users(&self) -> Result<Vec<User>, CoreError> {
        Ok(self.store().list_users().await?)
    }

    /// Sets a user's password and ends their sessions.
    pub async fn set_password(&self, email: &str, password: String) -> Result<(), CoreError> {
        let email = Email::parse(email)?;
        passwords::check_policy(&password)?;
        let user = self.store().user_by_email(&email).await?.ok_or(CoreError::NotFound("user"))?;
        let hash = passwords::hash(password).await?;
        Ok(self.store().set_password_hash(user.id, &hash).await?)
    }

    /// Adds an existing user to the caller's workspace. Needs admin rights; only an owner (or
    /// the operator) may make another owner.
    pub async fn add_member(&self, access: &Access, email: &str, role: Role) -> Result<(), CoreError> {
        access.require(Permission::Admin)?;
        let is_owner =
            matches!(access.actor(), crate::Actor::Operator | crate::Actor::User { role: Role::Owner, .. });
        if role == Role::Owner && !is_owner {
            return Err(CoreError::Forbidden("only an owner may add another owner"));
        }
        let email = Email::parse(email)?;
        let user = self.store().user_by_email(&email).await?.ok_or(CoreError::NotFound("user"))?;
        self.store().add_member(access.workspace(), user.id, role).await.map_err(|e| match e.kind() {
            sb_types::ErrorKind::Conflict => CoreError::Conflict(e.to_string()),
            _ => e.into(),
        })
    }

    /// The caller's workspace's members. Anyone with access may see them.
    pub async fn members(&self, access: &Access) -> Result<Vec<Member>, CoreError> {
        access.require(Permission::Read)?;
        Ok(self.store().members(access.workspace()).await?)
    }
}

//! Login sessions: a random token in an HTTP-only cookie, its SHA-256 in the control database.

use std::net::IpAddr;

use rand::RngCore;
use sb_store::User;
use sb_types::{Email, Role, Timestamp, UserId, WorkspaceId};
use sha2::{Digest, Sha256};

use crate::{Access, Actor, CoreError, Switchboard, Workspace, passwords};

/// How long a session lasts after login: 14 days.
pub const SESSION_LIFETIME_SECONDS: i64 = 14 * 24 * 3600;

/// A session just opened: the token goes into the cookie and nowhere else.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub user: User,
    pub expires_at: Timestamp,
}

/// A live session as seen by a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    pub user: User,
    pub expires_at: Timestamp,
    /// The hash that identifies the session without being usable as its cookie: the CSRF
    /// token is bound to it.
    pub binding: String,
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

const WRONG: CoreError = CoreError::Unauthenticated("wrong email or password");

impl Switchboard {
    /// Checks an email and password and opens a session. Failures are counted per account and
    /// per client address; past the limit the answer is `RateLimited`, even for the right
    /// password, until the window passes.
    pub async fn login(
        &self,
        email: &str,
        password: String,
        client: IpAddr,
    ) -> Result<NewSession, CoreError> {
        let limits = &self.inner.login_limits;
        if let Some(wait) = limits.blocked(email, client) {
            return Err(CoreError::RateLimited { retry_after_seconds: wait.as_secs().max(1) });
        }
        let user = match Email::parse(email) {
            Ok(email) => self.store().user_by_email(&email).await?,
            Err(_) => None,
        };
        let stored = user.as_ref().and_then(|u| u.password_hash.clone());
        let matches = passwords::verify(stored, password).await;
        let user = match user {
            Some(user) if matches => user,
            _ => {
                limits.record_failure(email, client);
                tracing::info!(%client, "failed login");
                return Err(WRONG);
            }
        };
        limits.record_success(email);
        let mut raw = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut raw);
        let token = hex::encode(raw);
        let expires_at = Timestamp::now().plus_seconds(SESSION_LIFETIME_SECONDS);
        self.store().insert_session(&token_hash(&token), user.id, expires_at).await?;
        tracing::info!(user = %user.id, "login");
        Ok(NewSession { token, user, expires_at })
    }

    /// The live session for a cookie token, if any.
    pub async fn session(&self, token: &str) -> Result<Option<SessionView>, CoreError> {
        if token.len() != 64 {
            return Ok(None);
        }
        let binding = token_hash(token);
        let record = self.store().live_session(&binding, Timestamp::now()).await?;
        Ok(record.map(|r| SessionView { user: r.user, expires_at: r.expires_at, binding }))
    }

    /// Ends the session for a cookie token.
    pub async fn logout(&self, token: &str) -> Result<(), CoreError> {
        Ok(self.store().delete_session(&token_hash(token)).await?)
    }

    /// Deletes expired sessions; returns how many.
    pub async fn purge_expired_sessions(&self) -> Result<u64, CoreError> {
        Ok(self.store().delete_expired_sessions(Timestamp::now()).await?)
    }

    /// What `user` may do in `workspace`: `NotFound` if the workspace does not exist or the
    /// user is not a member, so non-members cannot tell the two apart.
    pub async fn user_access(&self, user: UserId, workspace: WorkspaceId) -> Result<Access, CoreError> {
        let role =
            self.store().member_role(workspace, user).await?.ok_or(CoreError::NotFound("workspace"))?;
        Ok(Access::new(workspace, Actor::User { id: user, role }))
    }

    /// The workspaces `user` belongs to, by name, with their role.
    pub async fn workspaces_of_user(&self, user: UserId) -> Result<Vec<(Workspace, Role)>, CoreError> {
        Ok(self.store().workspaces_of_user(user).await?)
    }
}

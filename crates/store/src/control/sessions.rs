//! Login sessions: the hash of the cookie's token, the user, and when it stops working.

use sb_types::{Timestamp, UserId};

use super::users::{USER_COLUMNS, User, user_from_row};
use crate::{Store, StoreError, parsed};

/// A live session and its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub user: User,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl Store {
    /// Stores a session for `user` until `expires_at`.
    pub async fn insert_session(
        &self,
        token_hash: &str,
        user: UserId,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user.to_string())
        .bind(Timestamp::now().to_string())
        .bind(expires_at.to_string())
        .execute(&self.control)
        .await
        .map_err(StoreError::from_sqlx)?;
        Ok(())
    }

    /// The session with this token hash, if it exists and has not expired at `now`.
    pub async fn live_session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, s.created_at, s.expires_at FROM sessions s
             JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2"
        );
        let row = sqlx::query(&sql)
            .bind(token_hash)
            .bind(now.to_string())
            .fetch_optional(&self.control)
            .await
            .map_err(StoreError::from_sqlx)?;
        row.map(|row| {
            Ok(SessionRecord {
                user: user_from_row(&row)?,
                created_at: parsed(&row, 5, "sessions.created_at", Timestamp::parse)?,
                expires_at: parsed(&row, 6, "sessions.expires_at", Timestamp::parse)?,
            })
        })
        .transpose()
    }

    /// Ends a session (logging out twice is harmless).
    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.control)
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(())
    }

    /// Deletes sessions expired at `now`; returns how many.
    pub async fn delete_expired_sessions(&self, now: Timestamp) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now.to_string())
            .execute(&self.control)
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(done.rows_affected())
    }
}

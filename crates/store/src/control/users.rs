//! Users: people with a login, shared by all workspaces.

use sb_types::{Email, Timestamp, UserId};
use sqlx::any::AnyRow;

use crate::{Store, StoreError, col, conflict_as, parsed};

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub name: String,
    /// The PHC string of the password hash; `None` means the user cannot log in with a password.
    pub password_hash: Option<String>,
    pub created_at: Timestamp,
}

/// A user to insert.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub name: String,
    pub password_hash: Option<String>,
}

pub(crate) const USER_COLUMNS: &str = "u.id, u.email, u.name, u.password_hash, u.created_at";

pub(crate) fn user_from_row(row: &AnyRow) -> Result<User, StoreError> {
    Ok(User {
        id: parsed(row, 0, "users.id", UserId::parse)?,
        email: parsed(row, 1, "users.email", Email::parse)?,
        name: col(row, 2)?,
        password_hash: col(row, 3)?,
        created_at: parsed(row, 4, "users.created_at", Timestamp::parse)?,
    })
}

impl Store {
    /// Inserts a user; `Conflict` if the email is taken.
    pub async fn create_user(&self, user: NewUser) -> Result<User, StoreError> {
        let now = Timestamp::now();
        let id = UserId::generate();
        sqlx::query(
            "INSERT INTO users (id, email, name, password_hash, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(id.to_string())
        .bind(user.email.as_str())
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(now.to_string())
        .execute(&self.control)
        .await
        .map_err(conflict_as("a user with this email already exists"))?;
        Ok(User {
            id,
            email: user.email,
            name: user.name,
            password_hash: user.password_hash,
            created_at: now,
        })
    }

    /// The user with this email, if any.
    pub async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.email = $1");
        let row = sqlx::query(&sql)
            .bind(email.as_str())
            .fetch_optional(&self.control)
            .await
            .map_err(StoreError::from_sqlx)?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// All users, by email.
    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.email");
        let rows = sqlx::query(&sql).fetch_all(&self.control).await.map_err(StoreError::from_sqlx)?;
        rows.iter().map(user_from_row).collect()
    }

    /// Replaces a user's password hash and ends all of their sessions, in one transaction.
    pub async fn set_password_hash(&self, id: UserId, hash: &str) -> Result<(), StoreError> {
        let mut tx = self.control.begin().await.map_err(StoreError::from_sqlx)?;
        let updated = sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(hash)
            .bind(Timestamp::now().to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound("user"));
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?;
        tx.commit().await.map_err(StoreError::from_sqlx)
    }

    /// Whether no user exists yet: the server's first start.
    pub async fn has_no_users(&self) -> Result<bool, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.control)
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(count == 0)
    }
}

//! Where the IMAP poller got to in each mailbox it reads, kept in the control database
//! because one mailbox holds replies for many workspaces.

use sb_types::Timestamp;

use crate::{Store, StoreError, col};

/// A mailbox's UIDVALIDITY and the highest UID already taken in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImapCursorRecord {
    pub uid_validity: u32,
    pub last_uid: u32,
}

impl Store {
    /// The cursor of `mailbox` (a name that includes the server and user), if it was read before.
    pub async fn imap_cursor(&self, mailbox: &str) -> Result<Option<ImapCursorRecord>, StoreError> {
        let row = sqlx::query("SELECT uid_validity, last_uid FROM imap_cursors WHERE mailbox = $1")
            .bind(mailbox)
            .fetch_optional(&self.control)
            .await
            .map_err(StoreError::from_sqlx)?;
        row.map(|row| {
            let number = |i| col::<i64>(&row, i).map(|n| u32::try_from(n).unwrap_or(0));
            Ok(ImapCursorRecord { uid_validity: number(0)?, last_uid: number(1)? })
        })
        .transpose()
    }

    /// Moves the cursor of `mailbox` to `cursor`.
    pub async fn put_imap_cursor(&self, mailbox: &str, cursor: ImapCursorRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO imap_cursors (mailbox, uid_validity, last_uid, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (mailbox) DO UPDATE SET uid_validity = $2, last_uid = $3, updated_at = $4",
        )
        .bind(mailbox)
        .bind(i64::from(cursor.uid_validity))
        .bind(i64::from(cursor.last_uid))
        .bind(Timestamp::now().to_string())
        .execute(&self.control)
        .await
        .map_err(StoreError::from_sqlx)?;
        Ok(())
    }
}

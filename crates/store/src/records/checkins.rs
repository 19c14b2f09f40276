//! Daily check-ins in a workspace's records database: the schedule, members' own settings,
//! entries with their tags, likes and comments.

use sb_types::{CheckinCommentId, CheckinEntryId, InboundId, Timestamp, UserId};
use sqlx::any::AnyRow;

use crate::records::WriteTransaction;
use crate::{StoreError, WorkspaceDb, col, decode, parsed, parsed_opt};

/// The workspace's schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckinSettingsRecord {
    pub enabled: bool,
    pub question: String,
    /// `HH:MM`, local.
    pub prompt_time: String,
    pub digest_time: String,
    pub reminder_time: Option<String>,
    /// IANA name.
    pub timezone: String,
    /// ISO weekdays as digits, e.g. `12345`.
    pub workdays: String,
    /// `YYYY-MM-DD` dates.
    pub holidays: Vec<String>,
    pub version: i64,
    pub updated_at: Timestamp,
}

/// A member's own settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckinMemberRecord {
    pub user_id: UserId,
    pub timezone: Option<String>,
    pub vacation_from: Option<String>,
    pub vacation_until: Option<String>,
    /// Whether the member is asked each workday (false: reads the digest only).
    pub prompts: bool,
    /// Whether the member gets the morning digest.
    pub digest: bool,
    pub updated_at: Timestamp,
}

/// An entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRecord {
    pub id: CheckinEntryId,
    pub user_id: UserId,
    /// `YYYY-MM-DD`.
    pub entry_date: String,
    /// `done`, `goal` or `blocker`.
    pub kind: String,
    /// For goals: whether it is done.
    pub completed: bool,
    pub text: String,
    pub tags: Vec<String>,
    pub mentions: Vec<String>,
    /// `email`, `api` or `web`.
    pub source: String,
    pub inbound_id: Option<InboundId>,
    pub position: i64,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Which entries to list: all filters optional, dates inclusive, in (date, member, position)
/// order from after `after`.
#[derive(Debug, Clone, Default)]
pub struct EntryQuery {
    pub user: Option<UserId>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub tag: Option<String>,
    /// The last entry of the previous page.
    pub after: Option<(String, String, i64, String)>,
    /// Newest day first when true.
    pub newest_first: bool,
    pub limit: i64,
}

/// A like or comment on an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryCommentRecord {
    pub id: CheckinCommentId,
    pub entry_id: CheckinEntryId,
    pub user_id: UserId,
    pub text: String,
    pub created_at: Timestamp,
}

const ENTRY_COLUMNS: &str = "id, user_id, entry_date, kind, completed, text, tags, mentions, source, inbound_id, \
     position, version, created_at, updated_at";

fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

fn entry_from_row(row: &AnyRow) -> Result<EntryRecord, StoreError> {
    Ok(EntryRecord {
        id: parsed(row, 0, "checkin_entries.id", CheckinEntryId::parse)?,
        user_id: parsed(row, 1, "checkin_entries.user_id", UserId::parse)?,
        entry_date: col(row, 2)?,
        kind: col(row, 3)?,
        completed: col::<i64>(row, 4)? != 0,
        text: col(row, 5)?,
        tags: words(&col::<String>(row, 6)?),
        mentions: words(&col::<String>(row, 7)?),
        source: col(row, 8)?,
        inbound_id: parsed_opt(row, 9, "checkin_entries.inbound_id", InboundId::parse)?,
        position: col(row, 10)?,
        version: col(row, 11)?,
        created_at: parsed(row, 12, "checkin_entries.created_at", Timestamp::parse)?,
        updated_at: parsed(row, 13, "checkin_entries.updated_at", Timestamp::parse)?,
    })
}

fn member_from_row(row: &AnyRow) -> Result<CheckinMemberRecord, StoreError> {
    Ok(CheckinMemberRecord {
        user_id: parsed(row, 0, "checkin_members.user_id", UserId::parse)?,
        timezone: col(row, 1)?,
        vacation_from: col(row, 2)?,
        vacation_until: col(row, 3)?,
        prompts: col::<i64>(row, 4)? != 0,
        digest: col::<i64>(row, 5)? != 0,
        updated_at: parsed(row, 6, "checkin_members.updated_at", Timestamp::parse)?,
    })
}

/// Inserts `entries` (and their tags) inside `tx`, each after the member's last entry of its
/// day.
pub(super) async fn insert_entries(
    tx: &mut WriteTransaction,
    entries: &[EntryRecord],
) -> Result<Vec<EntryRecord>, StoreError> {
    let mut stored = Vec::with_capacity(entries.len());
    for entry in entries {
        let last: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(position) FROM checkin_entries WHERE user_id = $1 AND entry_date = $2",
        )
        .bind(entry.user_id.to_string())
        .bind(&entry.entry_date)
        .fetch_one(&mut **tx)
        .await
        .map_err(StoreError::from_sqlx)?;
        let entry = EntryRecord { position: last.map_or(0, |p| p + 1), ..entry.clone() };
        sqlx::query(&format!(
            "INSERT INTO checkin_entries ({ENTRY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .bind(entry.id.to_string())
        .bind(entry.user_id.to_string())
        .bind(&entry.entry_date)
        .bind(&entry.kind)
        .bind(i64::from(entry.completed))
        .bind(&entry.text)
        .bind(entry.tags.join(" "))
        .bind(entry.mentions.join(" "))
        .bind(&entry.source)
        .bind(entry.inbound_id.map(|id| id.to_string()))
        .bind(entry.position)
        .bind(entry.version)
        .bind(entry.created_at.to_string())
        .bind(entry.updated_at.to_string())
        .execute(&mut **tx)
        .await
        .map_err(StoreError::from_sqlx)?;
        put_tags(tx, &entry).await?;
        stored.push(entry);
    }
    Ok(stored)
}

async fn put_tags(tx: &mut WriteTransaction, entry: &EntryRecord) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM checkin_entry_tags WHERE entry_id = $1")
        .bind(entry.id.to_string())
        .execute(&mut **tx)
        .await
        .map_err(StoreError::from_sqlx)?;
    for tag in &entry.tags {
        sqlx::query("INSERT INTO checkin_entry_tags (tag, entry_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(tag)
            .bind(entry.id.to_string())
            .execute(&mut **tx)
            .await
            .map_err(StoreError::from_sqlx)?;
    }
    Ok(())
}

impl WorkspaceDb {
    /// The schedule.
    pub async fn checkin_settings(&self) -> Result<CheckinSettingsRecord, StoreError> {
        let row = sqlx::query(
            "SELECT enabled, question, prompt_time, digest_time, reminder_time, timezone, workdays, holidays,
                 version, updated_at FROM checkin_settings WHERE id = 1",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        let holidays: String = col(&row, 7)?;
        Ok(CheckinSettingsRecord {
            enabled: col::<i64>(&row, 0)? != 0,
            question: col(&row, 1)?,
            prompt_time: col(&row, 2)?,
            digest_time: col(&row, 3)?,
            reminder_time: col(&row, 4)?,
            timezone: col(&row, 5)?,
            workdays: col(&row, 6)?,
            holidays: decode("checkin_settings.holidays", serde_json::from_str(&holidays))?,
            version: col(&row, 8)?,
            updated_at: parsed(&row, 9, "checkin_settings.updated_at", Timestamp::parse)?,
        })
    }

    /// Replaces the schedule if it is still at `settings.version`; `Conflict` otherwise. The
    /// stored version is one more.
    pub async fn put_checkin_settings(&self, settings: &CheckinSettingsRecord) -> Result<(), StoreError> {
        let done = self.write_one(sqlx::query(
            "UPDATE checkin_settings SET enabled = $1, question = $2, prompt_time = $3, digest_time = $4,
                 reminder_time = $5, timezone = $6, workdays = $7, holidays = $8, version = version + 1,
                 updated_at = $9
             WHERE id = 1 AND version = $10",
        )
        .bind(i64::from(settings.enabled))
        .bind(&settings.question)
        .bind(&settings.prompt_time)
        .bind(&settings.digest_time)
        .bind(&settings.reminder_time)
        .bind(&settings.timezone)
        .bind(&settings.workdays)
        .bind(serde_json::Value::from(settings.holidays.clone()).to_string())
        .bind(settings.updated_at.to_string())
        .bind(settings.version)
        )
        .await
        .map_err(StoreError::from_sqlx)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict("the schedule was changed meanwhile; reload it".into()));
        }
        Ok(())
    }

    /// Every member's own settings.
    pub async fn checkin_members(&self) -> Result<Vec<CheckinMemberRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT user_id, timezone, vacation_from, vacation_until, prompts, digest, updated_at
             FROM checkin_members ORDER BY user_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.iter().map(member_from_row).collect()
    }

    /// Stores a member's own settings.
    pub async fn put_checkin_member(&self, member: &CheckinMemberRecord) -> Result<(), StoreError> {
        self.write_one(sqlx::query(
            "INSERT INTO checkin_members (user_id, timezone, vacation_from, vacation_until, prompts, digest, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (user_id) DO UPDATE SET timezone = $2, vacation_from = $3, vacation_until = $4,
                 prompts = $5, digest = $6, updated_at = $7",
        )
        .bind(member.user_id.to_string())
        .bind(&member.timezone)
        .bind(&member.vacation_from)
        .bind(&member.vacation_until)
        .bind(i64::from(member.prompts))
        .bind(i64::from(member.digest))
        .bind(member.updated_at.to_string())
        )
        .await
        .map_err(StoreError::from_sqlx)?;
        Ok(())
    }

    /// Stores entries made outside a reply (the API, the web page).
    pub async fn insert_checkin_entries(
        &self,
        entries: &[EntryRecord],
    ) -> Result<Vec<EntryRecord>, StoreError> {
        let mut tx = self.begin().await?;
        let stored = insert_entries(&mut tx, entries).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        Ok(stored)
    }

    /// The entry `id`.
    pub async fn checkin_entry(&self, id: CheckinEntryId) -> Result<Option<EntryRecord>, StoreError> {
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM checkin_entries WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        row.as_ref().map(entry_from_row).transpose()
    }

    /// Entries matching `query`.
    pub async fn checkin_entries(&self, query: &EntryQuery) -> Result<Vec<EntryRecord>, StoreError> {
        let (cmp, order) = if query.newest_first { ("<", "DESC") } else { (">", "ASC") };
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM checkin_entries e
             WHERE ($1 = '' OR e.user_id = $1) AND ($2 = '' OR e.entry_date >= $2) AND ($3 = '' OR e.entry_date <= $3)
             AND ($4 = '' OR EXISTS (SELECT 1 FROM checkin_entry_tags t WHERE t.tag = $4 AND t.entry_id = e.id))
             AND ($5 = '' OR e.entry_date {cmp} $5 OR (e.entry_date = $5 AND (e.user_id > $6
                 OR (e.user_id = $6 AND (e.position > $7 OR (e.position = $7 AND e.id > $8))))))
             ORDER BY e.entry_date {order}, e.user_id, e.position, e.id LIMIT $9"
        );
        let (after_date, after_user, after_position, after_id) = query.after.clone().unwrap_or_default();
        let rows = sqlx::query(&sql)
            .bind(query.user.map(|u| u.to_string()).unwrap_or_default())
            .bind(query.from.clone().unwrap_or_default())
            .bind(query.to.clone().unwrap_or_default())
            .bind(query.tag.clone().unwrap_or_default())
            .bind(after_date)
            .bind(after_user)
            .bind(after_position)
            .bind(after_id)
            .bind(query.limit)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Replaces the text, kind and completion of `entry` if it is still at `entry.version`;
    /// `Conflict` if it moved on, `NotFound` if it is gone.
    pub async fn update_checkin_entry(&self, entry: &EntryRecord) -> Result<EntryRecord, StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE checkin_entries SET kind = $1, completed = $2, text = $3, tags = $4, mentions = $5,
                 entry_date = $6, version = version + 1, updated_at = $7
             WHERE id = $8 AND version = $9",
        )
        .bind(&entry.kind)
        .bind(i64::from(entry.completed))
        .bind(&entry.text)
        .bind(entry.tags.join(" "))
        .bind(entry.mentions.join(" "))
        .bind(&entry.entry_date)
        .bind(entry.updated_at.to_string())
        .bind(entry.id.to_string())
        .bind(entry.version)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?;
        if done.rows_affected() == 0 {
            let exists: Option<i64> = sqlx::query_scalar("SELECT version FROM checkin_entries WHERE id = $1")
                .bind(entry.id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
            tx.rollback().await.map_err(StoreError::from_sqlx)?;
            return Err(match exists {
                Some(_) => StoreError::Conflict("the entry was changed meanwhile; reload it".into()),
                None => StoreError::NotFound("entry"),
            });
        }
        let stored = EntryRecord { version: entry.version + 1, ..entry.clone() };
        put_tags(&mut tx, &stored).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        Ok(stored)
    }

    /// Deletes the entry `id` with its tags, likes and comments.
    pub async fn delete_checkin_entry(&self, id: CheckinEntryId) -> Result<(), StoreError> {
        let done = self
            .write_one(sqlx::query("DELETE FROM checkin_entries WHERE id = $1").bind(id.to_string()))
            .await
            .map_err(StoreError::from_sqlx)?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound("entry")) } else { Ok(()) }
    }

    /// Records that `user` likes `entry` (true) or no longer does (false).
    pub async fn set_entry_like(
        &self,
        entry: CheckinEntryId,
        user: UserId,
        like: bool,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let done = if like {
            self.write_one(sqlx::query(
                "INSERT INTO checkin_likes (entry_id, user_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(entry.to_string())
            .bind(user.to_string())
            .bind(now.to_string())
            )
            .await
        } else {
            self.write_one(
                sqlx::query("DELETE FROM checkin_likes WHERE entry_id = $1 AND user_id = $2")
                    .bind(entry.to_string())
                    .bind(user.to_string()),
            )
            .await
        };
        done.map_err(StoreError::from_sqlx)?;
        Ok(())
    }

    /// Who likes each of `entries`.
    pub async fn entry_likes(
        &self,
        entries: &[CheckinEntryId],
    ) -> Result<Vec<(CheckinEntryId, UserId)>, StoreError> {
        let mut likes = Vec::new();
        for chunk in entries.chunks(200) {
            let ids: Vec<String> = chunk.iter().map(ToString::to_string).collect();
            let placeholders = (1..=ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "SELECT entry_id, user_id FROM checkin_likes WHERE entry_id IN ({placeholders})
                 ORDER BY created_at, user_id"
            );
            let mut query = sqlx::query(&sql);
            for id in &ids {
                query = query.bind(id);
            }
            for row in query.fetch_all(&self.pool).await.map_err(StoreError::from_sqlx)? {
                likes.push((
                    parsed(&row, 0, "checkin_likes.entry_id", CheckinEntryId::parse)?,
                    parsed(&row, 1, "checkin_likes.user_id", UserId::parse)?,
                ));
            }
        }
        Ok(likes)
    }

    /// Adds a comment to an entry; `NotFound` if the entry is gone.
    pub async fn insert_entry_comment(&self, comment: &EntryCommentRecord) -> Result<(), StoreError> {
        let done = self
            .write_one(
                sqlx::query(
                    "INSERT INTO checkin_comments (id, entry_id, user_id, text, created_at)
             SELECT $1, id, $3, $4, $5 FROM checkin_entries WHERE id = $2",
                )
                .bind(comment.id.to_string())
                .bind(comment.entry_id.to_string())
                .bind(comment.user_id.to_string())
                .bind(&comment.text)
                .bind(comment.created_at.to_string()),
            )
            .await
            .map_err(StoreError::from_sqlx)?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound("entry")) } else { Ok(()) }
    }

    /// The comments on each of `entries`, oldest first.
    pub async fn entry_comments(
        &self,
        entries: &[CheckinEntryId],
    ) -> Result<Vec<EntryCommentRecord>, StoreError> {
        let mut comments = Vec::new();
        for chunk in entries.chunks(200) {
            let ids: Vec<String> = chunk.iter().map(ToString::to_string).collect();
            let placeholders = (1..=ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "SELECT id, entry_id, user_id, text, created_at FROM checkin_comments
                 WHERE entry_id IN ({placeholders}) ORDER BY created_at, id"
            );
            let mut query = sqlx::query(&sql);
            for id in &ids {
                query = query.bind(id);
            }
            for row in query.fetch_all(&self.pool).await.map_err(StoreError::from_sqlx)? {
                comments.push(EntryCommentRecord {
                    id: parsed(&row, 0, "checkin_comments.id", CheckinCommentId::parse)?,
                    entry_id: parsed(&row, 1, "checkin_comments.entry_id", CheckinEntryId::parse)?,
                    user_id: parsed(&row, 2, "checkin_comments.user_id", UserId::parse)?,
                    text: col(&row, 3)?,
                    created_at: parsed(&row, 4, "checkin_comments.created_at", Timestamp::parse)?,
                });
            }
        }
        Ok(comments)
    }

    /// The members with at least one entry on `date`.
    pub async fn members_with_entries(&self, date: &str) -> Result<Vec<UserId>, StoreError> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT user_id FROM checkin_entries WHERE entry_date = $1")
                .bind(date)
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::from_sqlx)?;
        rows.iter().map(|id| decode("checkin_entries.user_id", UserId::parse(id))).collect()
    }

    /// The tags in use with how many entries carry each, most used first.
    pub async fn checkin_tags(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT tag, COUNT(*) AS n FROM checkin_entry_tags GROUP BY tag ORDER BY n DESC, tag",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.iter().map(|row| Ok((col(row, 0)?, col(row, 1)?))).collect()
    }
}

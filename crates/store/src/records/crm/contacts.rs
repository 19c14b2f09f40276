//! Contacts and organizations: created, read, listed by name or last update with keyset
//! pagination, updated under optimistic concurrency, deleted; a contact's email addresses and
//! an organization's domains unique in the workspace; the links between them, made by hand or
//! by an address at one of an organization's domains, kept in step with both in the same
//! transaction as the change.

use sb_types::{ContactId, Domain, Email, OrganizationId, Timestamp};
use sqlx::any::AnyRow;

use super::pipelines::stale;
use super::{NewOutboxEntry, require_row, write_outbox};
use crate::records::WriteTransaction;
use crate::{StoreError, WorkspaceDb, col, decode, parsed};

/// A person the team deals with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRecord {
    pub id: ContactId,
    pub name: String,
    /// In the order given; each one belongs to this contact only.
    pub emails: Vec<Email>,
    /// A JSON array.
    pub phones: String,
    /// A JSON array.
    pub addresses: String,
    pub title: String,
    /// A JSON object.
    pub custom: String,
    /// 1 when created, one more on every change.
    pub version: i64,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A company or other body contacts belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationRecord {
    pub id: OrganizationId,
    pub name: String,
    /// In the order given; each one belongs to this organization only.
    pub domains: Vec<Domain>,
    /// A JSON object.
    pub custom: String,
    pub version: i64,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A contact's link to an organization, and why it exists (both reasons may hold).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactLink {
    pub contact: ContactId,
    pub organization: OrganizationId,
    /// Made by hand.
    pub manual: bool,
    /// One of the contact's addresses is at one of the organization's domains.
    pub by_domain: bool,
}

/// The order of a list of contacts or organizations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListSort {
    /// Most recently updated first, then by id descending.
    Updated,
    /// By name, then by id.
    Name,
}

/// Which contacts or organizations to list: one page, after the row `after` = (its sort key,
/// that is its `updated_at` text or its name, and its id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Only rows updated at or after this instant.
    pub updated_since: Option<Timestamp>,
    pub sort: ListSort,
    pub after: Option<(String, String)>,
    pub limit: i64,
}

pub(super) const CONTACT_COLUMNS: &str =
    "id, name, emails, phones, addresses, title, custom, version, created_by, created_at, updated_at";
pub(super) const ORGANIZATION_COLUMNS: &str =
    "id, name, domains, custom, version, created_by, created_at, updated_at";

const MANUAL: &str = "manual";
const BY_DOMAIN: &str = "domain";

fn joined<T: std::fmt::Display>(values: &[T]) -> String {
    values.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
}

pub(super) fn contact_from_row(row: &AnyRow) -> Result<ContactRecord, StoreError> {
    let emails: String = col(row, 2)?;
    Ok(ContactRecord {
        id: parsed(row, 0, "crm_contacts.id", ContactId::parse)?,
        name: col(row, 1)?,
        emails: emails
            .split_whitespace()
            .map(|email| decode("crm_contacts.emails", Email::parse(email)))
            .collect::<Result<_, _>>()?,
        phones: col(row, 3)?,
        addresses: col(row, 4)?,
        title: col(row, 5)?,
        custom: col(row, 6)?,
        version: col(row, 7)?,
        created_by: col(row, 8)?,
        created_at: parsed(row, 9, "crm_contacts.created_at", Timestamp::parse)?,
        updated_at: parsed(row, 10, "crm_contacts.updated_at", Timestamp::parse)?,
    })
}

pub(super) fn organization_from_row(row: &AnyRow) -> Result<OrganizationRecord, StoreError> {
    let domains: String = col(row, 2)?;
    Ok(OrganizationRecord {
        id: parsed(row, 0, "crm_organizations.id", OrganizationId::parse)?,
        name: col(row, 1)?,
        domains: domains
            .split_whitespace()
            .map(|domain| decode("crm_organizations.domains", Domain::parse(domain)))
            .collect::<Result<_, _>>()?,
        custom: col(row, 3)?,
        version: col(row, 4)?,
        created_by: col(row, 5)?,
        created_at: parsed(row, 6, "crm_organizations.created_at", Timestamp::parse)?,
        updated_at: parsed(row, 7, "crm_organizations.updated_at", Timestamp::parse)?,
    })
}

/// Runs `sql` with `binds` in order.
async fn execute(tx: &mut WriteTransaction, sql: &str, binds: &[&str]) -> Result<u64, sqlx::Error> {
    let mut statement = sqlx::query(sql);
    for value in binds {
        statement = statement.bind(*value);
    }
    Ok(statement.execute(&mut **tx).await?.rows_affected())
}

/// Replaces the contact's addresses, then its domain links: `Conflict` naming the first address
/// another contact has.
async fn put_emails(tx: &mut WriteTransaction, contact: &ContactRecord) -> Result<(), StoreError> {
    let id = contact.id.to_string();
    execute(tx, "DELETE FROM crm_contact_emails WHERE contact_id = $1", &[&id])
        .await
        .map_err(StoreError::from_sqlx)?;
    for email in &contact.emails {
        let inserted = execute(
            tx,
            "INSERT INTO crm_contact_emails (email, domain, contact_id) VALUES ($1, $2, $3)",
            &[email.as_str(), email.domain(), &id],
        )
        .await;
        if let Err(error) = inserted {
            return Err(match crate::is_unique_violation(&error) {
                true => StoreError::Conflict(format!("the email address {email} belongs to another contact")),
                false => StoreError::from_sqlx(error),
            });
        }
    }
    relink_by_domain(tx, Side::Contact, &id).await
}

/// Replaces the organization's domains, then its domain links: `Conflict` naming the first
/// domain another organization has.
async fn put_domains(tx: &mut WriteTransaction, organization: &OrganizationRecord) -> Result<(), StoreError> {
    let id = organization.id.to_string();
    execute(tx, "DELETE FROM crm_organization_domains WHERE organization_id = $1", &[&id])
        .await
        .map_err(StoreError::from_sqlx)?;
    for domain in &organization.domains {
        let inserted = execute(
            tx,
            "INSERT INTO crm_organization_domains (domain, organization_id) VALUES ($1, $2)",
            &[domain.as_str(), &id],
        )
        .await;
        if let Err(error) = inserted {
            return Err(match crate::is_unique_violation(&error) {
                true => StoreError::Conflict(format!("the domain {domain} belongs to another organization")),
                false => StoreError::from_sqlx(error),
            });
        }
    }
    relink_by_domain(tx, Side::Organization, &id).await
}

/// Which side of the domain links a change touched.
#[derive(Clone, Copy)]
enum Side {
    Contact,
    Organization,
}

/// Recomputes the domain links of the contact or organization `id`: one for each of the
/// contact's addresses at one of an organization's domains.
async fn relink_by_domain(tx: &mut WriteTransaction, side: Side, id: &str) -> Result<(), StoreError> {
    let (column, matched) = match side {
        Side::Contact => ("contact_id", "e.contact_id"),
        Side::Organization => ("organization_id", "d.organization_id"),
    };
    let delete = format!("DELETE FROM crm_contact_organizations WHERE {column} = $1 AND source = $2");
    execute(tx, &delete, &[id, BY_DOMAIN]).await.map_err(StoreError::from_sqlx)?;
    let insert = format!(
        "INSERT INTO crm_contact_organizations (contact_id, organization_id, source)
         SELECT DISTINCT e.contact_id, d.organization_id, CAST($2 AS TEXT)
         FROM crm_contact_emails e JOIN crm_organization_domains d ON d.domain = e.domain
         WHERE {matched} = $1"
    );
    execute(tx, &insert, &[id, BY_DOMAIN]).await.map_err(StoreError::from_sqlx)?;
    Ok(())
}

/// One page of `table`'s rows as `query` asks.
fn list_sql(columns: &str, table: &str, query: &ListQuery) -> (String, Vec<String>) {
    let mut binds = Vec::new();
    let mut sql = format!("SELECT {columns} FROM {table} WHERE 1 = 1");
    if let Some(since) = query.updated_since {
        binds.push(since.to_string());
        sql.push_str(&format!(" AND updated_at >= ${}", binds.len()));
    }
    let (column, order, past) = match query.sort {
        ListSort::Updated => ("updated_at", "updated_at DESC, id DESC", "<"),
        ListSort::Name => ("name", "name, id", ">"),
    };
    if let Some((key, id)) = &query.after {
        binds.push(key.clone());
        binds.push(id.clone());
        sql.push_str(&format!(" AND ({column}, id) {past} (${}, ${})", binds.len() - 1, binds.len()));
    }
    sql.push_str(&format!(" ORDER BY {order} LIMIT {}", query.limit.max(0)));
    (sql, binds)
}

impl WorkspaceDb {
    /// Stores a new contact with its addresses and domain links, and writes `outbox`, in one
    /// transaction. `Conflict` if an address belongs to another contact.
    pub async fn insert_contact(
        &self,
        contact: &ContactRecord,
        outbox: &[NewOutboxEntry],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO crm_contacts (id, name, emails, phones, addresses, title, custom, version,
                 created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(contact.id.to_string())
        .bind(&contact.name)
        .bind(joined(&contact.emails))
        .bind(&contact.phones)
        .bind(&contact.addresses)
        .bind(&contact.title)
        .bind(&contact.custom)
        .bind(contact.version)
        .bind(&contact.created_by)
        .bind(contact.created_at.to_string())
        .bind(contact.updated_at.to_string())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?;
        put_emails(&mut tx, contact).await?;
        write_outbox(&mut tx, outbox, contact.updated_at).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)
    }

    /// The contact `id`, if it exists.
    pub async fn contact(&self, id: ContactId) -> Result<Option<ContactRecord>, StoreError> {
        let sql = format!("SELECT {CONTACT_COLUMNS} FROM crm_contacts WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        row.as_ref().map(contact_from_row).transpose()
    }

    /// The contact that has the address `email`, if any.
    pub async fn contact_by_email(&self, email: &Email) -> Result<Option<ContactRecord>, StoreError> {
        let sql = format!(
            "SELECT {CONTACT_COLUMNS} FROM crm_contacts
             WHERE id = (SELECT contact_id FROM crm_contact_emails WHERE email = $1)"
        );
        let row = sqlx::query(&sql)
            .bind(email.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        row.as_ref().map(contact_from_row).transpose()
    }

    /// One page of contacts.
    pub async fn contacts(&self, query: &ListQuery) -> Result<Vec<ContactRecord>, StoreError> {
        let (sql, binds) = list_sql(CONTACT_COLUMNS, "crm_contacts", query);
        let mut statement = sqlx::query(&sql);
        for value in &binds {
            statement = statement.bind(value);
        }
        let rows = statement.fetch_all(&self.pool).await.map_err(StoreError::from_sqlx)?;
        rows.iter().map(contact_from_row).collect()
    }

    /// Replaces the contact `contact.id`, if it is still at `expected_version`, with `contact`
    /// (its addresses and domain links too), and writes `outbox`. `NotFound` if it does not
    /// exist, `Conflict` if it is at another version or an address belongs to another contact;
    /// either way nothing changes.
    pub async fn update_contact(
        &self,
        contact: &ContactRecord,
        expected_version: i64,
        outbox: &[NewOutboxEntry],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let updated = sqlx::query(
            "UPDATE crm_contacts SET name = $1, emails = $2, phones = $3, addresses = $4, title = $5,
                 custom = $6, version = $7, updated_at = $8
             WHERE id = $9 AND version = $10",
        )
        .bind(&contact.name)
        .bind(joined(&contact.emails))
        .bind(&contact.phones)
        .bind(&contact.addresses)
        .bind(&contact.title)
        .bind(&contact.custom)
        .bind(contact.version)
        .bind(contact.updated_at.to_string())
        .bind(contact.id.to_string())
        .bind(expected_version)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?;
        if updated.rows_affected() == 0 {
            return Err(
                stale(&mut tx, "crm_contacts", "contact", &contact.id.to_string(), expected_version).await
            );
        }
        put_emails(&mut tx, contact).await?;
        write_outbox(&mut tx, outbox, contact.updated_at).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)
    }

    /// Deletes the contact `id` with its addresses and links, and writes `outbox`. `NotFound`
    /// if it does not exist.
    pub async fn delete_contact(
        &self,
        id: ContactId,
        outbox: &[NewOutboxEntry],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.delete_row("crm_contacts", "contact", &id.to_string(), outbox, now).await
    }

    /// Stores a new organization with its domains, links the contacts with an address at one
    /// of them, and writes `outbox`, in one transaction. `Conflict` if a domain belongs to
    /// another organization.
    pub async fn insert_organization(
        &self,
        organization: &OrganizationRecord,
        outbox: &[NewOutboxEntry],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO crm_organizations (id, name, domains, custom, version, created_by, created_at,
                 updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(organization.id.to_string())
        .bind(&organization.name)
        .bind(joined(&organization.domains))
        .bind(&organization.custom)
        .bind(organization.version)
        .bind(&organization.created_by)
        .bind(organization.created_at.to_string())
        .bind(organization.updated_at.to_string())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?;
        put_domains(&mut tx, organization).await?;
        write_outbox(&mut tx, outbox, organization.updated_at).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)
    }

    /// The organization `id`, if it exists.
    pub async fn organization(&self, id: OrganizationId) -> Result<Option<OrganizationRecord>, StoreError> {
        let sql = format!("SELECT {ORGANIZATION_COLUMNS} FROM crm_organizations WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        row.as_ref().map(organization_from_row).transpose()
    }

    /// One page of organizations.
    pub async fn organizations(&self, query: &ListQuery) -> Result<Vec<OrganizationRecord>, StoreError> {
        let (sql, binds) = list_sql(ORGANIZATION_COLUMNS, "crm_organizations", query);
        let mut statement = sqlx::query(&sql);
        for value in &binds {
            statement = statement.bind(value);
        }
        let rows = statement.fetch_all(&self.pool).await.map_err(StoreError::from_sqlx)?;
        rows.iter().map(organization_from_row).collect()
    }

    /// Replaces the organization `organization.id`, if it is still at `expected_version`, with
    /// `organization` (its domains and domain links too), and writes `outbox`. `NotFound` if it
    /// does not exist, `Conflict` if it is at another version or a domain belongs to another
    /// organization; either way nothing changes.
    pub async fn update_organization(
        &self,
        organization: &OrganizationRecord,
        expected_version: i64,
        outbox: &[NewOutboxEntry],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let updated = sqlx::query(
            "UPDATE crm_organizations SET name = $1, domains = $2, custom = $3, version = $4,
                 updated_at = $5
             WHERE id = $6 AND version = $7",
        )
        .bind(&organization.name)
        .bind(joined(&organization.domains))
        .bind(&organization.custom)
        .bind(organization.version)
        .bind(organization.updated_at.to_string())
        .bind(organization.id.to_string())
        .bind(expected_version)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?;
        if updated.rows_affected() == 0 {
            let id = organization.id.to_string();
            return Err(stale(&mut tx, "crm_organizations", "organization", &id, expected_version).await);
        }
        put_domains(&mut tx, organization).await?;
        write_outbox(&mut tx, outbox, organization.updated_at).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)
    }

    /// Deletes the organization `id` with its domains and links, and writes `outbox`.
    /// `NotFound` if it does not exist.
    pub async fn delete_organization(
        &self,
        id: OrganizationId,
        outbox: &[NewOutboxEntry],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.delete_row("crm_organizations", "organization", &id.to_string(), outbox, now).await
    }

    /// Links `contact` to `organization` by hand (linking twice changes nothing), and writes
    /// `outbox`. `NotFound` if either does not exist.
    pub async fn link_contact(
        &self,
        contact: ContactId,
        organization: OrganizationId,
        outbox: &[NewOutboxEntry],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let (contact, organization) = (contact.to_string(), organization.to_string());
        execute(
            &mut tx,
            "DELETE FROM crm_contact_organizations WHERE contact_id = $1 AND organization_id = $2
                 AND source = $3",
            &[&contact, &organization, MANUAL],
        )
        .await
        .map_err(StoreError::from_sqlx)?;
        require_row(&mut tx, "crm_contacts", &contact, "contact").await?;
        require_row(&mut tx, "crm_organizations", &organization, "organization").await?;
        execute(
            &mut tx,
            "INSERT INTO crm_contact_organizations (contact_id, organization_id, source) VALUES ($1, $2, $3)",
            &[&contact, &organization, MANUAL],
        )
        .await
        .map_err(StoreError::from_sqlx)?;
        write_outbox(&mut tx, outbox, now).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)
    }

    /// Removes the manual link between `contact` and `organization` (a link by domain stays
    /// while an address matches), and writes `outbox`. `NotFound` if there is no manual link.
    pub async fn unlink_contact(
        &self,
        contact: ContactId,
        organization: OrganizationId,
        outbox: &[NewOutboxEntry],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let removed = execute(
            &mut tx,
            "DELETE FROM crm_contact_organizations WHERE contact_id = $1 AND organization_id = $2
                 AND source = $3",
            &[&contact.to_string(), &organization.to_string(), MANUAL],
        )
        .await
        .map_err(StoreError::from_sqlx)?;
        if removed == 0 {
            return Err(StoreError::NotFound("manual link"));
        }
        write_outbox(&mut tx, outbox, now).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)
    }

    /// The links of the contact `contact` (`Some`) or of the organization `organization`, by
    /// contact then organization id.
    pub async fn contact_links(
        &self,
        contact: Option<ContactId>,
        organization: Option<OrganizationId>,
    ) -> Result<Vec<ContactLink>, StoreError> {
        let (column, id) = match (contact, organization) {
            (Some(contact), _) => ("contact_id", contact.to_string()),
            (None, Some(organization)) => ("organization_id", organization.to_string()),
            (None, None) => return Ok(Vec::new()),
        };
        let sql = format!(
            "SELECT contact_id, organization_id,
                 SUM(CASE WHEN source = $2 THEN 1 ELSE 0 END), SUM(CASE WHEN source = $3 THEN 1 ELSE 0 END)
             FROM crm_contact_organizations WHERE {column} = $1
             GROUP BY contact_id, organization_id ORDER BY contact_id, organization_id"
        );
        let rows = sqlx::query(&sql)
            .bind(id)
            .bind(MANUAL)
            .bind(BY_DOMAIN)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        rows.iter()
            .map(|row| {
                Ok(ContactLink {
                    contact: parsed(row, 0, "crm_contact_organizations.contact_id", ContactId::parse)?,
                    organization: parsed(
                        row,
                        1,
                        "crm_contact_organizations.organization_id",
                        OrganizationId::parse,
                    )?,
                    manual: col::<i64>(row, 2)? > 0,
                    by_domain: col::<i64>(row, 3)? > 0,
                })
            })
            .collect()
    }
}

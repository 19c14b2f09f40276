//! Contact services: create, read (with their links), list (sorted by name or last update, in
//! keyset pages), update under the contact's version, delete; link a contact to an
//! organization by hand or unlink it. Addresses are normalised and unique per workspace; a
//! contact is linked to the organization of each of its addresses' domains by the store, in
//! the same transaction. Every change writes its outbox rows with it. The list helpers here
//! serve `organizations.rs` too.

use std::collections::HashSet;

use sb_store::{ContactLink, ContactRecord, ListQuery, ListSort, StoreError};
use sb_types::{ContactId, Email, Timestamp};
use serde_json::{Map, Value, json};

use super::pipelines::stale;
use super::{
    Change, Page, decode_cursor, encode_cursor, id_in_path, invalid, name, outbox_entry, page_limit,
};
use crate::{Access, CoreError, Permission, Switchboard};

/// Most addresses a contact, or domains an organization, may have.
pub const ADDRESSES_MAX: usize = 20;
/// Most phone numbers or postal addresses a contact may have.
pub const PHONES_MAX: usize = 20;
/// Longest phone number, in characters.
pub const PHONE_MAX: usize = 50;
/// Longest postal address, in characters.
pub const POSTAL_MAX: usize = 1_000;
/// Most bytes a record's custom fields may take as JSON.
pub const CUSTOM_MAX: usize = 64 * 1024;

/// A person the team deals with.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub id: ContactId,
    pub name: String,
    /// Normalised, each one this contact's only.
    pub emails: Vec<Email>,
    pub phones: Vec<String>,
    /// Postal addresses, as written.
    pub addresses: Vec<String>,
    pub title: String,
    /// Any JSON object.
    pub custom: Map<String, Value>,
    pub version: i64,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A new contact, as a request gives it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContactDraft {
    pub name: String,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub addresses: Vec<String>,
    pub title: String,
    pub custom: Map<String, Value>,
}

/// A change to a contact at `version`; `None` leaves a part as it is, lists are replaced whole.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContactPatch {
    pub version: i64,
    pub name: Option<String>,
    pub emails: Option<Vec<String>>,
    pub phones: Option<Vec<String>>,
    pub addresses: Option<Vec<String>>,
    pub title: Option<String>,
    pub custom: Option<Map<String, Value>>,
}

/// How to list contacts or organizations, as a request gives it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListFilter {
    /// RFC 3339: only records updated at or after it.
    pub updated_since: Option<String>,
    /// "name" (the default) or "updated" (most recent first).
    pub sort: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

pub(super) fn distinct<T: Clone + Eq + std::hash::Hash>(values: Vec<T>) -> Vec<T> {
    let mut seen = HashSet::new();
    values.into_iter().filter(|v| seen.insert(v.clone())).collect()
}

fn emails(texts: &[String]) -> Result<Vec<Email>, CoreError> {
    if texts.len() > ADDRESSES_MAX {
        return Err(invalid(format!("a contact has at most {ADDRESSES_MAX} email addresses")));
    }
    let parsed = texts.iter().map(|t| Email::parse(t)).collect::<Result<Vec<_>, _>>();
    Ok(distinct(parsed.map_err(|e| invalid(e.0))?))
}

/// Trimmed, non-empty lines of at most `longest` characters, at most `PHONES_MAX` of them.
fn lines(what: &str, texts: &[String], longest: usize) -> Result<Vec<String>, CoreError> {
    if texts.len() > PHONES_MAX {
        return Err(invalid(format!("a contact has at most {PHONES_MAX} {what}s")));
    }
    texts
        .iter()
        .map(|text| {
            let trimmed = text.trim();
            let chars = trimmed.chars().count();
            if chars == 0 || chars > longest {
                return Err(invalid(format!("a {what} is 1 to {longest} characters, got {chars}")));
            }
            Ok(trimmed.to_owned())
        })
        .collect()
}

fn title(text: &str) -> Result<String, CoreError> {
    if text.trim().is_empty() { Ok(String::new()) } else { name("title", text) }
}

pub(super) fn custom(fields: Map<String, Value>) -> Result<Map<String, Value>, CoreError> {
    let bytes = Value::Object(fields.clone()).to_string().len();
    if bytes > CUSTOM_MAX {
        return Err(invalid(format!("custom fields take {bytes} bytes as JSON; the limit is {CUSTOM_MAX}")));
    }
    Ok(fields)
}

pub(super) fn json_list<T: std::fmt::Display>(values: &[T]) -> Vec<String> {
    values.iter().map(ToString::to_string).collect()
}

pub(super) fn object(column: &str, text: &str) -> Result<Map<String, Value>, CoreError> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(StoreError::Corrupt(format!("{column} is not a JSON object")).into()),
    }
}

fn strings(column: &str, text: &str) -> Result<Vec<String>, CoreError> {
    serde_json::from_str(text)
        .map_err(|_| StoreError::Corrupt(format!("{column} is not a list of strings")).into())
}

/// The contact `draft` describes, checked, as `access`'s actor would create it now.
pub(super) fn new_contact(access: &Access, draft: ContactDraft) -> Result<Contact, CoreError> {
    let now = Timestamp::now();
    Ok(Contact {
        id: ContactId::generate(),
        name: name("contact name", &draft.name)?,
        emails: emails(&draft.emails)?,
        phones: lines("phone number", &draft.phones, PHONE_MAX)?,
        addresses: lines("postal address", &draft.addresses, POSTAL_MAX)?,
        title: title(&draft.title)?,
        custom: custom(draft.custom)?,
        version: 1,
        created_by: access.actor_label(),
        created_at: now,
        updated_at: now,
    })
}

/// `current` with `patch` applied and checked (its version and time unchanged).
pub(super) fn patched_contact(current: &Contact, patch: ContactPatch) -> Result<Contact, CoreError> {
    let mut contact = current.clone();
    if let Some(text) = &patch.name {
        contact.name = name("contact name", text)?;
    }
    if let Some(texts) = &patch.emails {
        contact.emails = emails(texts)?;
    }
    if let Some(texts) = &patch.phones {
        contact.phones = lines("phone number", texts, PHONE_MAX)?;
    }
    if let Some(texts) = &patch.addresses {
        contact.addresses = lines("postal address", texts, POSTAL_MAX)?;
    }
    if let Some(text) = &patch.title {
        contact.title = title(text)?;
    }
    if let Some(fields) = patch.custom {
        contact.custom = custom(fields)?;
    }
    Ok(contact)
}

pub(super) fn contact_from_record(record: ContactRecord) -> Result<Contact, CoreError> {
    Ok(Contact {
        id: record.id,
        name: record.name,
        emails: record.emails,
        phones: strings("crm_contacts.phones", &record.phones)?,
        addresses: strings("crm_contacts.addresses", &record.addresses)?,
        title: record.title,
        custom: object("crm_contacts.custom", &record.custom)?,
        version: record.version,
        created_by: record.created_by,
        created_at: record.created_at,
        updated_at: record.updated_at,
    })
}

fn contact_record(contact: &Contact) -> ContactRecord {
    ContactRecord {
        id: contact.id,
        name: contact.name.clone(),
        emails: contact.emails.clone(),
        phones: json!(contact.phones).to_string(),
        addresses: json!(contact.addresses).to_string(),
        title: contact.title.clone(),
        custom: Value::Object(contact.custom.clone()).to_string(),
        version: contact.version,
        created_by: contact.created_by.clone(),
        created_at: contact.created_at,
        updated_at: contact.updated_at,
    }
}

/// The outbox payload of a contact.
fn contact_payload(contact: &Contact) -> String {
    json!({
        "id": contact.id.to_string(),
        "name": contact.name,
        "emails": json_list(&contact.emails),
        "phones": contact.phones,
        "addresses": contact.addresses,
        "title": contact.title,
        "custom": contact.custom,
        "version": contact.version,
        "updated_at": contact.updated_at.to_string(),
    })
    .to_string()
}

/// The sort, cursor and page size `filter` asks for, for the list `list` ("contacts" or
/// "organizations").
pub(super) fn list_query(list: &str, filter: &ListFilter) -> Result<ListQuery, CoreError> {
    let sort = match filter.sort.as_deref() {
        None | Some("name") => ListSort::Name,
        Some("updated") => ListSort::Updated,
        Some(text) => return Err(invalid(format!("unknown sort {text:?}; expected name or updated"))),
    };
    let tag = cursor_list(list, sort);
    Ok(ListQuery {
        updated_since: filter.updated_since.as_deref().map(Timestamp::parse).transpose()?,
        sort,
        after: filter.cursor.as_deref().map(|cursor| decode_cursor(&tag, cursor)).transpose()?,
        limit: page_limit(filter.limit)?,
    })
}

fn cursor_list(list: &str, sort: ListSort) -> String {
    match sort {
        ListSort::Name => format!("{list}:name"),
        ListSort::Updated => format!("{list}:updated"),
    }
}

/// The page of `items` for `query`: the next cursor when the page is full.
pub(super) fn page<T>(
    list: &str,
    query: &ListQuery,
    items: Vec<T>,
    key: impl Fn(&T) -> (String, Timestamp, String),
) -> Page<T> {
    let full = items.len() == usize::try_from(query.limit).unwrap_or(usize::MAX);
    let next_cursor = items.last().filter(|_| full).map(|last| {
        let (name, updated_at, id) = key(last);
        let sort_key = match query.sort {
            ListSort::Name => name,
            ListSort::Updated => updated_at.to_string(),
        };
        encode_cursor(&cursor_list(list, query.sort), &sort_key, &id)
    });
    Page { items, next_cursor }
}

impl Switchboard {
    /// Creates a contact. `Conflict` if one of its addresses belongs to another contact.
    pub async fn create_contact(&self, access: &Access, draft: ContactDraft) -> Result<Contact, CoreError> {
        access.require(Permission::Write)?;
        let contact = new_contact(access, draft)?;
        let change = Change::Made(contact_payload(&contact));
        let outbox = [outbox_entry(access, "contact", contact.id.to_string(), "CONTACT_CREATE", change)];
        let db = self.store().workspace_db(access.workspace()).await?;
        db.insert_contact(&contact_record(&contact), &outbox).await?;
        Ok(contact)
    }

    /// The contact `id` (as it appears in a URL).
    pub async fn contact(&self, access: &Access, id: &str) -> Result<Contact, CoreError> {
        access.require(Permission::Read)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        let record = db.contact(id_in_path(id, "contact")?).await?.ok_or(CoreError::NotFound("contact"))?;
        contact_from_record(record)
    }

    /// The contact with the address `email`, if any.
    pub async fn contact_by_email(&self, access: &Access, email: &str) -> Result<Option<Contact>, CoreError> {
        access.require(Permission::Read)?;
        let email = Email::parse(email).map_err(|e| invalid(e.0))?;
        let db = self.store().workspace_db(access.workspace()).await?;
        db.contact_by_email(&email).await?.map(contact_from_record).transpose()
    }

    /// A page of contacts.
    pub async fn contacts(&self, access: &Access, filter: ListFilter) -> Result<Page<Contact>, CoreError> {
        access.require(Permission::Read)?;
        let query = list_query("contacts", &filter)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        let items =
            db.contacts(&query).await?.into_iter().map(contact_from_record).collect::<Result<Vec<_>, _>>()?;
        Ok(page("contacts", &query, items, |c| (c.name.clone(), c.updated_at, c.id.to_string())))
    }

    /// Applies `patch` to the contact `id` if it is still at `patch.version`. Nothing changes
    /// on any error, and a patch that changes nothing writes nothing.
    pub async fn update_contact(
        &self,
        access: &Access,
        id: &str,
        patch: ContactPatch,
    ) -> Result<Contact, CoreError> {
        access.require(Permission::Write)?;
        let current = self.contact(access, id).await?;
        if patch.version != current.version {
            return Err(stale("contact", patch.version, current.version));
        }
        let mut contact = patched_contact(&current, patch)?;
        if contact == current {
            return Ok(current);
        }
        contact.version = current.version + 1;
        contact.updated_at = Timestamp::now();
        let change = Change::Edited(contact_payload(&current), contact_payload(&contact));
        let outbox = [outbox_entry(access, "contact", contact.id.to_string(), "CONTACT_EDIT", change)];
        let db = self.store().workspace_db(access.workspace()).await?;
        db.update_contact(&contact_record(&contact), current.version, &outbox).await?;
        Ok(contact)
    }

    /// Deletes the contact `id` with its links.
    pub async fn delete_contact(&self, access: &Access, id: &str) -> Result<(), CoreError> {
        access.require(Permission::Write)?;
        let contact = self.contact(access, id).await?;
        let change = Change::Removed(contact_payload(&contact));
        let outbox = [outbox_entry(access, "contact", contact.id.to_string(), "CONTACT_DELETE", change)];
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(db.delete_contact(contact.id, &outbox, Timestamp::now()).await?)
    }

    /// Links the contact `contact` to the organization `organization` by hand (again: no
    /// change), or (`linked` false) removes that manual link; a link by domain is not removed.
    pub async fn link_contact(
        &self,
        access: &Access,
        contact: &str,
        organization: &str,
        linked: bool,
    ) -> Result<(), CoreError> {
        access.require(Permission::Write)?;
        let contact = id_in_path(contact, "contact")?;
        let organization = id_in_path(organization, "organization")?;
        let event = if linked { "CONTACT_LINK" } else { "CONTACT_UNLINK" };
        let payload = json!({"contact": contact.to_string(), "organization": organization.to_string()});
        let outbox =
            [outbox_entry(access, "contact", contact.to_string(), event, Change::Made(payload.to_string()))];
        let db = self.store().workspace_db(access.workspace()).await?;
        let now = Timestamp::now();
        match linked {
            true => db.link_contact(contact, organization, &outbox, now).await?,
            false => db.unlink_contact(contact, organization, &outbox, now).await?,
        }
        Ok(())
    }

    /// The links of the contact `id`.
    pub async fn contact_links(&self, access: &Access, id: &str) -> Result<Vec<ContactLink>, CoreError> {
        access.require(Permission::Read)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(db.contact_links(Some(id_in_path(id, "contact")?), None).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OrganizationDraft, OrganizationPatch, ServerSecret};

    #[tokio::test]
    async fn every_change_writes_its_outbox_row_and_a_refused_one_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = sb_store::Store::open(dir.path(), &sb_config::Database::Sqlite).await.unwrap();
        let secret = ServerSecret::load_or_create(&dir.path().join("secret.key")).unwrap();
        let switchboard = Switchboard::from_parts(store, secret);
        let workspace = switchboard.create_workspace("Acme", None).await.unwrap().workspace.id;
        let access = switchboard.operator_access(workspace).await.unwrap();
        let draft =
            OrganizationDraft { name: "Acme".into(), domains: vec!["acme.com".into()], ..Default::default() };
        let acme = switchboard.create_organization(&access, draft).await.unwrap();
        let draft =
            ContactDraft { name: "Ana".into(), emails: vec!["ana@acme.com".into()], ..Default::default() };
        let ana = switchboard.create_contact(&access, draft).await.unwrap();
        let twin =
            ContactDraft { name: "Twin".into(), emails: vec!["ANA@acme.com".into()], ..Default::default() };
        let refused = switchboard.create_contact(&access, twin).await.unwrap_err();
        assert_eq!(refused.kind(), sb_types::ErrorKind::Conflict, "{refused}");
        let (ana_id, acme_id) = (ana.id.to_string(), acme.id.to_string());
        switchboard.link_contact(&access, &ana_id, &acme_id, true).await.unwrap();
        let rename = ContactPatch { version: 1, name: Some("Ana Lima".into()), ..Default::default() };
        switchboard.update_contact(&access, &ana_id, rename).await.unwrap();
        let unchanged = ContactPatch { version: 2, name: Some("Ana Lima".into()), ..Default::default() };
        switchboard.update_contact(&access, &ana_id, unchanged).await.unwrap();
        switchboard.link_contact(&access, &ana_id, &acme_id, false).await.unwrap();
        let domains = OrganizationPatch { version: 1, domains: Some(vec![]), ..Default::default() };
        switchboard.update_organization(&access, &acme_id, domains).await.unwrap();
        switchboard.delete_organization(&access, &acme_id).await.unwrap();
        switchboard.delete_contact(&access, &ana_id).await.unwrap();

        let db = switchboard.store().workspace_db(workspace).await.unwrap();
        let rows = db.outbox_after(0, 100).await.unwrap();
        let events: Vec<(&str, &str)> =
            rows.iter().map(|r| (r.object_kind.as_str(), r.event.as_str())).collect();
        assert_eq!(
            events,
            [
                ("organization", "ORGANIZATION_CREATE"),
                ("contact", "CONTACT_CREATE"),
                ("contact", "CONTACT_LINK"),
                ("contact", "CONTACT_EDIT"),
                ("contact", "CONTACT_UNLINK"),
                ("organization", "ORGANIZATION_EDIT"),
                ("organization", "ORGANIZATION_DELETE"),
                ("contact", "CONTACT_DELETE"),
            ],
            "one row per change; a refused change and a patch that changes nothing write none"
        );
        let edited: Value = serde_json::from_str(&rows[3].payload).unwrap();
        assert_eq!((edited["name"].as_str(), edited["version"].as_i64()), (Some("Ana Lima"), Some(2)));
        assert_eq!(edited["emails"], json!(["ana@acme.com"]));
    }
}

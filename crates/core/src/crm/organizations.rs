//! Organization services: create (contacts with an address at one of its domains are linked
//! to it), read, list, update under its version (domain links follow its domains), delete,
//! and its contacts' links. Domains are normalised and unique per workspace. Every change
//! writes its outbox rows with it.

use sb_store::{ContactLink, OrganizationRecord};
use sb_types::{Domain, OrganizationId, Timestamp};
use serde_json::{Map, Value, json};

use super::contacts::{ADDRESSES_MAX, ListFilter, custom, distinct, json_list, list_query, object, page};
use super::pipelines::stale;
use super::{Change, Page, id_in_path, invalid, name, outbox_entry};
use crate::{Access, CoreError, Permission, Switchboard};

/// A company or other body contacts belong to.
#[derive(Debug, Clone, PartialEq)]
pub struct Organization {
    pub id: OrganizationId,
    pub name: String,
    /// Normalised, each one this organization's only.
    pub domains: Vec<Domain>,
    pub custom: Map<String, Value>,
    pub version: i64,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A new organization, as a request gives it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OrganizationDraft {
    pub name: String,
    pub domains: Vec<String>,
    pub custom: Map<String, Value>,
}

/// A change to an organization at `version`; `None` leaves a part as it is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OrganizationPatch {
    pub version: i64,
    pub name: Option<String>,
    pub domains: Option<Vec<String>>,
    pub custom: Option<Map<String, Value>>,
}

fn domains(texts: &[String]) -> Result<Vec<Domain>, CoreError> {
    if texts.len() > ADDRESSES_MAX {
        return Err(invalid(format!("an organization has at most {ADDRESSES_MAX} domains")));
    }
    let parsed = texts.iter().map(|t| Domain::parse(t)).collect::<Result<Vec<_>, _>>();
    Ok(distinct(parsed.map_err(|e| invalid(e.0))?))
}

pub(super) fn organization_from_record(record: OrganizationRecord) -> Result<Organization, CoreError> {
    Ok(Organization {
        id: record.id,
        name: record.name,
        domains: record.domains,
        custom: object("crm_organizations.custom", &record.custom)?,
        version: record.version,
        created_by: record.created_by,
        created_at: record.created_at,
        updated_at: record.updated_at,
    })
}

/// The organization `draft` describes, checked, as `access`'s actor would create it now.
pub(super) fn new_organization(access: &Access, draft: OrganizationDraft) -> Result<Organization, CoreError> {
    let now = Timestamp::now();
    Ok(Organization {
        id: OrganizationId::generate(),
        name: name("organization name", &draft.name)?,
        domains: domains(&draft.domains)?,
        custom: custom(draft.custom)?,
        version: 1,
        created_by: access.actor_label(),
        created_at: now,
        updated_at: now,
    })
}

/// `current` with `patch` applied and checked (its version and time unchanged).
pub(super) fn patched_organization(
    current: &Organization,
    patch: OrganizationPatch,
) -> Result<Organization, CoreError> {
    let mut organization = current.clone();
    if let Some(text) = &patch.name {
        organization.name = name("organization name", text)?;
    }
    if let Some(texts) = &patch.domains {
        organization.domains = domains(texts)?;
    }
    if let Some(fields) = patch.custom {
        organization.custom = custom(fields)?;
    }
    Ok(organization)
}

fn organization_record(organization: &Organization) -> OrganizationRecord {
    OrganizationRecord {
        id: organization.id,
        name: organization.name.clone(),
        domains: organization.domains.clone(),
        custom: Value::Object(organization.custom.clone()).to_string(),
        version: organization.version,
        created_by: organization.created_by.clone(),
        created_at: organization.created_at,
        updated_at: organization.updated_at,
    }
}

/// The outbox payload of an organization.
fn organization_payload(organization: &Organization) -> String {
    json!({
        "id": organization.id.to_string(),
        "name": organization.name,
        "domains": json_list(&organization.domains),
        "custom": organization.custom,
        "version": organization.version,
        "updated_at": organization.updated_at.to_string(),
    })
    .to_string()
}

impl Switchboard {
    /// Creates an organization; contacts with an address at one of its domains are linked to
    /// it. `Conflict` if one of its domains belongs to another organization.
    pub async fn create_organization(
        &self,
        access: &Access,
        draft: OrganizationDraft,
    ) -> Result<Organization, CoreError> {
        access.require(Permission::Write)?;
        let organization = new_organization(access, draft)?;
        let change = Change::Made(organization_payload(&organization));
        let outbox = [outbox_entry(
            access,
            "organization",
            organization.id.to_string(),
            "ORGANIZATION_CREATE",
            change,
        )];
        let db = self.store().workspace_db(access.workspace()).await?;
        db.insert_organization(&organization_record(&organization), &outbox).await?;
        Ok(organization)
    }

    /// The organization `id` (as it appears in a URL).
    pub async fn organization(&self, access: &Access, id: &str) -> Result<Organization, CoreError> {
        access.require(Permission::Read)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        let id = id_in_path(id, "organization")?;
        let record = db.organization(id).await?.ok_or(CoreError::NotFound("organization"))?;
        organization_from_record(record)
    }

    /// A page of organizations.
    pub async fn organizations(
        &self,
        access: &Access,
        filter: ListFilter,
    ) -> Result<Page<Organization>, CoreError> {
        access.require(Permission::Read)?;
        let query = list_query("organizations", &filter)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        let records = db.organizations(&query).await?;
        let items = records.into_iter().map(organization_from_record).collect::<Result<Vec<_>, _>>()?;
        Ok(page("organizations", &query, items, |o| (o.name.clone(), o.updated_at, o.id.to_string())))
    }

    /// Applies `patch` to the organization `id` if it is still at `patch.version`; its domain
    /// links follow its domains. Nothing changes on any error, and a patch that changes
    /// nothing writes nothing.
    pub async fn update_organization(
        &self,
        access: &Access,
        id: &str,
        patch: OrganizationPatch,
    ) -> Result<Organization, CoreError> {
        access.require(Permission::Write)?;
        let current = self.organization(access, id).await?;
        if patch.version != current.version {
            return Err(stale("organization", patch.version, current.version));
        }
        let mut organization = patched_organization(&current, patch)?;
        if organization == current {
            return Ok(current);
        }
        organization.version = current.version + 1;
        organization.updated_at = Timestamp::now();
        let change = Change::Edited(organization_payload(&current), organization_payload(&organization));
        let outbox =
            [outbox_entry(access, "organization", organization.id.to_string(), "ORGANIZATION_EDIT", change)];
        let db = self.store().workspace_db(access.workspace()).await?;
        db.update_organization(&organization_record(&organization), current.version, &outbox).await?;
        Ok(organization)
    }

    /// Deletes the organization `id` with its links.
    pub async fn delete_organization(&self, access: &Access, id: &str) -> Result<(), CoreError> {
        access.require(Permission::Write)?;
        let organization = self.organization(access, id).await?;
        let change = Change::Removed(organization_payload(&organization));
        let outbox = [outbox_entry(
            access,
            "organization",
            organization.id.to_string(),
            "ORGANIZATION_DELETE",
            change,
        )];
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(db.delete_organization(organization.id, &outbox, Timestamp::now()).await?)
    }

    /// The links of the organization `id`.
    pub async fn organization_links(&self, access: &Access, id: &str) -> Result<Vec<ContactLink>, CoreError> {
        access.require(Permission::Read)?;
        let db = self.store().workspace_db(access.workspace()).await?;
        Ok(db.contact_links(None, Some(id_in_path(id, "organization")?)).await?)
    }
}

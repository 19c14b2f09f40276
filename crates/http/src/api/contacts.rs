//! CRM contacts and organizations in the native API, for keys and sessions (with
//! `X-CSRF-Token`):
//!
//! - `GET|POST /api/v1/workspaces/{id}/contacts`: a page of contacts (`sort` = `name`|`updated`,
//!   `updated_since`, `limit`, `cursor`; or the one with `email`); create.
//! - `GET|PATCH|DELETE …/contacts/{contact}`: read (with its organizations); change (with
//!   `version`: a stale one is 409; lists are replaced whole); delete.
//! - `GET|POST /api/v1/workspaces/{id}/organizations`, `GET|PATCH|DELETE …/organizations/{org}`:
//!   the same for organizations (read with their contacts).
//! - `PUT|DELETE …/contacts/{contact}/organizations/{org}`: link by hand, or remove that link.
//! - `GET …/contacts/{contact}/boxes`, `GET …/organizations/{org}/boxes`: the boxes linked to a
//!   contact, or to an organization or one of its contacts, most recently updated first.

use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use bytes::Bytes;
use sb_core::{
    Contact, ContactDraft, ContactLink, ContactPatch, ListFilter, Organization, OrganizationDraft,
    OrganizationPatch,
};
use sb_types::ErrorKind;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::boxes::BoxOut;
use super::pipelines::{json_body, query, required_version};
use crate::auth::ApiCaller;
use crate::{ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/workspaces/{id}/contacts", get(list_contacts).post(create_contact))
        .route(
            "/api/v1/workspaces/{id}/contacts/{contact}",
            get(show_contact).patch(update_contact).delete(delete_contact),
        )
        .route(
            "/api/v1/workspaces/{id}/contacts/{contact}/organizations/{organization}",
            put(link).delete(unlink),
        )
        .route("/api/v1/workspaces/{id}/contacts/{contact}/boxes", get(contact_boxes))
        .route("/api/v1/workspaces/{id}/organizations", get(list_organizations).post(create_organization))
        .route("/api/v1/workspaces/{id}/organizations/{organization}/boxes", get(organization_boxes))
        .route(
            "/api/v1/workspaces/{id}/organizations/{organization}",
            get(show_organization).patch(update_organization).delete(delete_organization),
        )
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ContactCreate")]
pub(super) struct ContactIn {
    name: String,
    #[serde(default)]
    emails: Vec<String>,
    #[serde(default)]
    phones: Vec<String>,
    #[serde(default)]
    addresses: Vec<String>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    custom: Map<String, Value>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ContactPatch")]
pub(super) struct ContactPatchIn {
    version: Option<i64>,
    name: Option<String>,
    emails: Option<Vec<String>>,
    phones: Option<Vec<String>>,
    addresses: Option<Vec<String>>,
    title: Option<String>,
    custom: Option<Map<String, Value>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "OrganizationCreate")]
pub(super) struct OrganizationIn {
    name: String,
    #[serde(default)]
    domains: Vec<String>,
    #[serde(default)]
    custom: Map<String, Value>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "OrganizationPatch")]
pub(super) struct OrganizationPatchIn {
    version: Option<i64>,
    name: Option<String>,
    domains: Option<Vec<String>>,
    custom: Option<Map<String, Value>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ContactListQuery")]
pub(super) struct ListIn {
    email: Option<String>,
    updated_since: Option<String>,
    sort: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

impl ListIn {
    fn filter(self) -> ListFilter {
        ListFilter {
            updated_since: self.updated_since,
            sort: self.sort,
            limit: self.limit,
            cursor: self.cursor,
        }
    }
}

/// The wire form of a contact.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Contact")]
pub(super) struct ContactOut {
    id: String,
    name: String,
    emails: Vec<String>,
    phones: Vec<String>,
    addresses: Vec<String>,
    title: String,
    custom: Map<String, Value>,
    version: i64,
    created_by: String,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    organizations: Option<Vec<LinkOut>>,
}

impl From<Contact> for ContactOut {
    fn from(c: Contact) -> Self {
        ContactOut {
            id: c.id.to_string(),
            name: c.name,
            emails: c.emails.iter().map(ToString::to_string).collect(),
            phones: c.phones,
            addresses: c.addresses,
            title: c.title,
            custom: c.custom,
            version: c.version,
            created_by: c.created_by,
            created_at: c.created_at.to_string(),
            updated_at: c.updated_at.to_string(),
            organizations: None,
        }
    }
}

/// The wire form of an organization.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Organization")]
pub(super) struct OrganizationOut {
    id: String,
    name: String,
    domains: Vec<String>,
    custom: Map<String, Value>,
    version: i64,
    created_by: String,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    contacts: Option<Vec<LinkOut>>,
}

impl From<Organization> for OrganizationOut {
    fn from(o: Organization) -> Self {
        OrganizationOut {
            id: o.id.to_string(),
            name: o.name,
            domains: o.domains.iter().map(ToString::to_string).collect(),
            custom: o.custom,
            version: o.version,
            created_by: o.created_by,
            created_at: o.created_at.to_string(),
            updated_at: o.updated_at.to_string(),
            contacts: None,
        }
    }
}

/// A link between a contact and an organization, and why it exists.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "ContactOrganizationLink")]
pub(super) struct LinkOut {
    contact: String,
    organization: String,
    manual: bool,
    by_domain: bool,
}

impl From<ContactLink> for LinkOut {
    fn from(l: ContactLink) -> Self {
        LinkOut {
            contact: l.contact.to_string(),
            organization: l.organization.to_string(),
            manual: l.manual,
            by_domain: l.by_domain,
        }
    }
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "ContactPage")]
pub(super) struct ContactList {
    contacts: Vec<ContactOut>,
    next_cursor: Option<String>,
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "OrganizationPage")]
pub(super) struct OrganizationList {
    organizations: Vec<OrganizationOut>,
    next_cursor: Option<String>,
}

async fn list_contacts(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    params: Result<Query<ListIn>, QueryRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let mut p = query(params)?;
    if let Some(email) = p.email.take() {
        let found = state.switchboard.contact_by_email(&access, &email).await?;
        let contacts = found.into_iter().map(ContactOut::from).collect();
        return Ok(Json(ContactList { contacts, next_cursor: None }).into_response());
    }
    let page = state.switchboard.contacts(&access, p.filter()).await?;
    let contacts = page.items.into_iter().map(ContactOut::from).collect();
    Ok(Json(ContactList { contacts, next_cursor: page.next_cursor }).into_response())
}

async fn create_contact(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let body: ContactIn = json_body(raw)?;
    let draft = ContactDraft {
        name: body.name,
        emails: body.emails,
        phones: body.phones,
        addresses: body.addresses,
        title: body.title,
        custom: body.custom,
    };
    let contact = state.switchboard.create_contact(&access, draft).await?;
    Ok((StatusCode::CREATED, Json(ContactOut::from(contact))).into_response())
}

async fn show_contact(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, contact)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let found = state.switchboard.contact(&access, &contact).await?;
    let links = state.switchboard.contact_links(&access, &contact).await?;
    let mut out = ContactOut::from(found);
    out.organizations = Some(links.into_iter().map(LinkOut::from).collect());
    Ok(Json(out).into_response())
}

async fn update_contact(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, contact)): Path<(String, String)>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let body: ContactPatchIn = json_body(raw)?;
    let patch = ContactPatch {
        version: required_version(body.version)?,
        name: body.name,
        emails: body.emails,
        phones: body.phones,
        addresses: body.addresses,
        title: body.title,
        custom: body.custom,
    };
    let updated = state.switchboard.update_contact(&access, &contact, patch).await?;
    Ok(Json(ContactOut::from(updated)).into_response())
}

async fn delete_contact(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, contact)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    state.switchboard.delete_contact(&access, &contact).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn link(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, contact, organization)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    state.switchboard.link_contact(&access, &contact, &organization, true).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn unlink(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, contact, organization)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    state.switchboard.link_contact(&access, &contact, &organization, false).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_organizations(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    params: Result<Query<ListIn>, QueryRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let p = query(params)?;
    if p.email.is_some() {
        return Err(ApiError::new(ErrorKind::Invalid, "organizations are not listed by email"));
    }
    let page = state.switchboard.organizations(&access, p.filter()).await?;
    let organizations = page.items.into_iter().map(OrganizationOut::from).collect();
    Ok(Json(OrganizationList { organizations, next_cursor: page.next_cursor }).into_response())
}

async fn create_organization(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let body: OrganizationIn = json_body(raw)?;
    let draft = OrganizationDraft { name: body.name, domains: body.domains, custom: body.custom };
    let organization = state.switchboard.create_organization(&access, draft).await?;
    Ok((StatusCode::CREATED, Json(OrganizationOut::from(organization))).into_response())
}

async fn show_organization(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, organization)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let found = state.switchboard.organization(&access, &organization).await?;
    let links = state.switchboard.organization_links(&access, &organization).await?;
    let mut out = OrganizationOut::from(found);
    out.contacts = Some(links.into_iter().map(LinkOut::from).collect());
    Ok(Json(out).into_response())
}

async fn update_organization(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, organization)): Path<(String, String)>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let body: OrganizationPatchIn = json_body(raw)?;
    let patch = OrganizationPatch {
        version: required_version(body.version)?,
        name: body.name,
        domains: body.domains,
        custom: body.custom,
    };
    let updated = state.switchboard.update_organization(&access, &organization, patch).await?;
    Ok(Json(OrganizationOut::from(updated)).into_response())
}

async fn delete_organization(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, organization)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    state.switchboard.delete_organization(&access, &organization).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Serialize, JsonSchema)]
#[schemars(rename = "LinkedBoxes")]
pub(super) struct BoxList {
    boxes: Vec<BoxOut>,
}

async fn contact_boxes(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, contact)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let boxes = state.switchboard.contact_boxes(&access, &contact).await?;
    Ok(Json(BoxList { boxes: boxes.into_iter().map(BoxOut::from).collect() }).into_response())
}

async fn organization_boxes(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, organization)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let access = caller.access(&state, &id).await?;
    let boxes = state.switchboard.organization_boxes(&access, &organization).await?;
    Ok(Json(BoxList { boxes: boxes.into_iter().map(BoxOut::from).collect() }).into_response())
}

//! One CSV row into a plan: which attribute each heading fills, what exists already (by the
//! row's natural key), and whether the row creates, updates or leaves it; then the plan
//! carried out through the same services as the API, so every check and outbox row is the
//! API's. Values are checked when planned, so a file with a bad row is refused whole.

use std::collections::HashSet;

use sb_store::WorkspaceDb;
use sb_types::{Domain, Email, FieldType};
use serde_json::{Map, Number, Value};

use super::Row;
use crate::crm::boxes::from_record as box_from_record;
use crate::crm::contacts::{contact_from_record, new_contact, patched_contact};
use crate::crm::organizations::{new_organization, organization_from_record, patched_organization};
use crate::crm::{
    BoxDraft, BoxPatch, Contact, ContactDraft, ContactPatch, CrmBox, Organization, OrganizationDraft,
    OrganizationPatch, Pipeline,
};
use crate::{Access, CoreError, Switchboard};

/// What rows become.
pub(super) enum Target {
    Contacts,
    Organizations,
    Boxes(Box<Pipeline>),
}

/// Headings (folded) each attribute answers to when no mapping names it.
const CONTACT_NAMES: &[(&str, &[&str])] = &[
    ("name", &["name", "fullname", "contact", "contactname"]),
    ("email", &["email", "emails", "emailaddress", "emailaddresses", "mail", "workemail"]),
    ("phone", &["phone", "phones", "phonenumber", "mobile", "telephone", "tel"]),
    ("address", &["address", "addresses", "postaladdress"]),
    ("title", &["title", "jobtitle", "position"]),
];
const ORGANIZATION_NAMES: &[(&str, &[&str])] = &[
    ("name", &["name", "organization", "organisation", "company", "companyname"]),
    ("domain", &["domain", "domains", "website", "web", "url"]),
];
const BOX_NAMES: &[(&str, &[&str])] = &[
    ("name", &["name", "box", "boxname", "deal"]),
    ("notes", &["notes", "description"]),
    ("stage", &["stage", "status"]),
    ("assignee", &["assignee", "assignees", "owner"]),
    ("follower", &["follower", "followers"]),
];

impl Target {
    /// The pipeline id of a box import; empty otherwise.
    pub(super) fn id(&self) -> String {
        match self {
            Target::Boxes(pipeline) => pipeline.id.to_string(),
            _ => String::new(),
        }
    }

    /// The attribute `heading` fills (`explicit`: a mapping named it, so it must be one), or
    /// `None` to ignore the column.
    pub(super) fn attribute(&self, heading: &str, explicit: bool) -> Result<Option<String>, CoreError> {
        if heading == "-" {
            return Ok(None);
        }
        if let Some(key) = heading.strip_prefix("custom.").filter(|k| !k.is_empty()) {
            if matches!(self, Target::Boxes(_)) {
                return Err(CoreError::Invalid(
                    "boxes have fields, not custom values: map to a field".into(),
                ));
            }
            return Ok(Some(format!("custom.{key}")));
        }
        let field = |name: &str| match self {
            Target::Boxes(pipeline) => {
                let wanted = super::folded(name);
                pipeline
                    .fields
                    .iter()
                    .find(|f| super::folded(&f.name) == wanted)
                    .map(|f| format!("field.{}", f.id))
            }
            _ => None,
        };
        // `field.<name>` names a field before anything else, so a field called "Status" or
        // "Owner" is not taken for the stage or the assignees.
        if let Some(name) = heading.strip_prefix("field.") {
            return match field(name) {
                Some(attribute) => Ok(Some(attribute)),
                None if explicit => {
                    Err(CoreError::Invalid(format!("cannot map a column to {heading:?}: no such field")))
                }
                None => Ok(None),
            };
        }
        let folded = super::folded(heading);
        let names = match self {
            Target::Contacts => CONTACT_NAMES,
            Target::Organizations => ORGANIZATION_NAMES,
            Target::Boxes(_) => BOX_NAMES,
        };
        if let Some((attribute, _)) =
            names.iter().find(|(a, synonyms)| *a == heading || synonyms.contains(&folded.as_str()))
        {
            return Ok(Some((*attribute).to_owned()));
        }
        if let Some(attribute) = field(heading) {
            return Ok(Some(attribute));
        }
        if explicit {
            return Err(CoreError::Invalid(format!("cannot map a column to {heading:?}: no such attribute")));
        }
        Ok(None)
    }
}

/// What a row does.
pub(super) enum Plan {
    Create(Draft),
    Update(String, Patch),
    Unchanged,
}

pub(super) enum Draft {
    Contact(ContactDraft),
    Organization(OrganizationDraft),
    Box(BoxDraft),
}

pub(super) enum Patch {
    Contact(ContactPatch),
    Organization(OrganizationPatch),
    Box(BoxPatch),
}

/// What carrying out a plan did.
pub(super) enum Done {
    Created,
    Updated,
    Unchanged,
}

/// Plans rows one after another against the workspace, remembering the keys of records that
/// earlier rows of the same pass create (a dry run counts a repeat of one as unchanged).
pub(super) struct Planner<'a> {
    switchboard: &'a Switchboard,
    access: &'a Access,
    target: &'a Target,
    db: WorkspaceDb,
    members: Vec<(Email, String)>,
    planned: HashSet<String>,
}

/// The cell's items: split on `;` (and on `,` and spaces where `words`).
fn items(row: &Row, attribute: &str, words: bool) -> Vec<String> {
    let split = |c: char| c == ';' || (words && (c == ',' || c.is_whitespace()));
    row.values(attribute)
        .flat_map(|v| v.split(split))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `current` followed by what `more` adds.
fn union(current: &[String], more: &[String]) -> Vec<String> {
    let mut all = current.to_vec();
    for item in more {
        if !all.iter().any(|c| c.eq_ignore_ascii_case(item)) {
            all.push(item.clone());
        }
    }
    all
}

/// The row's `custom.<key>` cells as a JSON object.
fn custom_cells(row: &Row) -> Map<String, Value> {
    row.cells
        .iter()
        .filter_map(|(attribute, value)| {
            let key = attribute.strip_prefix("custom.")?;
            let value = value.trim();
            (!value.is_empty()).then(|| (key.to_owned(), Value::String(value.to_owned())))
        })
        .collect()
}

impl<'a> Planner<'a> {
    pub(super) async fn new(
        switchboard: &'a Switchboard,
        access: &'a Access,
        target: &'a Target,
    ) -> Result<Planner<'a>, CoreError> {
        let db = switchboard.store().workspace_db(access.workspace()).await?;
        let members = match target {
            Target::Boxes(_) => switchboard
                .store()
                .members(access.workspace())
                .await?
                .into_iter()
                .map(|m| (m.user.email, m.user.id.to_string()))
                .collect(),
            _ => Vec::new(),
        };
        Ok(Planner { switchboard, access, target, db, members, planned: HashSet::new() })
    }

    /// What `row` would do now, or why it cannot be imported.
    pub(super) async fn plan(&mut self, row: &Row) -> Result<Plan, String> {
        let planned = match self.target {
            Target::Contacts => self.plan_contact(row).await,
            Target::Organizations => self.plan_organization(row).await,
            Target::Boxes(pipeline) => self.plan_box(row, pipeline).await,
        };
        planned.map_err(|e| e.to_string())
    }

    /// Whether one of `keys` belongs to a record an earlier row creates; remembers them.
    fn earlier(&mut self, keys: Vec<String>, creating: bool) -> bool {
        let seen = keys.iter().any(|k| self.planned.contains(k));
        if creating {
            self.planned.extend(keys);
        }
        seen
    }

    async fn plan_contact(&mut self, row: &Row) -> Result<Plan, CoreError> {
        let emails = items(row, "email", true);
        let mut found: Option<Contact> = None;
        for text in &emails {
            let email = Email::parse(text).map_err(|e| CoreError::Invalid(e.0))?;
            if let Some(record) = self.db.contact_by_email(&email).await? {
                match &found {
                    Some(other) if other.id != record.id => {
                        return Err(CoreError::Invalid(format!(
                            "its addresses belong to two contacts, {:?} and {:?}",
                            other.name, record.name
                        )));
                    }
                    _ => found = Some(contact_from_record(record)?),
                }
            }
        }
        let name = row.first("name").map(str::to_owned);
        if found.is_none()
            && emails.is_empty()
            && let Some(name) = &name
        {
            found = self.db.contact_by_name(name).await?.map(contact_from_record).transpose()?;
        }
        let keys: Vec<String> = emails
            .iter()
            .map(|e| format!("email:{}", e.to_lowercase()))
            .chain(name.iter().filter(|_| emails.is_empty()).map(|n| format!("name:{n}")))
            .collect();
        let custom = custom_cells(row);
        match found {
            Some(current) => {
                let current_emails: Vec<String> = current.emails.iter().map(ToString::to_string).collect();
                let patch = ContactPatch {
                    version: current.version,
                    name,
                    emails: Some(union(&current_emails, &emails)),
                    phones: Some(union(&current.phones, &items(row, "phone", false))),
                    addresses: Some(union(&current.addresses, &items(row, "address", false))),
                    title: row.first("title").map(str::to_owned),
                    custom: Some(current.custom.clone().into_iter().chain(custom).collect()),
                };
                let next = patched_contact(&current, patch.clone())?;
                Ok(if next == current {
                    Plan::Unchanged
                } else {
                    Plan::Update(current.id.to_string(), Patch::Contact(patch))
                })
            }
            None => {
                let draft = ContactDraft {
                    name: name.ok_or_else(|| CoreError::Invalid("a new contact needs a name".into()))?,
                    emails,
                    phones: items(row, "phone", false),
                    addresses: items(row, "address", false),
                    title: row.first("title").unwrap_or_default().to_owned(),
                    custom,
                };
                new_contact(self.access, draft.clone())?;
                Ok(if self.earlier(keys, true) {
                    Plan::Unchanged
                } else {
                    Plan::Create(Draft::Contact(draft))
                })
            }
        }
    }

    async fn plan_organization(&mut self, row: &Row) -> Result<Plan, CoreError> {
        let domains = items(row, "domain", true);
        let mut found: Option<Organization> = None;
        let mut keys = Vec::new();
        for text in &domains {
            let domain = Domain::parse(text).map_err(|e| CoreError::Invalid(e.0))?;
            keys.push(format!("domain:{}", domain.as_str()));
            if let Some(record) = self.db.organization_by_domain(&domain).await? {
                match &found {
                    Some(other) if other.id != record.id => {
                        return Err(CoreError::Invalid(format!(
                            "its domains belong to two organizations, {:?} and {:?}",
                            other.name, record.name
                        )));
                    }
                    _ => found = Some(organization_from_record(record)?),
                }
            }
        }
        let name = row.first("name").map(str::to_owned);
        if domains.is_empty()
            && let Some(name) = &name
        {
            keys.push(format!("name:{name}"));
            found = self.db.organization_by_name(name).await?.map(organization_from_record).transpose()?;
        }
        let custom = custom_cells(row);
        match found {
            Some(current) => {
                let current_domains: Vec<String> = current.domains.iter().map(ToString::to_string).collect();
                let patch = OrganizationPatch {
                    version: current.version,
                    name,
                    domains: Some(union(&current_domains, &domains)),
                    custom: Some(current.custom.clone().into_iter().chain(custom).collect()),
                };
                let next = patched_organization(&current, patch.clone())?;
                Ok(if next == current {
                    Plan::Unchanged
                } else {
                    Plan::Update(current.id.to_string(), Patch::Organization(patch))
                })
            }
            None => {
                let draft = OrganizationDraft {
                    name: name.ok_or_else(|| CoreError::Invalid("a new organization needs a name".into()))?,
                    domains,
                    custom,
                };
                new_organization(self.access, draft.clone())?;
                Ok(if self.earlier(keys, true) {
                    Plan::Unchanged
                } else {
                    Plan::Create(Draft::Organization(draft))
                })
            }
        }
    }

    /// A member's user id from an address or an id.
    fn member(&self, text: &str) -> String {
        let email = Email::parse(text).ok();
        self.members
            .iter()
            .find(|(e, _)| Some(e) == email.as_ref())
            .map_or_else(|| text.to_owned(), |(_, id)| id.clone())
    }

    /// The value of `field` written as `text`, as the API takes it.
    async fn field_value(&self, pipeline: &Pipeline, field_id: &str, text: &str) -> Result<Value, CoreError> {
        let Some(field) = pipeline.fields.iter().find(|f| f.id.to_string() == field_id) else {
            return Ok(Value::String(text.to_owned()));
        };
        let bad = |what: &str| CoreError::Invalid(format!("field {:?}: {text:?} is not {what}", field.name));
        Ok(match field.field_type {
            FieldType::Number => {
                let number = text.replace([',', ' '], "");
                match number.parse::<i64>() {
                    Ok(n) => Value::from(n),
                    Err(_) => Value::Number(
                        number
                            .parse::<f64>()
                            .ok()
                            .and_then(Number::from_f64)
                            .ok_or_else(|| bad("a number"))?,
                    ),
                }
            }
            FieldType::Checkbox => match text.to_lowercase().as_str() {
                "true" | "yes" | "y" | "1" | "x" => Value::Bool(true),
                "false" | "no" | "n" | "0" => Value::Bool(false),
                _ => return Err(bad("true or false")),
            },
            FieldType::Tags => Value::Array(
                text.split([';', ','])
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(|t| Value::String(t.to_owned()))
                    .collect(),
            ),
            FieldType::Person => Value::String(self.member(text)),
            FieldType::Contact => match Email::parse(text) {
                Ok(email) => match self.db.contact_by_email(&email).await? {
                    Some(contact) => Value::String(contact.id.to_string()),
                    None => return Err(bad("the address of a contact")),
                },
                Err(_) => Value::String(text.to_owned()),
            },
            FieldType::Organization => {
                let by_domain = match Domain::parse(text) {
                    Ok(domain) => self.db.organization_by_domain(&domain).await?,
                    Err(_) => None,
                };
                let found = match by_domain {
                    Some(found) => Some(found),
                    None => self.db.organization_by_name(text).await?,
                };
                Value::String(found.map_or_else(|| text.to_owned(), |o| o.id.to_string()))
            }
            FieldType::Text | FieldType::Date | FieldType::Dropdown => Value::String(text.to_owned()),
        })
    }

    async fn plan_box(&mut self, row: &Row, pipeline: &Pipeline) -> Result<Plan, CoreError> {
        let name =
            row.first("name").ok_or_else(|| CoreError::Invalid("a box needs a name".into()))?.to_owned();
        let mut fields = Map::new();
        for (attribute, text) in &row.cells {
            if let Some(id) = attribute.strip_prefix("field.")
                && !text.trim().is_empty()
            {
                fields.insert(id.to_owned(), self.field_value(pipeline, id, text.trim()).await?);
            }
        }
        let stage = row.first("stage").map(|s| {
            pipeline
                .stages
                .iter()
                .find(|st| st.name.eq_ignore_ascii_case(s))
                .map_or_else(|| s.to_owned(), |st| st.id.to_string())
        });
        let people = |attribute| {
            let found = items(row, attribute, true);
            (!found.is_empty()).then(|| found.iter().map(|p| self.member(p)).collect::<Vec<_>>())
        };
        let (assignees, followers) = (people("assignee"), people("follower"));
        let notes = row.first("notes").map(str::to_owned);
        let found = self.db.box_by_name(pipeline.id, &name).await?;
        match found {
            Some(record) => {
                let current: CrmBox = box_from_record(record, pipeline)?;
                let patch = BoxPatch {
                    version: current.version,
                    name: None,
                    notes,
                    stage,
                    fields: (!fields.is_empty()).then_some(fields),
                    assignees,
                    followers,
                };
                let next = self.switchboard.patched_box(self.access, pipeline, &current, &patch).await?;
                Ok(if next == current {
                    Plan::Unchanged
                } else {
                    Plan::Update(current.id.to_string(), Patch::Box(patch))
                })
            }
            None => {
                let draft = BoxDraft {
                    name: name.clone(),
                    notes: notes.unwrap_or_default(),
                    stage,
                    fields,
                    assignees: assignees.unwrap_or_default(),
                    followers: followers.unwrap_or_default(),
                };
                self.switchboard.new_box(self.access, pipeline, draft.clone()).await?;
                Ok(if self.earlier(vec![format!("name:{name}")], true) {
                    Plan::Unchanged
                } else {
                    Plan::Create(Draft::Box(draft))
                })
            }
        }
    }

    /// Carries out `plan` through the services.
    pub(super) async fn apply(&self, plan: Plan) -> Result<Done, CoreError> {
        let (switchboard, access) = (self.switchboard, self.access);
        match plan {
            Plan::Unchanged => Ok(Done::Unchanged),
            Plan::Create(Draft::Contact(draft)) => {
                switchboard.create_contact(access, draft).await.map(|_| Done::Created)
            }
            Plan::Create(Draft::Organization(draft)) => {
                switchboard.create_organization(access, draft).await.map(|_| Done::Created)
            }
            Plan::Create(Draft::Box(draft)) => {
                let pipeline = self.target.id();
                switchboard.create_box(access, &pipeline, draft).await.map(|_| Done::Created)
            }
            Plan::Update(id, Patch::Contact(patch)) => {
                switchboard.update_contact(access, &id, patch).await.map(|_| Done::Updated)
            }
            Plan::Update(id, Patch::Organization(patch)) => {
                switchboard.update_organization(access, &id, patch).await.map(|_| Done::Updated)
            }
            Plan::Update(id, Patch::Box(patch)) => {
                switchboard.update_box(access, &id, patch).await.map(|_| Done::Updated)
            }
        }
    }
}

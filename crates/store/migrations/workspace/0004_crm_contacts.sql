-- Contacts and organizations. A contact's email addresses and an organization's domains are
-- each unique within the workspace (their own tables' primary keys); `emails` and `domains`
-- repeat them, space-separated and in order, so that reading a contact or an organization is
-- one row. A contact is linked to an organization by hand (`manual`) or because one of its
-- addresses is at one of the organization's domains (`domain`); domain links follow the
-- addresses and domains as they change, manual links stay until removed.

CREATE TABLE crm_organizations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    domains     TEXT NOT NULL,
    custom      TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX crm_organizations_by_name ON crm_organizations (name, id);
CREATE INDEX crm_organizations_by_updated ON crm_organizations (updated_at, id);

CREATE TABLE crm_organization_domains (
    domain          TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES crm_organizations (id) ON DELETE CASCADE
);
CREATE INDEX crm_organization_domains_by_organization ON crm_organization_domains (organization_id);

-- `phones` and `addresses` are JSON arrays, `custom` a JSON object.
CREATE TABLE crm_contacts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    emails      TEXT NOT NULL,
    phones      TEXT NOT NULL,
    addresses   TEXT NOT NULL,
    title       TEXT NOT NULL,
    custom      TEXT NOT NULL,
    version     BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX crm_contacts_by_name ON crm_contacts (name, id);
CREATE INDEX crm_contacts_by_updated ON crm_contacts (updated_at, id);

CREATE TABLE crm_contact_emails (
    email      TEXT PRIMARY KEY,
    domain     TEXT NOT NULL,
    contact_id TEXT NOT NULL REFERENCES crm_contacts (id) ON DELETE CASCADE
);
CREATE INDEX crm_contact_emails_by_contact ON crm_contact_emails (contact_id);
CREATE INDEX crm_contact_emails_by_domain ON crm_contact_emails (domain, contact_id);

CREATE TABLE crm_contact_organizations (
    contact_id      TEXT NOT NULL REFERENCES crm_contacts (id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL REFERENCES crm_organizations (id) ON DELETE CASCADE,
    source          TEXT NOT NULL,
    PRIMARY KEY (contact_id, organization_id, source)
);
CREATE INDEX crm_contact_organizations_by_organization ON crm_contact_organizations (organization_id, contact_id);

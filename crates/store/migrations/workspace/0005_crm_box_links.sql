-- Boxes linked to the contacts and organizations they concern. Deleting either side removes
-- the link.

CREATE TABLE crm_box_contacts (
    box_id     TEXT NOT NULL REFERENCES crm_boxes (id) ON DELETE CASCADE,
    contact_id TEXT NOT NULL REFERENCES crm_contacts (id) ON DELETE CASCADE,
    PRIMARY KEY (box_id, contact_id)
);
CREATE INDEX crm_box_contacts_by_contact ON crm_box_contacts (contact_id, box_id);

CREATE TABLE crm_box_organizations (
    box_id          TEXT NOT NULL REFERENCES crm_boxes (id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL REFERENCES crm_organizations (id) ON DELETE CASCADE,
    PRIMARY KEY (box_id, organization_id)
);
CREATE INDEX crm_box_organizations_by_organization ON crm_box_organizations (organization_id, box_id);

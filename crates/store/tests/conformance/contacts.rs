//! Contacts and organizations on both backends: unique addresses and domains, links made by
//! domain and by hand and kept in step with both, versions, pages, the outbox.

use sb_store::{
    ContactLink, ContactRecord, ListQuery, ListSort, NewOutboxEntry, OrganizationRecord, Store, WorkspaceDb,
};
use sb_test_support::{TestBackend, backend_tests};
use sb_types::{ContactId, Domain, Email, ErrorKind, OrganizationId, Timestamp, WorkspaceName};

backend_tests! {
    contacts_and_organizations_are_linked_by_domain_and_by_hand,
    addresses_and_domains_belong_to_one_record_and_a_refused_change_writes_nothing,
    contacts_and_organizations_are_sorted_and_paged,
    contacts_belong_to_one_workspace,
}

async fn workspace(store: &Store, name: &str) -> WorkspaceDb {
    let created = store.create_workspace(&WorkspaceName::parse(name).unwrap(), None).await.unwrap();
    store.workspace_db(created.id).await.unwrap()
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_millis(1_700_000_000_000 + second * 1000)
}

fn contact(name: &str, emails: &[&str], updated: i64) -> ContactRecord {
    ContactRecord {
        id: ContactId::generate(),
        name: name.into(),
        emails: emails.iter().map(|e| Email::parse(e).unwrap()).collect(),
        phones: r#"["+1 555 0100"]"#.into(),
        addresses: "[]".into(),
        title: "CTO".into(),
        custom: r#"{"tier":"gold"}"#.into(),
        version: 1,
        created_by: "cli".into(),
        created_at: at(updated),
        updated_at: at(updated),
    }
}

fn organization(name: &str, domains: &[&str], updated: i64) -> OrganizationRecord {
    OrganizationRecord {
        id: OrganizationId::generate(),
        name: name.into(),
        domains: domains.iter().map(|d| Domain::parse(d).unwrap()).collect(),
        custom: "{}".into(),
        version: 1,
        created_by: "cli".into(),
        created_at: at(updated),
        updated_at: at(updated),
    }
}

fn event(kind: &'static str, id: String, event: &'static str) -> NewOutboxEntry {
    NewOutboxEntry {
        object_kind: kind,
        object_id: id,
        event,
        payload: "{}".into(),
        actor: "tester".into(),
        changes: "{}".into(),
    }
}

fn link(
    contact: &ContactRecord,
    organization: &OrganizationRecord,
    manual: bool,
    by_domain: bool,
) -> ContactLink {
    ContactLink { contact: contact.id, organization: organization.id, manual, by_domain }
}

async fn links_of_contact(db: &WorkspaceDb, contact: &ContactRecord) -> Vec<ContactLink> {
    db.contact_links(Some(contact.id), None).await.unwrap()
}

async fn contacts_and_organizations_are_linked_by_domain_and_by_hand(backend: &TestBackend) {
    let store = Store::open(backend.data_dir(), backend.database()).await.unwrap();
    let db = workspace(&store, "Acme").await;
    // A contact first, its organization later: the link is made when the domain arrives.
    let ana = contact("Ana", &["ana@acme.com", "ana@gmail.com"], 0);
    db.insert_contact(&ana, &[]).await.unwrap();
    assert_eq!(db.contact(ana.id).await.unwrap(), Some(ana.clone()));
    assert!(links_of_contact(&db, &ana).await.is_empty());
    let acme = organization("Acme", &["acme.com", "acme.io"], 1);
    db.insert_organization(&acme, &[]).await.unwrap();
    assert_eq!(db.organization(acme.id).await.unwrap(), Some(acme.clone()));
    assert_eq!(links_of_contact(&db, &ana).await, [link(&ana, &acme, false, true)]);
    // An organization first, its contact later.
    let bo = contact("Bo", &["bo@acme.io"], 2);
    db.insert_contact(&bo, &[]).await.unwrap();
    let mut by_organization = db.contact_links(None, Some(acme.id)).await.unwrap();
    by_organization.sort_by_key(|l| l.contact.to_string());
    let mut expected = vec![link(&ana, &acme, false, true), link(&bo, &acme, false, true)];
    expected.sort_by_key(|l| l.contact.to_string());
    assert_eq!(by_organization, expected);
    assert_eq!(db.contact_by_email(&Email::parse("BO@acme.io").unwrap()).await.unwrap(), Some(bo.clone()));

    // By hand too; then the address that made the domain link goes, and the manual one stays.
    let globex = organization("Globex", &["globex.com"], 3);
    db.insert_organization(&globex, &[]).await.unwrap();
    db.link_contact(ana.id, globex.id, &[], at(4)).await.unwrap();
    db.link_contact(ana.id, globex.id, &[], at(4)).await.unwrap();
    let mut both = vec![link(&ana, &acme, false, true), link(&ana, &globex, true, false)];
    both.sort_by_key(|l| l.organization.to_string());
    assert_eq!(links_of_contact(&db, &ana).await, both);
    let mut moved = ana.clone();
    moved.emails = vec![Email::parse("ana@globex.com").unwrap()];
    moved.version = 2;
    moved.updated_at = at(5);
    db.update_contact(&moved, 1, &[]).await.unwrap();
    assert_eq!(links_of_contact(&db, &ana).await, [link(&ana, &globex, true, true)]);
    db.unlink_contact(ana.id, globex.id, &[], at(6)).await.unwrap();
    assert_eq!(
        links_of_contact(&db, &ana).await,
        [link(&ana, &globex, false, true)],
        "the domain link stays"
    );
    let again = db.unlink_contact(ana.id, globex.id, &[], at(6)).await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::NotFound);

    // An organization that gives up a domain loses the links it made.
    let mut smaller = acme.clone();
    smaller.domains = vec![Domain::parse("acme.com").unwrap()];
    smaller.version = 2;
    smaller.updated_at = at(7);
    db.update_organization(&smaller, 1, &[]).await.unwrap();
    assert!(links_of_contact(&db, &bo).await.is_empty());
    assert_eq!(db.organization(acme.id).await.unwrap(), Some(smaller));

    // Deletes take links and addresses with them.
    db.delete_organization(globex.id, &[], at(8)).await.unwrap();
    assert!(links_of_contact(&db, &ana).await.is_empty());
    db.delete_contact(bo.id, &[], at(8)).await.unwrap();
    assert_eq!(db.contact(bo.id).await.unwrap(), None);
    assert_eq!(db.contact_by_email(&Email::parse("bo@acme.io").unwrap()).await.unwrap(), None);
    assert_eq!(db.delete_contact(bo.id, &[], at(9)).await.unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(db.delete_organization(globex.id, &[], at(9)).await.unwrap_err().kind(), ErrorKind::NotFound);
    let missing = db.link_contact(bo.id, acme.id, &[], at(9)).await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
}

async fn addresses_and_domains_belong_to_one_record_and_a_refused_change_writes_nothing(
    backend: &TestBackend,
) {
    let store = Store::open(backend.data_dir(), backend.database()).await.unwrap();
    let db = workspace(&store, "Acme").await;
    let ana = contact("Ana", &["ana@acme.com"], 0);
    db.insert_contact(&ana, &[event("contact", ana.id.to_string(), "CONTACT_CREATE")]).await.unwrap();
    let twin = contact("Twin", &["twin@acme.com", "ana@acme.com"], 1);
    let refused = db.insert_contact(&twin, &[event("contact", twin.id.to_string(), "CONTACT_CREATE")]).await;
    let refused = refused.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Conflict);
    assert!(refused.to_string().contains("ana@acme.com"), "{refused}");
    assert_eq!(db.contact(twin.id).await.unwrap(), None);
    assert_eq!(db.contact_by_email(&Email::parse("twin@acme.com").unwrap()).await.unwrap(), None);

    let acme = organization("Acme", &["acme.com"], 2);
    db.insert_organization(&acme, &[]).await.unwrap();
    let copy = organization("Acme copy", &["www.acme.com"], 3);
    let refused = db.insert_organization(&copy, &[]).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Conflict);
    assert!(refused.to_string().contains("acme.com"), "{refused}");
    assert_eq!(db.organization(copy.id).await.unwrap(), None);

    // A stale update, and one taking another contact's address, change nothing.
    let bo = contact("Bo", &["bo@other.org"], 4);
    db.insert_contact(&bo, &[]).await.unwrap();
    let mut taking = bo.clone();
    taking.emails.push(Email::parse("ana@acme.com").unwrap());
    taking.version = 2;
    let refused = db.update_contact(&taking, 1, &[event("contact", bo.id.to_string(), "CONTACT_EDIT")]).await;
    assert_eq!(refused.unwrap_err().kind(), ErrorKind::Conflict);
    let stale = db.update_contact(&taking, 7, &[]).await.unwrap_err();
    assert_eq!(stale.kind(), ErrorKind::Conflict);
    assert!(stale.to_string().contains("now at version 1"), "{stale}");
    assert_eq!(db.contact(bo.id).await.unwrap(), Some(bo.clone()));
    assert_eq!(db.contact_by_email(&Email::parse("ana@acme.com").unwrap()).await.unwrap(), Some(ana.clone()));
    let ghost = contact("Ghost", &[], 5);
    assert_eq!(db.update_contact(&ghost, 1, &[]).await.unwrap_err().kind(), ErrorKind::NotFound);
    let mut stale_organization = acme.clone();
    stale_organization.version = 3;
    let stale = db.update_organization(&stale_organization, 2, &[]).await.unwrap_err();
    assert_eq!(stale.kind(), ErrorKind::Conflict);

    let rows = db.outbox_after(0, 10).await.unwrap();
    let got: Vec<&str> = rows.iter().map(|r| r.event.as_str()).collect();
    assert_eq!(got, ["CONTACT_CREATE"], "refused changes write no outbox rows");
}

async fn contacts_and_organizations_are_sorted_and_paged(backend: &TestBackend) {
    let store = Store::open(backend.data_dir(), backend.database()).await.unwrap();
    let db = workspace(&store, "Acme").await;
    let names = ["Cleo", "Ana", "Eve", "Bo", "Dan"];
    for (i, name) in names.iter().enumerate() {
        db.insert_contact(&contact(name, &[&format!("{}@x.org", name.to_lowercase())], i as i64), &[])
            .await
            .unwrap();
        db.insert_organization(
            &organization(name, &[&format!("{}.org", name.to_lowercase())], i as i64),
            &[],
        )
        .await
        .unwrap();
    }
    let query = |sort, after: Option<(String, String)>, since| ListQuery {
        updated_since: since,
        sort,
        after,
        limit: 2,
    };
    let mut by_name = Vec::new();
    let mut after = None;
    loop {
        let page = db.contacts(&query(ListSort::Name, after.clone(), None)).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.name.clone(), last.id.to_string()));
        by_name.extend(page.iter().map(|c| c.name.clone()));
    }
    assert_eq!(by_name, ["Ana", "Bo", "Cleo", "Dan", "Eve"]);
    let mut by_update = Vec::new();
    let mut after = None;
    loop {
        let page = db.organizations(&query(ListSort::Updated, after.clone(), None)).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.updated_at.to_string(), last.id.to_string()));
        by_update.extend(page.iter().map(|o| o.name.clone()));
    }
    assert_eq!(by_update, ["Dan", "Bo", "Eve", "Ana", "Cleo"]);
    let recent =
        db.contacts(&ListQuery { limit: 10, ..query(ListSort::Name, None, Some(at(3))) }).await.unwrap();
    assert_eq!(recent.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["Bo", "Dan"]);
}

async fn contacts_belong_to_one_workspace(backend: &TestBackend) {
    let store = Store::open(backend.data_dir(), backend.database()).await.unwrap();
    let acme = workspace(&store, "Acme").await;
    let globex = workspace(&store, "Globex").await;
    let ana = contact("Ana", &["ana@acme.com"], 0);
    acme.insert_contact(&ana, &[]).await.unwrap();
    let org = organization("Acme", &["acme.com"], 0);
    acme.insert_organization(&org, &[]).await.unwrap();
    assert_eq!(globex.contact(ana.id).await.unwrap(), None);
    assert_eq!(globex.organization(org.id).await.unwrap(), None);
    assert_eq!(globex.contact_by_email(&ana.emails[0]).await.unwrap(), None);
    let all = ListQuery { updated_since: None, sort: ListSort::Name, after: None, limit: 10 };
    assert!(globex.contacts(&all).await.unwrap().is_empty());
    assert_eq!(
        globex.link_contact(ana.id, org.id, &[], at(1)).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    // The same address in another workspace is another contact.
    globex.insert_contact(&contact("Ana at Globex's", &["ana@acme.com"], 1), &[]).await.unwrap();
    assert_eq!(acme.contact_by_email(&ana.emails[0]).await.unwrap(), Some(ana));
}

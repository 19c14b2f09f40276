//! The CRM records on both backends: pipelines, boxes, stage history and the outbox.

use sb_store::{
    BoxCursor, BoxLink, BoxLinks, BoxQuery, BoxRecord, BoxSort, CommentRecord, ContactRecord, FieldRecord,
    NewOutboxEntry, OrganizationRecord, PipelineRecord, StageChange, StageRecord, Store, TaskRecord,
    WorkspaceDb,
};
use sb_test_support::{TestBackend, backend_tests};
use sb_types::{
    BoxId, CommentId, ContactId, Email, ErrorKind, FieldId, FieldType, OrganizationId, PipelineId, StageId,
    TaskId, Timestamp, UserId, WorkspaceName,
};

backend_tests! {
    pipelines_are_created_listed_updated_and_deleted,
    boxes_are_filtered_sorted_and_paged,
    box_updates_are_versioned_and_record_stage_history,
    box_filters_follow_each_part_of_an_update,
    every_change_writes_the_outbox_and_a_refused_one_nothing,
    crm_records_belong_to_one_workspace,
    boxes_are_linked_to_contacts_and_organizations,
    tasks_are_listed_by_box_and_by_due_date,
    comments_are_listed_edited_and_deleted_with_their_box,
}

async fn workspace(store: &Store, name: &str) -> WorkspaceDb {
    let created = store.create_workspace(&WorkspaceName::parse(name).unwrap(), None).await.unwrap();
    store.workspace_db(created.id).await.unwrap()
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_millis(1_700_000_000_000 + second * 1000)
}

fn stage(name: &str) -> StageRecord {
    StageRecord { id: StageId::generate(), name: name.into(), color: "#336699".into() }
}

pub(crate) fn pipeline(name: &str, stages: &[&str]) -> PipelineRecord {
    PipelineRecord {
        id: PipelineId::generate(),
        name: name.into(),
        description: String::new(),
        stages: stages.iter().map(|s| stage(s)).collect(),
        fields: vec![FieldRecord {
            id: FieldId::generate(),
            name: "Size".into(),
            field_type: FieldType::Dropdown,
            options: r#"["S","M"]"#.into(),
        }],
        version: 1,
        created_by: "cli".into(),
        created_at: at(0),
        updated_at: at(0),
    }
}

pub(crate) fn crm_box(pipeline: &PipelineRecord, stage: usize, name: &str, updated: i64) -> BoxRecord {
    BoxRecord {
        id: BoxId::generate(),
        pipeline: pipeline.id,
        stage: pipeline.stages[stage].id,
        name: name.into(),
        notes: String::new(),
        fields: "{}".into(),
        assignees: Vec::new(),
        followers: Vec::new(),
        version: 1,
        created_by: "cli".into(),
        created_at: at(updated),
        updated_at: at(updated),
    }
}

fn created_in(crm_box: &BoxRecord) -> StageChange {
    StageChange { from: None, to: crm_box.stage, changed_by: "cli".into(), changed_at: crm_box.created_at }
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

pub(crate) async fn insert_box(db: &WorkspaceDb, crm_box: &BoxRecord) {
    let outbox = [event("box", crm_box.id.to_string(), "BOX_CREATE")];
    db.insert_box(crm_box, &created_in(crm_box), &outbox).await.unwrap();
}

fn query(pipeline: &PipelineRecord, sort: BoxSort, limit: i64) -> BoxQuery {
    BoxQuery {
        pipeline: pipeline.id,
        stage: None,
        assignee: None,
        field_value: None,
        updated_since: None,
        sort,
        after: None,
        limit,
    }
}

fn names(boxes: &[BoxRecord]) -> Vec<&str> {
    boxes.iter().map(|b| b.name.as_str()).collect()
}

async fn pipelines_are_created_listed_updated_and_deleted(backend: &TestBackend) {
    let store = Store::open(backend.data_dir(), backend.database()).await.unwrap();
    let db = workspace(&store, "Acme").await;
    let sales = pipeline("sales", &["lead", "won"]);
    let hiring = pipeline("hiring", &["applied"]);
    let support = pipeline("support", &["open"]);
    for p in [&sales, &hiring, &support] {
        db.insert_pipeline(p, &[event("pipeline", p.id.to_string(), "PIPELINE_CREATE")]).await.unwrap();
    }
    assert_eq!(db.pipeline(sales.id).await.unwrap(), Some(sales.clone()));
    assert_eq!(db.pipeline(PipelineId::generate()).await.unwrap(), None);

    let first = db.pipelines(None, 2).await.unwrap();
    assert_eq!(first, [hiring.clone(), sales.clone()], "by name, with stages and fields");
    let rest = db.pipelines(Some(("sales", sales.id)), 2).await.unwrap();
    assert_eq!(rest, [support]);

    let mut renamed = sales.clone();
    renamed.name = "deals".into();
    renamed.version = 2;
    renamed.updated_at = at(5);
    renamed.stages = vec![sales.stages[1].clone(), stage("lost"), sales.stages[0].clone()];
    renamed.stages[0].name = "closed".into();
    renamed.fields.clear();
    db.update_pipeline(&renamed, 1, &[]).await.unwrap();
    assert_eq!(db.pipeline(sales.id).await.unwrap(), Some(renamed.clone()), "stages reordered, field gone");

    let stale =
        db.update_pipeline(&PipelineRecord { version: 2, ..sales.clone() }, 1, &[]).await.unwrap_err();
    assert_eq!(stale.kind(), ErrorKind::Conflict);
    assert!(stale.to_string().contains("now at version 2"), "{stale}");
    assert_eq!(db.pipeline(sales.id).await.unwrap(), Some(renamed.clone()), "a stale update changes nothing");
    let unversioned =
        db.update_pipeline(&PipelineRecord { name: "x".into(), ..renamed.clone() }, 2, &[]).await;
    assert_eq!(unversioned.unwrap_err().kind(), ErrorKind::Conflict, "a change needs a new version");
    let missing = db
        .update_pipeline(&PipelineRecord { version: 2, ..pipeline("x", &["a"]) }, 1, &[])
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);

    insert_box(&db, &crm_box(&renamed, 2, "acme deal", 1)).await;
    assert_eq!(db.stage_box_counts(sales.id).await.unwrap(), [(renamed.stages[2].id, 1)]);
    let mut without_lead = renamed.clone();
    without_lead.stages.truncate(2);
    without_lead.version = 3;
    let in_use = db.update_pipeline(&without_lead, 2, &[]).await.unwrap_err();
    assert_eq!(in_use.kind(), ErrorKind::Conflict, "{in_use}");
    assert_eq!(db.pipeline(sales.id).await.unwrap(), Some(renamed.clone()), "nothing half-written");
    let not_empty = db.delete_pipeline(sales.id, &[], at(6)).await.unwrap_err();
    assert_eq!(not_empty.kind(), ErrorKind::Conflict);

    // Another process (the CLI) changes the stages: this handle, which has read the pipeline
    // before, sees the change on its next read.
    let other = Store::open(backend.data_dir(), backend.database()).await.unwrap();
    let mut restaged = renamed.clone();
    restaged.version = 3;
    restaged.stages[1].name = "lost for now".into();
    restaged.fields = sales.fields.clone();
    other.workspace_db(db.workspace()).await.unwrap().update_pipeline(&restaged, 2, &[]).await.unwrap();
    assert_eq!(db.pipeline(sales.id).await.unwrap(), Some(restaged.clone()), "changed elsewhere");
    assert_eq!(db.pipelines(None, 10).await.unwrap()[0], restaged, "listed after a change elsewhere");
    other.close().await;

    db.delete_pipeline(hiring.id, &[], at(6)).await.unwrap();
    assert_eq!(db.pipeline(hiring.id).await.unwrap(), None);
    assert_eq!(db.delete_pipeline(hiring.id, &[], at(6)).await.unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(db.pipelines(None, 10).await.unwrap().len(), 2);
}

async fn boxes_are_filtered_sorted_and_paged(backend: &TestBackend) {
    let store = Store::open(backend.data_dir(), backend.database()).await.unwrap();
    let db = workspace(&store, "Acme").await;
    let sales = pipeline("sales", &["lead", "won"]);
    let other = pipeline("other", &["open"]);
    db.insert_pipeline(&sales, &[]).await.unwrap();
    db.insert_pipeline(&other, &[]).await.unwrap();
    let (ana, bo) = (UserId::generate(), UserId::generate());
    let mut boxes = Vec::new();
    for (i, name) in ["delta", "alpha", "echo", "charlie", "bravo"].into_iter().enumerate() {
        let mut b = crm_box(&sales, i % 2, name, i64::try_from(i).unwrap());
        b.assignees = if i < 2 { vec![ana, bo] } else { vec![bo] };
        insert_box(&db, &b).await;
        boxes.push(b);
    }
    insert_box(&db, &crm_box(&other, 0, "elsewhere", 9)).await;
    assert_eq!(db.crm_box(boxes[0].id).await.unwrap(), Some(boxes[0].clone()));

    let by_update = db.boxes(&query(&sales, BoxSort::Updated, 10)).await.unwrap();
    assert_eq!(names(&by_update), ["bravo", "charlie", "echo", "alpha", "delta"], "newest first");
    let mut page = query(&sales, BoxSort::Name, 2);
    let mut seen = Vec::new();
    loop {
        let got = db.boxes(&page).await.unwrap();
        seen.extend(got.iter().map(|b| b.name.clone()));
        let Some(last) = got.last().filter(|_| got.len() == 2) else { break };
        page.after = Some(BoxCursor { key: last.name.clone(), id: last.id });
    }
    assert_eq!(seen, ["alpha", "bravo", "charlie", "delta", "echo"], "pages by name, each box once");
    let mut after_echo = query(&sales, BoxSort::Updated, 10);
    after_echo.after = Some(BoxCursor { key: boxes[2].updated_at.to_string(), id: boxes[2].id });
    assert_eq!(names(&db.boxes(&after_echo).await.unwrap()), ["alpha", "delta"]);

    let mut filtered = query(&sales, BoxSort::Name, 10);
    filtered.stage = Some(sales.stages[1].id);
    assert_eq!(names(&db.boxes(&filtered).await.unwrap()), ["alpha", "charlie"]);
    filtered.stage = None;
    filtered.assignee = Some(ana);
    assert_eq!(names(&db.boxes(&filtered).await.unwrap()), ["alpha", "delta"]);
    filtered.assignee = None;
    filtered.updated_since = Some(at(3));
    assert_eq!(names(&db.boxes(&filtered).await.unwrap()), ["bravo", "charlie"]);
    filtered.updated_since = None;
    filtered.stage = Some(sales.stages[0].id);
    filtered.assignee = Some(ana);
    assert_eq!(names(&db.boxes(&filtered).await.unwrap()), ["delta"], "filters combine");
}

async fn box_updates_are_versioned_and_record_stage_history(backend: &TestBackend) {
    let store = Store::open(backend.data_dir(), backend.database()).await.unwrap();
    let db = workspace(&store, "Acme").await;
    let sales = pipeline("sales", &["lead", "won"]);
    let other = pipeline("other", &["open"]);
    db.insert_pipeline(&sales, &[]).await.unwrap();
    db.insert_pipeline(&other, &[]).await.unwrap();
    let original = crm_box(&sales, 0, "deal", 0);
    insert_box(&db, &original).await;

    let mut moved = original.clone();
    moved.stage = sales.stages[1].id;
    moved.fields = r#"{"f":"S"}"#.into();
    moved.assignees = vec![UserId::generate()];
    moved.version = 2;
    moved.updated_at = at(1);
    let change = StageChange {
        from: Some(original.stage),
        to: moved.stage,
        changed_by: "user:x".into(),
        changed_at: at(1),
    };
    db.update_box(&original, &moved, Some(&change), &[]).await.unwrap();
    assert_eq!(db.crm_box(original.id).await.unwrap(), Some(moved.clone()));
    assert_eq!(db.stage_history(original.id).await.unwrap(), [created_in(&original), change]);

    let stale = db.update_box(&original, &original, None, &[]).await.unwrap_err();
    assert_eq!(stale.kind(), ErrorKind::Conflict);
    assert!(stale.to_string().contains("now at version 2"), "{stale}");
    let mut foreign_stage = moved.clone();
    foreign_stage.stage = other.stages[0].id;
    foreign_stage.version = 3;
    let refused = db.update_box(&moved, &foreign_stage, None, &[]).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Conflict, "a stage of another pipeline: {refused}");
    let mut into_other = crm_box(&sales, 0, "stray", 0);
    into_other.stage = other.stages[0].id;
    let refused = db.insert_box(&into_other, &created_in(&into_other), &[]).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Conflict);
    assert_eq!(db.crm_box(into_other.id).await.unwrap(), None);
    assert_eq!(db.crm_box(original.id).await.unwrap(), Some(moved.clone()), "refused updates change nothing");
    let ghost = crm_box(&sales, 0, "ghost", 0);
    let missing = db.update_box(&ghost, &ghost, None, &[]).await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);

    db.delete_box(original.id, &[], at(2)).await.unwrap();
    assert_eq!(db.crm_box(original.id).await.unwrap(), None);
    assert!(db.stage_history(original.id).await.unwrap().is_empty());
    assert_eq!(db.delete_box(original.id, &[], at(2)).await.unwrap_err().kind(), ErrorKind::NotFound);
    db.delete_pipeline(sales.id, &[], at(3)).await.unwrap();
}

/// An update rewrites only the side rows (assignees, field values) that changed: the filters
/// that read them must still find exactly the box as it now is after each kind of change.
async fn box_filters_follow_each_part_of_an_update(backend: &TestBackend) {
    let store = Store::open(backend.data_dir(), backend.database()).await.unwrap();
    let db = workspace(&store, "Acme").await;
    let sales = pipeline("sales", &["lead", "won"]);
    db.insert_pipeline(&sales, &[]).await.unwrap();
    let size = sales.fields[0].id;
    let (ana, bo) = (UserId::generate(), UserId::generate());
    let mut deal = crm_box(&sales, 0, "deal", 0);
    deal.assignees = vec![ana];
    deal.fields = format!(r#"{{"{size}":"S"}}"#);
    insert_box(&db, &deal).await;
    let found = |assignee: Option<UserId>, value: Option<&str>| {
        let mut filter = query(&sales, BoxSort::Name, 10);
        filter.assignee = assignee;
        filter.field_value = value.map(|v| (size, v.to_owned()));
        let db = &db;
        async move { db.boxes(&filter).await.unwrap().len() }
    };
    let update = |previous: &BoxRecord, change: &dyn Fn(&mut BoxRecord)| {
        let mut next = previous.clone();
        change(&mut next);
        next.version += 1;
        next
    };

    let renamed = update(&deal, &|b| b.name = "deal, renamed".into());
    db.update_box(&deal, &renamed, None, &[]).await.unwrap();
    assert_eq!((found(Some(ana), None).await, found(None, Some("S")).await), (1, 1), "a rename keeps both");

    let reassigned = update(&renamed, &|b| b.assignees = vec![bo]);
    db.update_box(&renamed, &reassigned, None, &[]).await.unwrap();
    assert_eq!((found(Some(ana), None).await, found(Some(bo), None).await), (0, 1));
    assert_eq!(found(None, Some("S")).await, 1, "a new assignee keeps the field value");

    let resized = update(&reassigned, &|b| b.fields = format!(r#"{{"{size}":"M"}}"#));
    db.update_box(&reassigned, &resized, None, &[]).await.unwrap();
    assert_eq!((found(None, Some("S")).await, found(None, Some("M")).await), (0, 1));
    assert_eq!(found(Some(bo), None).await, 1, "a new field value keeps the assignee");

    let stale = update(&deal, &|b| b.assignees = vec![ana]);
    assert_eq!(db.update_box(&deal, &stale, None, &[]).await.unwrap_err().kind(), ErrorKind::Conflict);
    assert_eq!((found(Some(ana), None).await, found(Some(bo), None).await), (0, 1), "a refused update");
}

async fn every_change_writes_the_outbox_and_a_refused_one_nothing(backend: &TestBackend) {
    let store = Store::open(backend.data_dir(), backend.database()).await.unwrap();
    let db = workspace(&store, "Acme").await;
    let sales = pipeline("sales", &["lead"]);
    db.insert_pipeline(&sales, &[event("pipeline", sales.id.to_string(), "PIPELINE_CREATE")]).await.unwrap();
    let deal = crm_box(&sales, 0, "deal", 0);
    insert_box(&db, &deal).await;
    let seen = BoxRecord { version: 7, ..deal.clone() };
    let stale = db.update_box(&seen, &deal, None, &[event("box", deal.id.to_string(), "BOX_EDIT")]).await;
    assert_eq!(stale.unwrap_err().kind(), ErrorKind::Conflict);
    let delete = [event("box", deal.id.to_string(), "BOX_DELETE")];
    db.delete_box(deal.id, &delete, at(1)).await.unwrap();

    let rows = db.outbox_after(0, 10).await.unwrap();
    let got: Vec<(i64, &str, &str)> =
        rows.iter().map(|r| (r.id, r.object_kind.as_str(), r.event.as_str())).collect();
    assert_eq!(got, [(1, "pipeline", "PIPELINE_CREATE"), (2, "box", "BOX_CREATE"), (3, "box", "BOX_DELETE")]);
    assert_eq!(rows[1].object_id, deal.id.to_string());
    assert_eq!((rows[1].payload.as_str(), rows[2].created_at), ("{}", at(1)));
    assert_eq!(db.outbox_after(2, 10).await.unwrap().len(), 1);
}

async fn crm_records_belong_to_one_workspace(backend: &TestBackend) {
    let store = Store::open(backend.data_dir(), backend.database()).await.unwrap();
    let acme = workspace(&store, "Acme").await;
    let globex = workspace(&store, "Globex").await;
    let sales = pipeline("sales", &["lead"]);
    acme.insert_pipeline(&sales, &[]).await.unwrap();
    let deal = crm_box(&sales, 0, "deal", 0);
    insert_box(&acme, &deal).await;
    assert_eq!(globex.pipeline(sales.id).await.unwrap(), None);
    assert!(globex.pipelines(None, 10).await.unwrap().is_empty());
    assert_eq!(globex.crm_box(deal.id).await.unwrap(), None);
    assert_eq!(globex.delete_box(deal.id, &[], at(1)).await.unwrap_err().kind(), ErrorKind::NotFound);
    let refused = globex.insert_box(&deal, &created_in(&deal), &[]).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Conflict, "Acme's pipeline is not in Globex's database");
    assert!(globex.outbox_after(0, 10).await.unwrap().is_empty());
    assert_eq!(acme.crm_box(deal.id).await.unwrap(), Some(deal));
}

async fn boxes_are_linked_to_contacts_and_organizations(backend: &TestBackend) {
    let store = Store::open(backend.data_dir(), backend.database()).await.unwrap();
    let db = workspace(&store, "Acme").await;
    let sales = pipeline("sales", &["lead"]);
    db.insert_pipeline(&sales, &[]).await.unwrap();
    let (older, newer, other) =
        (crm_box(&sales, 0, "older", 1), crm_box(&sales, 0, "newer", 2), crm_box(&sales, 0, "other", 3));
    for crm_box in [&older, &newer, &other] {
        insert_box(&db, crm_box).await;
    }
    let acme = OrganizationRecord {
        id: OrganizationId::generate(),
        name: "Acme".into(),
        domains: vec![sb_types::Domain::parse("acme.com").unwrap()],
        custom: "{}".into(),
        version: 1,
        created_by: "cli".into(),
        created_at: at(0),
        updated_at: at(0),
    };
    db.insert_organization(&acme, &[]).await.unwrap();
    let ana = ContactRecord {
        id: ContactId::generate(),
        name: "Ana".into(),
        emails: vec![Email::parse("ana@acme.com").unwrap()],
        phones: "[]".into(),
        addresses: "[]".into(),
        title: String::new(),
        custom: "{}".into(),
        version: 1,
        created_by: "cli".into(),
        created_at: at(0),
        updated_at: at(0),
    };
    db.insert_contact(&ana, &[]).await.unwrap();

    let link = [event("box", older.id.to_string(), "BOX_LINK")];
    db.link_box(older.id, BoxLink::Contact(ana.id), true, &link, at(4)).await.unwrap();
    db.link_box(older.id, BoxLink::Contact(ana.id), true, &[], at(4)).await.unwrap();
    db.link_box(newer.id, BoxLink::Organization(acme.id), true, &[], at(4)).await.unwrap();
    assert_eq!(
        db.box_links(older.id).await.unwrap(),
        BoxLinks { contacts: vec![ana.id], ..BoxLinks::default() }
    );
    assert_eq!(
        db.box_links(newer.id).await.unwrap(),
        BoxLinks { organizations: vec![acme.id], ..BoxLinks::default() }
    );
    let names = |boxes: Vec<BoxRecord>| boxes.into_iter().map(|b| b.name).collect::<Vec<_>>();
    assert_eq!(names(db.contact_boxes(ana.id).await.unwrap()), ["older"]);
    assert_eq!(
        names(db.organization_boxes(acme.id).await.unwrap()),
        ["newer", "older"],
        "an organization's boxes include its contacts' boxes, newest first"
    );

    let missing = db.link_box(other.id, BoxLink::Contact(ContactId::generate()), true, &[], at(5)).await;
    assert_eq!(missing.unwrap_err().kind(), ErrorKind::NotFound);
    let missing = db.link_box(BoxId::generate(), BoxLink::Organization(acme.id), true, &[], at(5)).await;
    assert_eq!(missing.unwrap_err().kind(), ErrorKind::NotFound);
    let not_linked = db.link_box(other.id, BoxLink::Contact(ana.id), false, &[], at(5)).await;
    assert_eq!(not_linked.unwrap_err().kind(), ErrorKind::NotFound);
    db.link_box(newer.id, BoxLink::Organization(acme.id), false, &[], at(5)).await.unwrap();
    assert_eq!(names(db.organization_boxes(acme.id).await.unwrap()), ["older"]);
    db.delete_contact(ana.id, &[], at(6)).await.unwrap();
    assert_eq!(
        db.box_links(older.id).await.unwrap(),
        BoxLinks::default(),
        "a deleted contact takes its links"
    );
    assert!(db.organization_boxes(acme.id).await.unwrap().is_empty());
    let rows = db.outbox_after(0, 10).await.unwrap();
    assert_eq!(rows.iter().filter(|r| r.event == "BOX_LINK").count(), 1);
}

async fn tasks_are_listed_by_box_and_by_due_date(backend: &TestBackend) {
    let store = Store::open(backend.data_dir(), backend.database()).await.unwrap();
    let db = workspace(&store, "Acme").await;
    let sales = pipeline("sales", &["lead"]);
    db.insert_pipeline(&sales, &[]).await.unwrap();
    let deal = crm_box(&sales, 0, "deal", 0);
    insert_box(&db, &deal).await;
    let (ana, bo) = (UserId::generate(), UserId::generate());
    let task = |text: &str, due: Option<&str>, assignees: Vec<UserId>, second: i64| TaskRecord {
        id: TaskId::generate(),
        box_id: deal.id,
        text: text.into(),
        due_date: due.map(str::to_owned),
        assignees,
        done: false,
        version: 1,
        created_by: "cli".into(),
        created_at: at(second),
        updated_at: at(second),
    };
    let call = task("call", Some("2026-12-01"), vec![ana], 1);
    let mail = task("mail", Some("2026-12-05"), vec![ana, bo], 2);
    let later = task("later", Some("2026-12-24"), vec![ana], 3);
    let someday = task("someday", None, vec![], 4);
    for t in [&call, &mail, &later, &someday] {
        db.insert_task(t, &[event("task", t.id.to_string(), "TASK_CREATE")]).await.unwrap();
    }
    let texts = |tasks: Vec<TaskRecord>| tasks.into_iter().map(|t| t.text).collect::<Vec<_>>();
    assert_eq!(texts(db.box_tasks(deal.id).await.unwrap()), ["call", "mail", "later", "someday"]);
    assert_eq!(texts(db.due_tasks("2026-12-05", None).await.unwrap()), ["call", "mail"]);
    assert_eq!(texts(db.due_tasks("2026-12-05", Some(bo)).await.unwrap()), ["mail"]);

    let mut done = call.clone();
    done.done = true;
    done.assignees = vec![bo];
    done.version = 2;
    done.updated_at = at(5);
    db.update_task(&done, 1, &[]).await.unwrap();
    assert_eq!(db.task(call.id).await.unwrap(), Some(done.clone()));
    assert_eq!(
        texts(db.due_tasks("2026-12-31", Some(ana)).await.unwrap()),
        ["mail", "later"],
        "done tasks are not due"
    );
    let stale = db.update_task(&done, 1, &[]).await.unwrap_err();
    assert_eq!(stale.kind(), ErrorKind::Conflict);
    let mut orphan = task("orphan", None, vec![], 6);
    orphan.box_id = BoxId::generate();
    assert_eq!(db.insert_task(&orphan, &[]).await.unwrap_err().kind(), ErrorKind::NotFound);
    db.delete_task(mail.id, &[], at(7)).await.unwrap();
    assert_eq!(db.delete_task(mail.id, &[], at(7)).await.unwrap_err().kind(), ErrorKind::NotFound);
    db.delete_box(deal.id, &[], at(8)).await.unwrap();
    assert_eq!(db.task(later.id).await.unwrap(), None, "a box's tasks go with it");
    assert!(db.due_tasks("2026-12-31", None).await.unwrap().is_empty());
}

async fn comments_are_listed_edited_and_deleted_with_their_box(backend: &TestBackend) {
    let store = Store::open(backend.data_dir(), backend.database()).await.unwrap();
    let db = workspace(&store, "Acme").await;
    let sales = pipeline("sales", &["lead"]);
    db.insert_pipeline(&sales, &[]).await.unwrap();
    let deal = crm_box(&sales, 0, "deal", 0);
    insert_box(&db, &deal).await;
    let comment = |body: &str, second: i64| CommentRecord {
        id: CommentId::generate(),
        box_id: deal.id,
        body: body.into(),
        mentions: vec![UserId::generate()],
        version: 1,
        created_by: "cli".into(),
        created_at: at(second),
        updated_at: at(second),
    };
    let (first, second) = (comment("first", 1), comment("second", 2));
    db.insert_comment(&second, &[event("comment", second.id.to_string(), "COMMENT_CREATE")]).await.unwrap();
    db.insert_comment(&first, &[]).await.unwrap();
    assert_eq!(db.box_comments(deal.id).await.unwrap(), [first.clone(), second.clone()], "oldest first");
    let mut edited = first.clone();
    edited.body = "edited".into();
    edited.mentions = Vec::new();
    edited.version = 2;
    db.update_comment(&edited, 1, &[]).await.unwrap();
    assert_eq!(db.comment(first.id).await.unwrap(), Some(edited.clone()));
    assert_eq!(db.update_comment(&edited, 1, &[]).await.unwrap_err().kind(), ErrorKind::Conflict);
    let mut orphan = comment("orphan", 3);
    orphan.box_id = BoxId::generate();
    assert_eq!(db.insert_comment(&orphan, &[]).await.unwrap_err().kind(), ErrorKind::NotFound);
    db.delete_comment(first.id, &[], at(4)).await.unwrap();
    assert_eq!(db.delete_comment(first.id, &[], at(4)).await.unwrap_err().kind(), ErrorKind::NotFound);
    db.delete_box(deal.id, &[], at(5)).await.unwrap();
    assert_eq!(db.comment(second.id).await.unwrap(), None, "a box's comments go with it");
}

//! Email threads on both backends: messages filed at the same time still find one another's
//! thread, merged threads keep every box, and every change writes an audit row beside its
//! outbox row.

use sb_store::{
    Filed, MessageRecord, NewOutboxEntry, ParticipantRecord, Store, ThreadLinkRecord, WorkspaceDb,
};
use sb_test_support::{TestBackend, backend_tests};
use sb_types::{Email, MessageId, ParticipantRole, ThreadId, ThreadSource, Timestamp, WorkspaceName};

backend_tests! {
    replies_filed_at_the_same_time_share_one_thread,
    merged_threads_keep_their_boxes_and_audit_rows_follow_the_outbox,
}

async fn workspace(store: &Store, name: &str) -> WorkspaceDb {
    let created = store.create_workspace(&WorkspaceName::parse(name).unwrap(), None).await.unwrap();
    store.workspace_db(created.id).await.unwrap()
}

/// A message `id` naming `references`, sent `second` seconds into the test's day.
fn message(id: &str, references: &[String], second: i64) -> MessageRecord {
    MessageRecord {
        id: MessageId::generate(),
        thread: ThreadId::generate(),
        message_id: id.to_owned(),
        in_reply_to: references.last().cloned(),
        references: references.to_vec(),
        subject: format!("about {id}"),
        sent_at: Timestamp::from_millis(1_700_000_000_000 + second * 1000),
        snippet: String::new(),
        body: String::new(),
        participants: vec![ParticipantRecord {
            role: ParticipantRole::From,
            email: Email::parse("ana@acme.com").unwrap(),
            name: "Ana".into(),
        }],
        created_by: "cli".into(),
        created_at: Timestamp::now(),
    }
}

fn thread_of(filed: Filed) -> ThreadId {
    match filed {
        Filed::Stored(thread) => thread,
        Filed::Duplicate(id) => panic!("{id} was not new"),
    }
}

async fn replies_filed_at_the_same_time_share_one_thread(backend: &TestBackend) {
    let store = Store::open(backend.data_dir(), backend.database()).await.unwrap();
    let db = workspace(&store, "Acme").await;
    // A chain of replies, each naming every earlier one, filed all at once: whatever order the
    // writers run in, each must see the ones committed before it.
    let chain: Vec<String> = (0..12).map(|n| format!("chain-{n}@acme.com")).collect();
    let mut writers = Vec::new();
    for (n, id) in chain.iter().enumerate().rev() {
        let (db, record) = (db.clone(), message(id, &chain[..n], i64::try_from(n).unwrap()));
        writers.push(tokio::spawn(async move { db.file_message(&record, None, |_| Vec::new()).await }));
    }
    for writer in writers {
        thread_of(writer.await.unwrap().unwrap());
    }
    let threads = db.threads(None, 10).await.unwrap();
    assert_eq!(threads.len(), 1, "one conversation, one thread: {threads:?}");
    assert_eq!(threads[0].message_count, 12);
    assert_eq!(threads[0].subject, "about chain-0@acme.com");
    assert_eq!(db.thread_messages(threads[0].id).await.unwrap().len(), 12);

    let again = message("chain-3@acme.com", &[], 99);
    assert!(matches!(db.file_message(&again, None, |_| Vec::new()).await.unwrap(), Filed::Duplicate(_)));
}

async fn merged_threads_keep_their_boxes_and_audit_rows_follow_the_outbox(backend: &TestBackend) {
    let store = Store::open(backend.data_dir(), backend.database()).await.unwrap();
    let db = workspace(&store, "Acme").await;
    let pipeline = crate::crm::pipeline("sales", &["lead"]);
    db.insert_pipeline(&pipeline, &[]).await.unwrap();
    let (first_box, second_box) =
        (crate::crm::crm_box(&pipeline, 0, "first", 1), crate::crm::crm_box(&pipeline, 0, "second", 2));
    for crm_box in [&first_box, &second_box] {
        crate::crm::insert_box(&db, crm_box).await;
    }
    let older = thread_of(
        db.file_message(&message("a@x.org", &[], 1), Some(first_box.id), |_| Vec::new()).await.unwrap(),
    );
    let newer = thread_of(db.file_message(&message("b@x.org", &[], 2), None, |_| Vec::new()).await.unwrap());
    assert_ne!(older, newer);
    let link = |box_id, thread, source| ThreadLinkRecord {
        box_id,
        thread,
        source,
        added_by: "cli".into(),
        added_at: Timestamp::now(),
    };
    db.put_thread_link(&link(second_box.id, newer, ThreadSource::Manual), &[]).await.unwrap();
    db.put_thread_link(&link(first_box.id, newer, ThreadSource::Rejected), &[]).await.unwrap();

    let outbox = |thread: ThreadId| {
        vec![NewOutboxEntry {
            object_kind: "message",
            object_id: "c".into(),
            event: "MESSAGE_CREATE",
            payload: format!("{{\"thread\": \"{thread}\"}}"),
            actor: "key:1".into(),
            changes: "{\"subject\": {\"from\": null, \"to\": \"x\"}}".into(),
        }]
    };
    let both = message("c@x.org", &["a@x.org".into(), "b@x.org".into()], 3);
    assert_eq!(
        thread_of(db.file_message(&both, None, outbox).await.unwrap()),
        older,
        "the older thread stays"
    );
    assert_eq!(db.thread(newer).await.unwrap(), None);
    let links: Vec<(String, ThreadSource)> = db
        .thread_links(older)
        .await
        .unwrap()
        .into_iter()
        .map(|l| (if l.box_id == first_box.id { "first" } else { "second" }.to_owned(), l.source))
        .collect();
    let mut links = links;
    links.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        links,
        [("first".to_owned(), ThreadSource::Rejected), ("second".to_owned(), ThreadSource::Manual)],
        "a person's rejection of the merged thread outranks the older thread's automatic filing"
    );

    let sent = db.outbox_after(0, 100).await.unwrap();
    let audit = db.audit(None, None, 100).await.unwrap();
    let ids = |rows: Vec<i64>| rows.into_iter().rev().collect::<Vec<_>>();
    assert_eq!(
        ids(audit.iter().map(|a| a.id).collect()),
        sent.iter().map(|s| s.id).collect::<Vec<_>>(),
        "one audit row per outbox row, under the same id"
    );
    let (last, audit) = (sent.last().unwrap(), &audit[0]);
    assert_eq!(audit.id, last.id);
    assert_eq!((audit.actor.as_str(), audit.event.as_str()), ("key:1", "MESSAGE_CREATE"));
    assert_eq!(audit.changes, "{\"subject\": {\"from\": null, \"to\": \"x\"}}");
    assert_eq!(last.payload, format!("{{\"thread\": \"{older}\"}}"));
    assert!(db.audit(Some("c"), Some(audit.id), 10).await.unwrap().is_empty(), "nothing before it");
}

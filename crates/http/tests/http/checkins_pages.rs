//! The check-in pages: the team's day with entries added, liked, commented, edited and deleted
//! through their forms (blockers first, goals as boxes, tags linked, user text escaped), my
//! calendar and streak, a member's paged history, tags, the schedule with its 409 on a stale
//! version and members' own rows, and the admins' outbox; viewers get no controls.

use axum::http::{Method, StatusCode};
use chrono::{Days, NaiveDate};
use sb_core::{MailSetup, ReceivedVia, ReplyToken};
use sb_mail::providers::{DeliveryEvent, DeliveryEventKind};
use sb_test_support::{TestBackend, backend_tests};
use sb_types::{Role, Timestamp, UserId};
use serde_json::json;

use crate::crm::ok;
use crate::support::{Browser, TestApp, TestResponse};

backend_tests!(
    checkin_pages_render_and_viewers_get_no_controls,
    entries_are_added_liked_commented_edited_and_deleted_through_the_pages,
    my_page_shows_the_calendar_and_streak_and_histories_are_paged,
    the_schedule_page_saves_and_explains_refusals,
    the_outbox_page_shows_admins_what_was_sent_and_received
);

const DOMAIN: &str = "in.acme.test";

/// A user added to the first workspace with `role`, logged in.
async fn member(app: &TestApp, email: &str, role: Role) -> (UserId, Browser) {
    let access = app.switchboard.operator_access(app.first.workspace.id).await.unwrap();
    let name = email.split('@').next().unwrap();
    app.switchboard.create_user(email, Some(name), Some("correct horse".into())).await.unwrap();
    app.switchboard.add_member(&access, email, role).await.unwrap();
    let members = app.switchboard.members(&access).await.unwrap();
    let id = members.iter().find(|m| m.user.email.as_str() == email).unwrap().user.id;
    (id, app.login(email, "correct horse").await)
}

async fn owner_id(app: &TestApp) -> UserId {
    let access = app.switchboard.operator_access(app.first.workspace.id).await.unwrap();
    let members = app.switchboard.members(&access).await.unwrap();
    members.iter().find(|m| m.user.email.as_str() == app.owner_email).unwrap().user.id
}

/// Today for `user`, as the pages see it.
async fn today(app: &TestApp, user: UserId) -> NaiveDate {
    let access = app.switchboard.user_access(user, app.first.workspace.id).await.unwrap();
    app.switchboard.checkin_today(&access, user, Timestamp::now()).await.unwrap()
}

/// Adds `text` as `user`'s entries of `date` with the master key.
async fn add(app: &TestApp, user: UserId, date: NaiveDate, text: &str) {
    let path = format!("/api/v1/workspaces/{}/checkins/entries", app.first.workspace.id);
    let body = json!({"user": user.to_string(), "date": date.to_string(), "text": text});
    let response = app.key_json(&app.first.master.secret, Method::POST, &path, Some(body)).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
}

/// Posts a page's form with its CSRF token.
async fn post(
    app: &TestApp,
    browser: &mut Browser,
    csrf: &str,
    path: &str,
    form: &[(&str, &str)],
) -> TestResponse {
    let mut fields = vec![("csrf", csrf)];
    fields.extend_from_slice(form);
    app.post_form(browser, path, &fields, &[]).await
}

/// The ids of the entries on a page, in order.
fn entry_ids(page: &TestResponse) -> Vec<String> {
    page.body.split("data-entry=\"").skip(1).map(|rest| rest[..24].to_owned()).collect()
}

async fn checkin_pages_render_and_viewers_get_no_controls(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let w = app.first.workspace.id.to_string();
    let owner = owner_id(&app).await;
    add(&app, owner, today(&app, owner).await, "Shipped the export #billing\n! Waiting on legal").await;
    let (_, mut viewer) = member(&app, "vic@acme.com", Role::Viewer).await;
    let mut admin = app.login_owner().await;
    let pages = [
        (format!("/w/{w}/checkins"), "<title>Check-ins · "),
        (format!("/w/{w}/checkins/me"), "<title>My entries · "),
        (format!("/w/{w}/checkins/members/{owner}"), "<title>Owner · Check-ins · "),
        (format!("/w/{w}/checkins/tags"), "<title>Tags · Check-ins · "),
        (format!("/w/{w}/checkins/tags/billing"), "<title>#billing · Check-ins · "),
        (format!("/w/{w}/checkins/settings"), "<title>Schedule · Check-ins · "),
    ];
    for (path, title) in &pages {
        let page = app.browse(&mut admin, path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.body.contains(title), "{path} has the title {title}: {}", page.body);
        assert!(
            page.body.contains(&format!("href=\"/w/{w}/checkins\" aria-current=\"page\"")),
            "{path} is under Check-ins"
        );
        assert!(page.body.contains("Outbox</a>"), "admins see the outbox tab on {path}");

        let page = app.browse(&mut viewer, path).await;
        assert_eq!(page.status, StatusCode::OK, "{path} for a viewer");
        for control in [
            "id=\"add-entries\"",
            "id=\"schedule\"",
            "id=\"add-holiday\"",
            "/edit\"",
            "/delete\"",
            "Outbox</a>",
        ] {
            assert!(!page.body.contains(control), "no {control} for a viewer on {path}");
        }
    }
    let feed = app.browse(&mut admin, &format!("/w/{w}/checkins")).await;
    assert!(
        feed.body.contains("id=\"add-entries\"") && feed.body.contains("/edit\""),
        "the owner writes and edits"
    );
    let outbox = app.browse(&mut viewer, &format!("/w/{w}/checkins/outbox")).await;
    assert_eq!(outbox.status, StatusCode::FORBIDDEN, "the outbox is for admins");
    assert!(outbox.body.contains("Admins only"));
    for (path, status) in [
        (format!("/w/{w}/checkins/members/{}", "f".repeat(24)), StatusCode::NOT_FOUND),
        (format!("/w/{w}/checkins/members/nope"), StatusCode::NOT_FOUND),
        (format!("/w/{w}/checkins/outbox/nope"), StatusCode::NOT_FOUND),
        (format!("/w/{w}/checkins?date=2026-02-30"), StatusCode::BAD_REQUEST),
        (format!("/w/{w}/checkins/tags/nothing-here"), StatusCode::OK),
    ] {
        assert_eq!(app.browse(&mut admin, &path).await.status, status, "{path}");
    }
    assert_eq!(
        app.get(&format!("/w/{w}/checkins"), None).await.status,
        StatusCode::SEE_OTHER,
        "pages need a session"
    );
}

async fn entries_are_added_liked_commented_edited_and_deleted_through_the_pages(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let w = app.first.workspace.id.to_string();
    let (ana, mut browser) = member(&app, "ana@acme.com", Role::Member).await;
    let day = today(&app, ana).await;
    let feed_path = format!("/w/{w}/checkins");
    let page = app.browse(&mut browser, &feed_path).await;
    assert_eq!(page.field("date"), day.to_string(), "the box adds to the day shown");
    let csrf = page.csrf();

    let text =
        "Shipped <b>the export</b> #Billing\n[] Write the migration\n[x] Fix login\n! Waiting on legal";
    let added = post(
        &app,
        &mut browser,
        &csrf,
        &format!("/w/{w}/checkins/entries"),
        &[("date", &day.to_string()), ("text", text)],
    )
    .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    assert_eq!(added.location(), format!("/w/{w}/checkins?date={day}"));
    let feed = app.browse(&mut browser, &feed_path).await;
    let body = &feed.body;
    assert!(body.contains("Shipped &lt;b&gt;the export&lt;&#x2f;b&gt; "), "user text is escaped: {body}");
    assert!(
        body.contains(&format!("<a class=\"tag\" href=\"/w/{w}/checkins/tags/billing\">#Billing</a>")),
        "{body}"
    );
    let blocker = body.find("entry-text\">Waiting on legal").unwrap();
    assert!(
        blocker < body.find("entry-text\">Shipped").unwrap()
            && body.contains("class=\"entry entry-blocker\""),
        "blockers first"
    );
    assert!(body.contains(">[ ]</span>") && body.contains(">[x]</span>"), "goals as boxes");
    assert!(body.contains("has-blockers"), "the member's day is highlighted");

    let refused = post(
        &app,
        &mut browser,
        &csrf,
        &format!("/w/{w}/checkins/entries"),
        &[("date", &day.to_string()), ("text", "  \n")],
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("Not saved: text holds no entry"), "{}", refused.body);
    let forged = app
        .post_form(
            &mut browser,
            &format!("/w/{w}/checkins/entries"),
            &[("date", "2026-01-01"), ("text", "x")],
            &[],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "a form without its token changes nothing");

    let ids = entry_ids(&feed);
    assert_eq!(ids.len(), 4);
    let back = format!("/w/{w}/checkins?date={day}");
    let entry = |id: &str, action: &str| format!("/w/{w}/checkins/entries/{id}/{action}");
    let liked =
        post(&app, &mut browser, &csrf, &entry(&ids[0], "like"), &[("like", "true"), ("back", &back)]).await;
    assert_eq!((liked.status, liked.location()), (StatusCode::SEE_OTHER, back.as_str()));
    let comment = "<script>alert(1)</script> nice";
    let commented = post(
        &app,
        &mut browser,
        &csrf,
        &entry(&ids[0], "comments"),
        &[("text", comment), ("back", "https://evil.test/")],
    )
    .await;
    assert_eq!(commented.location(), feed_path, "forms go back to check-in pages only");
    let feed = app.browse(&mut browser, &feed_path).await;
    assert!(
        feed.body.contains("aria-pressed=\"true\">Like <span class=\"like-count\" data-likes>1</span>"),
        "{}",
        feed.body
    );
    assert!(
        feed.body.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; nice")
            && !feed.body.contains("<script>alert")
    );

    // Ana's goal, edited: text and completion; a stale version is refused and explained.
    let goal = &ids[2];
    let edit = [
        ("text", "Write the migration #db"),
        ("kind", "goal"),
        ("completed", "on"),
        ("version", "1"),
        ("back", back.as_str()),
    ];
    let edited = post(&app, &mut browser, &csrf, &entry(goal, "edit"), &edit).await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.body);
    let stale = post(&app, &mut browser, &csrf, &entry(goal, "edit"), &edit).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(stale.body.contains("Someone changed this entry"), "{}", stale.body);
    let feed = app.browse(&mut browser, &feed_path).await;
    assert!(
        feed.body.contains(">[x]</span> <span class=\"entry-text\">Write the migration <a class=\"tag\""),
        "{}",
        feed.body
    );

    // The owner sees Ana's entries without her edit controls being hers: admins may edit.
    let (_, mut bob) = member(&app, "bob@acme.com", Role::Member).await;
    let theirs = app.browse(&mut bob, &feed_path).await;
    assert!(!theirs.body.contains("/edit\""), "another member cannot edit Ana's entries");
    let bob_csrf = theirs.csrf();
    let denied = post(&app, &mut bob, &bob_csrf, &entry(goal, "delete"), &[]).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    let deleted =
        post(&app, &mut browser, &csrf, &entry(goal, "delete"), &[("back", &format!("/w/{w}/checkins/me"))])
            .await;
    assert_eq!(deleted.location(), format!("/w/{w}/checkins/me"));
    let gone = post(&app, &mut browser, &csrf, &entry(goal, "delete"), &[]).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(entry_ids(&app.browse(&mut browser, &feed_path).await).len(), 3);
    let tags = app.browse(&mut browser, &format!("/w/{w}/checkins/tags")).await;
    assert!(tags.body.contains("#billing</a> <span class=\"muted\">1 entry</span>"), "{}", tags.body);
    let tag = app.browse(&mut browser, &format!("/w/{w}/checkins/tags/billing")).await;
    assert_eq!(entry_ids(&tag).len(), 1);
    assert!(
        tag.body.contains(&format!("/checkins/members/{ana}\">ana</a>")),
        "the tag page names the author"
    );
}

async fn my_page_shows_the_calendar_and_streak_and_histories_are_paged(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let w = app.first.workspace.id.to_string();
    let owner = owner_id(&app).await;
    let settings = format!("/api/v1/workspaces/{w}/checkins/settings");
    let every_day = json!({"version": 1, "workdays": "1234567"});
    ok(app.key_json(&app.first.master.secret, Method::PATCH, &settings, Some(every_day)).await);
    let day = today(&app, owner).await;
    let back = |n: u64| day.checked_sub_days(Days::new(n)).unwrap();
    for n in [0, 1, 2, 4] {
        add(&app, owner, back(n), &format!("Day {n}")).await;
    }
    let mut browser = app.login_owner().await;
    let page = app.browse(&mut browser, &format!("/w/{w}/checkins/me")).await;
    assert!(page.body.contains("<span class=\"stat-value\" id=\"streak\">3</span>"), "{}", page.body);
    assert!(
        page.body.contains(&format!("class=\"day has-entries today\" data-date=\"{day}\"")),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!("class=\"day\" data-date=\"{}\"", back(3))), "a day without entries");
    assert_eq!(page.body.matches("day has-entries").count(), 4);
    assert!(
        page.body.contains(&format!("href=\"/w/{w}/checkins?date={}\"", back(4))),
        "days link to their feed"
    );

    // 55 more entries on one day: the history shows 50 of the 59, then the other 9 from the cursor.
    let lines: Vec<String> = (1..=55).map(|n| format!("Task {n}")).collect();
    add(&app, owner, back(10), &lines.join("\n")).await;
    let history = app.browse(&mut browser, &format!("/w/{w}/checkins/members/{owner}")).await;
    assert_eq!(entry_ids(&history).len(), 50);
    assert!(history.body.contains("<span id=\"streak\">3</span>"));
    let href =
        history.body.split("?cursor=").nth(1).and_then(|r| r.split('"').next()).expect("an older page");
    let older = app.browse(&mut browser, &format!("/w/{w}/checkins/members/{owner}?cursor={href}")).await;
    assert_eq!(older.status, StatusCode::OK, "{}", older.body);
    assert_eq!(entry_ids(&older).len(), 9, "{}", older.body);
    assert!(!older.body.contains("?cursor="), "the last page");
    assert!(older.body.contains(">Newest</a>"));
}

async fn the_schedule_page_saves_and_explains_refusals(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let w = app.first.workspace.id.to_string();
    let path = format!("/w/{w}/checkins/settings");
    let mut admin = app.login_owner().await;
    let page = app.browse(&mut admin, &path).await;
    let (csrf, version) = (page.csrf(), page.field("version"));
    let form = [
        ("version", version.as_str()),
        ("enabled", "on"),
        ("question", "What did you ship?"),
        ("prompt_time", "18:30"),
        ("digest_time", "08:15"),
        ("reminder_time", ""),
        ("timezone", "Europe/Lisbon"),
        ("workday1", "on"),
        ("workday2", "on"),
        ("workday3", "on"),
        ("workday4", "on"),
    ];
    let saved = post(&app, &mut admin, &csrf, &path, &form).await;
    assert_eq!((saved.status, saved.location()), (StatusCode::SEE_OTHER, path.as_str()), "{}", saved.body);
    let api = format!("/api/v1/workspaces/{w}/checkins/settings");
    let stored = ok(app.key_json(&app.first.master.secret, Method::GET, &api, None).await);
    assert_eq!(
        (&stored["prompt_time"], &stored["workdays"], &stored["timezone"], &stored["enabled"]),
        (&json!("18:30"), &json!("1234"), &json!("Europe/Lisbon"), &json!(true))
    );
    let page = app.browse(&mut admin, &path).await;
    assert!(
        page.body.contains("value=\"18:30\"") && page.body.contains("name=\"workday5\"> Friday"),
        "{}",
        page.body
    );

    let stale = post(&app, &mut admin, &csrf, &path, &form).await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(stale.body.contains("Someone changed the schedule since you loaded this page"), "{}", stale.body);
    let mut bad = form;
    let version = stored["version"].to_string();
    bad[0] = ("version", version.as_str());
    bad[3] = ("prompt_time", "25:00");
    let refused = post(&app, &mut admin, &csrf, &path, &bad).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("Not saved: prompt_time must be a time of day"), "{}", refused.body);

    let holidays = format!("{path}/holidays");
    let added =
        post(&app, &mut admin, &csrf, &holidays, &[("version", &version), ("add", "2026-12-25")]).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let page = app.browse(&mut admin, &path).await;
    assert!(page.body.contains("<span>2026-12-25</span>"));
    let version = page.field("version");
    post(&app, &mut admin, &csrf, &holidays, &[("version", &version), ("remove", "2026-12-25")]).await;
    assert!(
        !app.browse(&mut admin, &path).await.body.contains("<span>2026-12-25</span>"),
        "the holiday is removed"
    );

    // A member: their own row only; the schedule is read-only.
    let (ana, mut browser) = member(&app, "ana@acme.com", Role::Member).await;
    let owner = owner_id(&app).await;
    let page = app.browse(&mut browser, &path).await;
    assert!(!page.body.contains("id=\"schedule\"") && page.body.contains("<dd>18:30</dd>"));
    assert!(
        page.body.contains(&format!("id=\"member-{ana}\""))
            && !page.body.contains(&format!("id=\"member-{owner}\""))
    );
    let csrf = page.csrf();
    let mine = [
        ("timezone", "Asia/Tokyo"),
        ("vacation_from", "2026-12-21"),
        ("vacation_until", "2026-12-31"),
        ("digest", "on"),
    ];
    let saved = post(&app, &mut browser, &csrf, &format!("/w/{w}/checkins/members/{ana}"), &mine).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let members = ok(app
        .key_json(
            &app.first.master.secret,
            Method::GET,
            &format!("/api/v1/workspaces/{w}/checkins/members"),
            None,
        )
        .await);
    let row =
        members["members"].as_array().unwrap().iter().find(|m| m["user"] == ana.to_string()).unwrap().clone();
    assert_eq!(
        (&row["timezone"], &row["vacation_from"], &row["vacation_until"], &row["prompts"], &row["digest"]),
        (&json!("Asia/Tokyo"), &json!("2026-12-21"), &json!("2026-12-31"), &json!(false), &json!(true)),
        "{row}"
    );
    let theirs = post(&app, &mut browser, &csrf, &format!("/w/{w}/checkins/members/{owner}"), &mine).await;
    assert_eq!(theirs.status, StatusCode::FORBIDDEN);
    assert!(theirs.body.contains("only owners and admins"), "{}", theirs.body);
    let schedule = post(&app, &mut browser, &csrf, &path, &form).await;
    assert_eq!(schedule.status, StatusCode::FORBIDDEN);
    let backwards = [("vacation_from", "2026-12-31"), ("vacation_until", "2026-12-01")];
    let refused =
        post(&app, &mut browser, &csrf, &format!("/w/{w}/checkins/members/{ana}"), &backwards).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
}

async fn the_outbox_page_shows_admins_what_was_sent_and_received(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    app.switchboard.set_mail_setup(MailSetup::local(DOMAIN, "https://sb.acme.test"));
    let w = app.first.workspace.id.to_string();
    let (ana, mut ana_browser) = member(&app, "ana@acme.com", Role::Member).await;
    let api = format!("/api/v1/workspaces/{w}/checkins/settings");
    let on = json!({"version": 1, "enabled": true, "timezone": "UTC"});
    ok(app.key_json(&app.first.master.secret, Method::PATCH, &api, Some(on)).await);
    app.switchboard.run_checkins(Timestamp::parse("2026-12-04T12:00:00.000Z").unwrap()).await.unwrap();
    let access = app.switchboard.operator_access(app.first.workspace.id).await.unwrap();
    let mail = app.switchboard.mail_outbox(&access, None, 10).await.unwrap();
    let prompt = mail.iter().find(|m| m.recipient == "ana@acme.com").expect("Ana's prompt");
    let event = DeliveryEvent {
        email: "ana@acme.com".into(),
        kind: DeliveryEventKind::Unsubscribe,
        timestamp: 1_796_000_000,
        event_id: Some("ev-1".into()),
        message_id: Some(prompt.message_id.clone()),
        reason: String::new(),
        status: None,
    };
    assert_eq!(app.switchboard.apply_delivery_events(&[event]).await.unwrap(), 1);
    let token =
        ReplyToken { workspace: app.first.workspace.id, user: ana, date: "2026-12-04".parse().unwrap() };
    let to = token.address(app.switchboard.secret(), DOMAIN);
    let forged = format!(
        "From: mallory@evil.test\r\nTo: {to}\r\nSubject: <i>Re</i>\r\nMessage-ID: <f1@evil.test>\r\n\r\nDeleted the backups\r\n"
    );
    app.switchboard
        .receive_mail(forged.into_bytes(), ReceivedVia::Smtp, None, vec![to.clone()])
        .await
        .unwrap();

    let mut admin = app.login_owner().await;
    let path = format!("/w/{w}/checkins/outbox");
    let page = app.browse(&mut admin, &path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("<strong data-count=\"scheduled\">2</strong>"), "{}", page.body);
    assert!(page.body.contains(&format!("href=\"/w/{w}/checkins/outbox/{}\"", prompt.id)));
    assert!(
        page.body.contains("<td>ana@acme.com</td><td>unsubscribe</td>"),
        "the suppression list: {}",
        page.body
    );
    assert!(
        page.body.contains("state-flagged\">flagged</span></td><td>")
            && page.body.contains("mallory@evil.test")
    );
    assert!(page.body.contains("&lt;i&gt;Re&lt;&#x2f;i&gt;"), "subjects are escaped");
    let filtered = app.browse(&mut admin, &format!("{path}?state=sent")).await;
    assert!(filtered.body.contains("No messages in this state."));
    assert_eq!(app.browse(&mut admin, &format!("{path}?state=lost")).await.status, StatusCode::BAD_REQUEST);

    let detail = app.browse(&mut admin, &format!("{path}/{}", prompt.id)).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(
        detail.body.contains("Not attempted yet.") && detail.body.contains("<dd>ana@acme.com</dd>"),
        "{}",
        detail.body
    );
    assert_eq!(app.browse(&mut admin, &format!("{path}/{ana}")).await.status, StatusCode::NOT_FOUND);

    let csrf = page.csrf();
    let removed =
        post(&app, &mut admin, &csrf, &format!("{path}/suppressions/remove"), &[("address", "ana@acme.com")])
            .await;
    assert_eq!((removed.status, removed.location()), (StatusCode::SEE_OTHER, path.as_str()));
    assert!(app.browse(&mut admin, &path).await.body.contains("No suppressed addresses."));
    let again =
        post(&app, &mut admin, &csrf, &format!("{path}/suppressions/remove"), &[("address", "ana@acme.com")])
            .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    for denied in [path.clone(), format!("{path}/{}", prompt.id)] {
        assert_eq!(app.browse(&mut ana_browser, &denied).await.status, StatusCode::FORBIDDEN, "{denied}");
    }
}

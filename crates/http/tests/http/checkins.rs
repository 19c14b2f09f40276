//! Check-ins through the HTTP interfaces: the schedule and members' settings, the planner
//! writing one prompt per member per workday in their own zone, replies arriving through each
//! provider's webhook (Postmark, Mailgun, SendGrid) and becoming entries on the prompted day,
//! forged, altered, duplicate and automatic replies handled without an entry for the wrong
//! person, likes and comments, the morning digest, and one-click unsubscribe.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine;
use chrono::NaiveDate;
use hmac::{Hmac, Mac};
use sb_core::{MailSetup, ReplyToken};
use sb_test_support::{TestBackend, backend_tests};
use sb_types::{Role, Timestamp, UserId};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::crm::{created, error, ok};
use crate::support::{TestApp, TestResponse};

backend_tests!(
    a_day_of_checkins_from_prompt_to_digest,
    replies_that_cannot_become_entries_are_flagged_or_refused,
    signed_delivery_events_suppress_bounced_and_complaining_addresses
);

const DOMAIN: &str = "in.acme.test";
const MAILGUN_KEY: &str = "mailgun-signing-key";

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

/// The app with every provider endpoint on and mail for `DOMAIN`.
async fn start(backend: &TestBackend) -> TestApp {
    let mut app = TestApp::start(backend).await;
    app.switchboard.set_mail_setup(MailSetup::local(DOMAIN, "https://sb.acme.test"));
    let auth = sb_http::InboundAuth {
        mailgun_signing_key: Some(MAILGUN_KEY.into()),
        sendgrid_basic: Some(("grid".into(), "grid-pass".into())),
        sendgrid_public_key: None,
        postmark_basic: Some(("mark".into(), "mark-pass".into())),
    };
    app.router =
        sb_http::router(sb_http::AppState::new(app.switchboard.clone(), true).with_inbound_auth(auth));
    app
}

/// A member added to the first workspace; returns their user id.
async fn member(app: &TestApp, email: &str, role: Role) -> UserId {
    let access = app.switchboard.operator_access(app.first.workspace.id).await.unwrap();
    app.switchboard.create_user(email, email.split('@').next(), None).await.unwrap();
    app.switchboard.add_member(&access, email, role).await.unwrap();
    app.switchboard
        .members(&access)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.user.email.as_str() == email)
        .unwrap()
        .user
        .id
}

fn reply_address(app: &TestApp, user: UserId, date: &str) -> String {
    let token = ReplyToken {
        workspace: app.first.workspace.id,
        user,
        date: NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap(),
    };
    token.address(app.switchboard.secret(), DOMAIN)
}

fn reply(from: &str, to: &str, message_id: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: Re: What did you get done today?\r\nMessage-ID: <{message_id}>\r\n\
         Date: Fri, 04 Dec 2026 21:10:00 +0000\r\n{extra_headers}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    )
}

async fn postmark(app: &TestApp, raw: &str, to: &str, password: &str) -> TestResponse {
    let body = json!({"RawEmail": raw.replace("\r\n", "\n"), "OriginalRecipient": to, "MessageID": "pm-1"});
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!("mark:{password}"));
    let request = Request::post("/inbound/postmark")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Basic {credentials}"))
        .body(Body::from(body.to_string()))
        .unwrap();
    app.send(request).await
}

async fn mailgun(app: &TestApp, raw: &str, to: &str, from: &str) -> TestResponse {
    let timestamp = (Timestamp::now().millis() / 1000).to_string();
    let token = format!("{:050}", rand_token());
    let mut mac = Hmac::<Sha256>::new_from_slice(MAILGUN_KEY.as_bytes()).unwrap();
    mac.update(format!("{timestamp}{token}").as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("recipient", to),
            ("sender", from),
            ("timestamp", &timestamp),
            ("token", &token),
            ("signature", &signature),
            ("body-mime", raw),
        ])
        .finish();
    let request = Request::post("/inbound/mailgun")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap();
    app.send(request).await
}

fn rand_token() -> u128 {
    u128::from(rand::random::<u64>()) << 20 | u128::from(rand::random::<u16>())
}

async fn sendgrid(app: &TestApp, raw: &str, to: &str) -> TestResponse {
    let boundary = "xYzZY";
    let envelope = json!({"to": [to], "from": "someone@elsewhere.test"}).to_string();
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"envelope\"\r\n\r\n{envelope}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n{raw}\r\n--{boundary}--\r\n"
    );
    let credentials = base64::engine::general_purpose::STANDARD.encode("grid:grid-pass");
    let request = Request::post("/inbound/sendgrid")
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .header(header::AUTHORIZATION, format!("Basic {credentials}"))
        .body(Body::from(body))
        .unwrap();
    app.send(request).await
}

fn texts(list: &Value) -> Vec<(String, String)> {
    list["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap().to_owned(), e["text"].as_str().unwrap().to_owned()))
        .collect()
}

async fn a_day_of_checkins_from_prompt_to_digest(backend: &TestBackend) {
    let app = start(backend).await;
    let key = app.first.master.secret.clone();
    let ws = format!("/api/v1/workspaces/{}", app.first.workspace.id);
    let ana = member(&app, "ana@acme.com", Role::Member).await;
    let vic = member(&app, "vic@acme.com", Role::Viewer).await;
    let settings = ok(app.key_json(&key, Method::GET, &format!("{ws}/checkins/settings"), None).await);
    assert_eq!((settings["enabled"].as_bool(), settings["version"].as_i64()), (Some(false), Some(1)));
    let body = json!({"version": 1, "enabled": true, "prompt_time": "17:00", "digest_time": "08:00",
        "timezone": "Europe/Lisbon", "workdays": "12345", "holidays": ["2026-12-08"]});
    let settings =
        ok(app.key_json(&key, Method::PATCH, &format!("{ws}/checkins/settings"), Some(body)).await);
    assert_eq!(
        (settings["timezone"].as_str(), settings["version"].as_i64()),
        (Some("Europe/Lisbon"), Some(2))
    );
    let stale = app
        .key_json(&key, Method::PATCH, &format!("{ws}/checkins/settings"), Some(json!({"version": 1})))
        .await;
    error(&stale, StatusCode::CONFLICT, "conflict", "changed meanwhile");
    let zone = json!({"timezone": "America/Sao_Paulo"});
    let ana_settings =
        ok(app.key_json(&key, Method::PATCH, &format!("{ws}/checkins/members/{ana}"), Some(zone)).await);
    assert_eq!(
        (ana_settings["timezone"].as_str(), ana_settings["prompts"].as_bool()),
        (Some("America/Sao_Paulo"), Some(true))
    );
    let members = ok(app.key_json(&key, Method::GET, &format!("{ws}/checkins/members"), None).await);
    let vic_row =
        members["members"].as_array().unwrap().iter().find(|m| m["user"] == vic.to_string()).unwrap().clone();
    assert_eq!(
        (vic_row["prompts"].as_bool(), vic_row["digest"].as_bool()),
        (Some(false), Some(true)),
        "viewers read"
    );

    // Friday noon: today's prompts for the owner (Lisbon, 17:00 = 17:00Z) and Ana (São Paulo,
    // 17:00 = 20:00Z); Saturday is no workday. Planning again adds nothing.
    let round = app.switchboard.run_checkins(at("2026-12-04T12:00:00.000Z")).await.unwrap();
    assert_eq!(round.prompts, 2);
    assert_eq!(app.switchboard.run_checkins(at("2026-12-04T12:00:10.000Z")).await.unwrap().prompts, 0);
    let outbox =
        ok(app.key_json(&key, Method::GET, &format!("{ws}/mail/outbox?state=scheduled"), None).await);
    let mut due: Vec<(String, String)> = outbox["mail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["recipient"].as_str().unwrap().to_owned(), m["send_at"].as_str().unwrap().to_owned()))
        .collect();
    due.sort();
    assert_eq!(
        due,
        [
            ("ana@acme.com".to_owned(), "2026-12-04T20:00:00.000Z".to_owned()),
            ("owner@acme.com".to_owned(), "2026-12-04T17:00:00.000Z".to_owned())
        ]
    );
    app.switchboard.run_mail(at("2026-12-04T17:00:01.000Z")).await.unwrap();
    let outbox = ok(app.key_json(&key, Method::GET, &format!("{ws}/mail/outbox"), None).await);
    assert_eq!(
        (outbox["counts"]["queued"].as_i64(), outbox["counts"]["scheduled"].as_i64()),
        (Some(1), Some(1))
    );

    // Ana answers through Postmark, under the quoted prompt.
    let to = reply_address(&app, ana, "2026-12-04");
    let text = "Shipped the export #billing\r\n[] call ACME\r\n! blocked on legal @owner\r\n\r\n\
                On Fri, Dec 4, 2026 at 5:00 PM Switchboard <checkins@in.acme.test> wrote:\r\n\
                > What did you get done today?\r\n";
    let raw = reply("Ana <ana@acme.com>", &to, "r1@acme.com", "", text);
    let taken = ok(postmark(&app, &raw, &to, "mark-pass").await);
    assert_eq!((taken["outcome"].as_str(), taken["entries"].as_i64()), (Some("entries"), Some(3)));
    let again = ok(postmark(&app, &raw, &to, "mark-pass").await);
    assert_eq!(again["outcome"], "duplicate", "the same Message-ID changes nothing");
    let refused = postmark(&app, &raw, &to, "wrong").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);

    // A second reply after midnight still belongs to Friday, after the first.
    let late = reply("ana@acme.com", &to, "r2@acme.com", "", "[x] call ACME\r\n");
    assert_eq!(ok(mailgun(&app, &late, &to, "ana@acme.com").await)["entries"], 1);
    // The owner answers through SendGrid.
    let owner = app
        .switchboard
        .members(&app.switchboard.operator_access(app.first.workspace.id).await.unwrap())
        .await
        .unwrap();
    let owner = owner.iter().find(|m| m.user.email.as_str() == "owner@acme.com").unwrap().user.id;
    let owner_to = reply_address(&app, owner, "2026-12-04");
    let owner_reply = reply("owner@acme.com", &owner_to, "r3@acme.com", "", "- Reviewed the roadmap\r\n");
    assert_eq!(ok(sendgrid(&app, &owner_reply, &owner_to).await)["entries"], 1);

    let friday = ok(app
        .key_json(
            &key,
            Method::GET,
            &format!("{ws}/checkins/entries?from=2026-12-04&to=2026-12-04&user={ana}"),
            None,
        )
        .await);
    let expected = [
        ("done", "Shipped the export #billing"),
        ("goal", "call ACME"),
        ("blocker", "blocked on legal @owner"),
        ("goal", "call ACME"),
    ];
    assert_eq!(texts(&friday), expected.map(|(k, t)| (k.to_owned(), t.to_owned())));
    assert_eq!(friday["entries"][0]["tags"], json!(["billing"]));
    assert_eq!(friday["entries"][2]["mentions"], json!(["owner"]));
    assert_eq!(friday["entries"][3]["completed"], true);
    assert_eq!(friday["entries"][0]["source"], "email");
    let tagged =
        ok(app.key_json(&key, Method::GET, &format!("{ws}/checkins/entries?tag=%23Billing"), None).await);
    assert_eq!(tagged["entries"].as_array().unwrap().len(), 1);
    let page = ok(app.key_json(&key, Method::GET, &format!("{ws}/checkins/entries?limit=2"), None).await);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let rest = ok(app
        .key_json(&key, Method::GET, &format!("{ws}/checkins/entries?limit=10&cursor={cursor}"), None)
        .await);
    assert_eq!(page["entries"].as_array().unwrap().len() + rest["entries"].as_array().unwrap().len(), 5);
    assert!(rest["next_cursor"].is_null());

    // Likes and comments, as signed-in members.
    let mut browser = app.login_owner().await;
    let csrf = app.browse(&mut browser, &format!("/w/{}", app.first.workspace.id)).await.csrf();
    let entry = format!("{ws}/checkins/entries/{}", friday["entries"][0]["id"].as_str().unwrap());
    let liked = ok(app.browser_json(&browser, &csrf, Method::PUT, &format!("{entry}/like"), json!({})).await);
    assert_eq!(liked["likes"], json!([owner.to_string()]));
    let commented = created(
        app.browser_json(
            &browser,
            &csrf,
            Method::POST,
            &format!("{entry}/comments"),
            json!({"text": "Nice!"}),
        )
        .await,
    );
    assert_eq!(commented["comments"][0]["text"], "Nice!");
    let refused = app.key_json(&key, Method::PUT, &format!("{entry}/like"), None).await;
    error(&refused, StatusCode::FORBIDDEN, "forbidden", "signed-in member");

    // Monday 08:00 in Lisbon: the digest of Friday goes to everyone who reads it, blockers first.
    let round = app.switchboard.run_checkins(at("2026-12-07T08:00:30.000Z")).await.unwrap();
    assert_eq!(round.digests, 2, "the owner and the viewer; Ana's Monday 08:00 is 11:00Z");
    let round = app.switchboard.run_checkins(at("2026-12-07T11:00:30.000Z")).await.unwrap();
    assert_eq!(round.digests, 1);
    let outbox = ok(app.key_json(&key, Method::GET, &format!("{ws}/mail/outbox?state=queued"), None).await);
    let digests: Vec<&Value> =
        outbox["mail"].as_array().unwrap().iter().filter(|m| m["kind"] == "checkin_digest").collect();
    assert_eq!(digests.len(), 3);
    assert!(
        digests[0]["subject"].as_str().unwrap().contains("Friday, December 4"),
        "{}",
        digests[0]["subject"]
    );
    // Tuesday is a holiday: nobody is prompted; the prompts planned that day are Wednesday's.
    let round = app.switchboard.run_checkins(at("2026-12-08T12:00:00.000Z")).await.unwrap();
    assert_eq!(round.prompts, 2);
    let outbox =
        ok(app.key_json(&key, Method::GET, &format!("{ws}/mail/outbox?state=scheduled"), None).await);
    let days: Vec<&str> =
        outbox["mail"].as_array().unwrap().iter().map(|m| &m["send_at"].as_str().unwrap()[..10]).collect();
    assert_eq!(days.iter().filter(|d| **d == "2026-12-09").count(), 2);
    assert!(!days.contains(&"2026-12-08"), "{days:?}");
}

async fn replies_that_cannot_become_entries_are_flagged_or_refused(backend: &TestBackend) {
    let app = start(backend).await;
    let key = app.first.master.secret.clone();
    let ws = format!("/api/v1/workspaces/{}", app.first.workspace.id);
    let ana = member(&app, "ana@acme.com", Role::Member).await;
    let to = reply_address(&app, ana, "2026-12-04");
    let entries = || async {
        ok(app.key_json(&key, Method::GET, &format!("{ws}/checkins/entries"), None).await)["entries"]
            .as_array()
            .unwrap()
            .len()
    };

    let forged = reply("Mallory <mallory@evil.test>", &to, "f1@evil.test", "", "Deleted the backups\r\n");
    let taken = ok(postmark(&app, &forged, &to, "mark-pass").await);
    assert_eq!(taken["outcome"], "flagged");
    assert!(taken["reason"].as_str().unwrap().contains("mallory@evil.test"), "{taken}");

    let mut altered = to.clone().into_bytes();
    let at_sign = to.find('@').unwrap();
    altered[at_sign - 3] = if altered[at_sign - 3] == b'a' { b'b' } else { b'a' };
    let altered = String::from_utf8(altered).unwrap();
    let tampered = reply("ana@acme.com", &altered, "t1@acme.com", "", "Something\r\n");
    let refused = postmark(&app, &tampered, &altered, "mark-pass").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "Postmark stops retrying on 403");
    assert_eq!(refused.json()["outcome"], "rejected");
    let rejected = mailgun(&app, &tampered, &altered, "ana@acme.com").await;
    assert_eq!(rejected.status, StatusCode::NOT_ACCEPTABLE, "Mailgun stops retrying on 406");

    let away = reply(
        "ana@acme.com",
        &to,
        "o1@acme.com",
        "Auto-Submitted: auto-replied\r\n",
        "I am away until Monday.\r\n",
    );
    assert_eq!(ok(sendgrid(&app, &away, &to).await)["outcome"], "flagged");
    let quoted_only = reply("ana@acme.com", &to, "q1@acme.com", "", "> What did you get done today?\r\n");
    let taken = ok(sendgrid(&app, &quoted_only, &to).await);
    assert_eq!(
        (taken["outcome"].as_str(), taken["reason"].as_str()),
        (Some("flagged"), Some("nothing was typed above the quoted prompt"))
    );
    let no_id =
        "From: ana@acme.com\r\nTo: ".to_owned() + &to + "\r\nSubject: done\r\n\r\nWrote the report\r\n";
    assert_eq!(
        ok(sendgrid(&app, &no_id, &to).await)["outcome"],
        "entries",
        "no Message-ID: one is made from the bytes"
    );
    assert_eq!(ok(sendgrid(&app, &no_id, &to).await)["outcome"], "duplicate");
    assert_eq!(entries().await, 1, "only Ana's own typed reply made an entry");

    let bad_signature = {
        let form = "recipient=x&timestamp=1&token=t&signature=00&body-mime=x";
        let request = Request::post("/inbound/mailgun")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap();
        app.send(request).await
    };
    assert_eq!(bad_signature.status, StatusCode::UNAUTHORIZED, "{}", bad_signature.body);
    let inbound = ok(app.key_json(&key, Method::GET, &format!("{ws}/mail/inbound"), None).await);
    let outcomes: Vec<&str> =
        inbound["inbound"].as_array().unwrap().iter().map(|m| m["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "flagged").count(), 3, "{outcomes:?}");
    let member_key = app.first.read.secret.clone();
    let refused = app.key_json(&member_key, Method::GET, &format!("{ws}/mail/inbound"), None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // One-click unsubscribe: a GET only asks; the POST suppresses; the outbox then skips Ana.
    let body = json!({"version": 1, "enabled": true, "timezone": "UTC"});
    ok(app.key_json(&key, Method::PATCH, &format!("{ws}/checkins/settings"), Some(body)).await);
    app.switchboard.run_checkins(at("2026-12-04T12:00:00.000Z")).await.unwrap();
    let outbox =
        ok(app.key_json(&key, Method::GET, &format!("{ws}/mail/outbox?state=scheduled"), None).await);
    assert_eq!(outbox["mail"].as_array().unwrap().len(), 2);
    let prompt =
        outbox["mail"].as_array().unwrap().iter().find(|m| m["recipient"] == "ana@acme.com").unwrap();
    let detail = ok(app
        .key_json(&key, Method::GET, &format!("{ws}/mail/outbox/{}", prompt["id"].as_str().unwrap()), None)
        .await);
    let raw = detail["raw"].as_str().unwrap();
    // A reply to the prompt's From instead of its Reply-To is placed by the prompt it names.
    let from = format!("checkins@{DOMAIN}");
    let answers = format!("In-Reply-To: <{}>\r\n", detail["message_id"].as_str().unwrap());
    let to_from = reply("ana@acme.com", &from, "i1@acme.com", &answers, "Answered the From\r\n");
    assert_eq!(ok(postmark(&app, &to_from, &from, "mark-pass").await)["outcome"], "entries");
    let stray =
        reply("ana@acme.com", &from, "i2@acme.com", "In-Reply-To: <nothing@acme.com>\r\n", "Hello\r\n");
    assert_eq!(postmark(&app, &stray, &from, "mark-pass").await.json()["outcome"], "rejected");
    assert_eq!(entries().await, 2);
    assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"), "{raw}");
    assert!(raw.contains("Reply-To: "), "{raw}");
    let unsubscribe = raw
        .split("<https://sb.acme.test")
        .nth(1)
        .and_then(|rest| rest.split('>').next())
        .unwrap_or_else(|| panic!("no one-click link in {raw}"))
        .to_owned();
    let page = app.get(&unsubscribe, None).await;
    assert!(page.body.contains("ana@acme.com") && page.body.contains("method=\"post\""), "{}", page.body);
    let done = app
        .send(
            Request::post(&unsubscribe)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("List-Unsubscribe=One-Click"))
                .unwrap(),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let promoted = app.switchboard.run_mail(at("2026-12-04T17:00:01.000Z")).await.unwrap();
    assert_eq!(
        (promoted.suppressed, promoted.queued),
        (1, 1),
        "Ana's prompt is suppressed, the owner's queued"
    );
    let list = ok(app.key_json(&key, Method::GET, &format!("{ws}/mail/suppressions"), None).await);
    assert_eq!(list["suppressions"][0]["reason"], "unsubscribe");
    let forged = app.get(&unsubscribe.replace(&unsubscribe[unsubscribe.len() - 4..], "0000"), None).await;
    assert_eq!(forged.status, StatusCode::NOT_FOUND);

    // A late reply for a workspace deleted since is refused, not stored anywhere.
    let access = app.switchboard.operator_access(app.first.workspace.id).await.unwrap();
    app.switchboard.delete_workspace(&access).await.unwrap();
    let late = reply("ana@acme.com", &to, "late@acme.com", "", "One more thing\r\n");
    let refused = postmark(&app, &late, &to, "mark-pass").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.json()["reason"], "the reply address's workspace no longer exists");
}

async fn signed_delivery_events_suppress_bounced_and_complaining_addresses(backend: &TestBackend) {
    use p256::ecdsa::signature::Signer as _;
    use p256::ecdsa::{Signature, SigningKey};
    use p256::pkcs8::EncodePublicKey as _;

    let signing = SigningKey::random(&mut rand::rngs::OsRng);
    let public = signing.verifying_key().to_public_key_der().unwrap();
    let encode = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut app = start(backend).await;
    let auth = sb_http::InboundAuth {
        sendgrid_public_key: Some(encode(public.as_bytes())),
        ..sb_http::InboundAuth::default()
    };
    app.router =
        sb_http::router(sb_http::AppState::new(app.switchboard.clone(), true).with_inbound_auth(auth));
    let key = app.first.master.secret.clone();
    let ws = format!("/api/v1/workspaces/{}", app.first.workspace.id);
    member(&app, "ana@acme.com", Role::Member).await;
    member(&app, "bob@acme.com", Role::Member).await;
    let body = json!({"version": 1, "enabled": true, "timezone": "UTC"});
    ok(app.key_json(&key, Method::PATCH, &format!("{ws}/checkins/settings"), Some(body)).await);
    app.switchboard.run_checkins(at("2026-12-04T12:00:00.000Z")).await.unwrap();
    let outbox =
        ok(app.key_json(&key, Method::GET, &format!("{ws}/mail/outbox?state=scheduled"), None).await);
    let message_of = |who: &str| {
        outbox["mail"].as_array().unwrap().iter().find(|m| m["recipient"] == who).unwrap()["message_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let events = json!([
        {"email": "ana@acme.com", "timestamp": 1_794_949_401, "event": "bounce", "sg_event_id": "ev-1",
         "smtp-id": format!("<{}>", message_of("ana@acme.com")), "reason": "550 5.1.1 no such user",
         "status": "5.1.1", "type": "bounce"},
        {"email": "bob@acme.com", "timestamp": 1_794_949_402, "event": "spamreport", "sg_event_id": "ev-2",
         "smtp-id": format!("<{}>", message_of("bob@acme.com"))},
        {"email": "ana@acme.com", "timestamp": 1_794_949_403, "event": "delivered", "sg_event_id": "ev-3",
         "smtp-id": "<someone-else@elsewhere.test>"},
    ])
    .to_string();
    let post = |timestamp: &str, signature: String, body: String| {
        Request::post("/inbound/sendgrid/events")
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-twilio-email-event-webhook-timestamp", timestamp)
            .header("x-twilio-email-event-webhook-signature", signature)
            .body(Body::from(body))
            .unwrap()
    };
    let signature: Signature = signing.sign(format!("1794949500{events}").as_bytes());
    let signed = encode(signature.to_der().as_bytes());
    let applied = ok(app.send(post("1794949500", signed.clone(), events.clone())).await);
    assert_eq!((applied["received"].as_i64(), applied["applied"].as_i64()), (Some(3), Some(2)));
    let again = ok(app.send(post("1794949500", signed.clone(), events.clone())).await);
    assert_eq!(again["applied"], 0, "each event once (sg_event_id)");
    let forged = app.send(post("1794949500", signed, events.replace("bob@", "eve@"))).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED, "{}", forged.body);
    let list = ok(app.key_json(&key, Method::GET, &format!("{ws}/mail/suppressions"), None).await);
    let mut reasons: Vec<(String, String)> = list["suppressions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["address"].as_str().unwrap().to_owned(), s["reason"].as_str().unwrap().to_owned()))
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            ("ana@acme.com".to_owned(), "bounce".to_owned()),
            ("bob@acme.com".to_owned(), "complaint".to_owned())
        ]
    );
    let promoted = app.switchboard.run_mail(at("2026-12-04T17:00:01.000Z")).await.unwrap();
    assert_eq!(promoted.suppressed, 2, "neither gets more mail");
    let removed =
        app.key_json(&key, Method::DELETE, &format!("{ws}/mail/suppressions/bob@acme.com"), None).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
}

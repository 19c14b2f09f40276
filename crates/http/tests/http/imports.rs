//! CSV import and export through the JSON API: headings matched or mapped, a dry run that
//! writes nothing, rows matched to what exists so a file imports once, a file with a bad row
//! refused whole, a run stopped part way by a conflict and said so, boxes with typed fields,
//! and exports that import back unchanged.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use sb_test_support::{TestBackend, backend_tests};
use serde_json::{Value, json};

use crate::crm::{created, error, ok, sales};
use crate::support::{TestApp, TestResponse, bearer};

backend_tests!(csv_imports_dedupe_refuse_bad_rows_and_export_back);

async fn upload(app: &TestApp, key: &str, path: &str, csv: &str) -> TestResponse {
    let request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::AUTHORIZATION, bearer(key))
        .header(header::CONTENT_TYPE, "text/csv")
        .body(Body::from(csv.to_owned()))
        .unwrap();
    app.send(request).await
}

fn counts(report: &Value) -> (u64, u64, u64) {
    let n = |k: &str| report[k].as_u64().unwrap();
    (n("created"), n("updated"), n("unchanged"))
}

async fn csv_imports_dedupe_refuse_bad_rows_and_export_back(backend: &TestBackend) {
    let app = TestApp::start(backend).await;
    let key = app.first.master.secret.clone();
    let ws = format!("/api/v1/workspaces/{}", app.first.workspace.id);
    let imports = format!("{ws}/imports");

    // Organizations first: websites become domains.
    let orgs = "Company,Website,Segment\nAcme,https://www.acme.com,enterprise\nBeta,beta.io,smb\n";
    let path = format!("{imports}?kind=organizations&map=Segment%3Dcustom.segment");
    let report = ok(upload(&app, &key, &path, orgs).await);
    assert_eq!((report["state"].clone(), counts(&report)), (json!("done"), (2, 0, 0)));

    // Contacts: a dry run writes nothing; the run links them to their organizations by domain.
    let people =
        "Full name,E-mail,Phone,Notes\nAna Lima,ana@acme.com,+55 11 5555,x\nBo,bo@beta.io; bo@gmail.com,,y\n";
    let dry = ok(upload(&app, &key, &format!("{imports}?kind=contacts&dry_run=true"), people).await);
    assert_eq!((dry["state"].clone(), counts(&dry)), (json!("dry_run"), (2, 0, 0)));
    assert_eq!(dry["ignored_columns"], json!(["Notes"]));
    let listed = ok(app.key_json(&key, Method::GET, &format!("{ws}/contacts"), None).await);
    assert_eq!(listed["contacts"], json!([]), "a dry run writes nothing");
    let done = ok(upload(&app, &key, &format!("{imports}?kind=contacts"), people).await);
    assert_eq!(counts(&done), (2, 0, 0));
    let ana = ok(app.key_json(&key, Method::GET, &format!("{ws}/contacts?email=ana@acme.com"), None).await);
    let ana = &ana["contacts"][0];
    assert_eq!(ana["phones"], json!(["+55 11 5555"]));
    let ana_read = ok(app
        .key_json(&key, Method::GET, &format!("{ws}/contacts/{}", ana["id"].as_str().unwrap()), None)
        .await);
    assert_eq!(ana_read["organizations"].as_array().unwrap().len(), 1, "linked to Acme by domain");

    // The same people again, one with a new phone: matched by address, nothing doubled.
    let again = "Full name,E-mail,Phone\nAna Lima,ANA@acme.com,+55 11 6666\nBo,bo@gmail.com,\n";
    let report = ok(upload(&app, &key, &format!("{imports}?kind=contacts"), again).await);
    assert_eq!(counts(&report), (0, 1, 1));
    let listed = ok(app.key_json(&key, Method::GET, &format!("{ws}/contacts"), None).await);
    assert_eq!(listed["contacts"].as_array().unwrap().len(), 2);

    // A bad row refuses the whole file, naming its line; nothing is written.
    let bad = "Full name,E-mail\nCy,cy@x.org\nDee,not-an-address\n,ed@x.org\n";
    let refused = upload(&app, &key, &format!("{imports}?kind=contacts"), bad).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    let refused = refused.json();
    assert_eq!((refused["state"].clone(), refused["error_count"].clone()), (json!("refused"), json!(2)));
    assert_eq!(refused["errors"][0]["line"], 3);
    assert_eq!(refused["errors"][1]["line"], 4);
    assert!(refused["errors"][1]["message"].as_str().unwrap().contains("needs a name"));
    let cy = ok(app.key_json(&key, Method::GET, &format!("{ws}/contacts?email=cy@x.org"), None).await);
    assert_eq!(cy["contacts"], json!([]), "not even the good row");
    let quoting =
        upload(&app, &key, &format!("{imports}?kind=contacts"), "Name,Email\n\"Cy,cy@x.org\n").await;
    error(&quoting, StatusCode::BAD_REQUEST, "invalid_request", "line 2: a quoted field opens there");

    // Rows that only conflict once earlier rows are in: the run stops there, and says so.
    let conflict =
        "Full name,E-mail\nEve,eve@x.org\nFay,fay@x.org\nBoth,eve@x.org;fay@x.org\nGus,gus@x.org\n";
    let stopped = upload(&app, &key, &format!("{imports}?kind=contacts"), conflict).await;
    assert_eq!(stopped.status, StatusCode::CONFLICT, "{}", stopped.body);
    let stopped = stopped.json();
    assert_eq!((stopped["state"].clone(), stopped["rows_done"].clone()), (json!("stopped"), json!(2)));
    assert!(stopped["message"].as_str().unwrap().contains("line 4"), "{stopped}");
    let runs = ok(app.key_json(&key, Method::GET, &imports, None).await);
    assert_eq!(
        (runs["imports"][0]["state"].clone(), runs["imports"][0]["rows_done"].clone()),
        (json!("stopped"), json!(2))
    );

    // Boxes with typed fields, stages by name.
    let pipeline = created(app.key_json(&key, Method::POST, &format!("{ws}/pipelines"), Some(sales())).await);
    let pipeline_id = pipeline["id"].as_str().unwrap();
    let deals = "Name,Stage,Amount,Size,Tags,Close\nBig deal,Won,\"12,500\",M,vip; eu,2026-03-01\nSmall deal,,300,S,,\n";
    let box_path = format!("{imports}?kind=boxes&pipeline={pipeline_id}");
    let report = ok(upload(&app, &key, &box_path, deals).await);
    assert_eq!(counts(&report), (2, 0, 0));
    let boxes = ok(app
        .key_json(&key, Method::GET, &format!("{ws}/pipelines/{pipeline_id}/boxes?sort=name"), None)
        .await);
    let big = &boxes["boxes"][0];
    let field = |n: usize| pipeline["fields"][n]["id"].as_str().unwrap().to_owned();
    assert_eq!(big["stage"], pipeline["stages"][1]["id"]);
    assert_eq!(big["fields"][field(0)], 12500);
    assert_eq!(big["fields"][field(2)], json!(["vip", "eu"]));
    assert_eq!(boxes["boxes"][1]["stage"], pipeline["stages"][0]["id"], "the first stage by default");
    let wrong = "Name,Amount,Size\nOdd deal,lots,XL\n";
    let refused = upload(&app, &key, &box_path, wrong).await.json();
    assert_eq!(refused["state"], "refused");
    assert!(refused["errors"][0]["message"].as_str().unwrap().contains("is not a number"), "{refused}");

    // Fields named like a box's own columns stay fields, through import and export.
    let support = json!({"name": "Support", "stages": [{"name": "Open"}, {"name": "Closed"}],
        "fields": [{"name": "Status", "type": "text"}, {"name": "Name", "type": "text"}]});
    let support = created(app.key_json(&key, Method::POST, &format!("{ws}/pipelines"), Some(support)).await);
    let support_id = support["id"].as_str().unwrap();
    let tickets = "Name,Stage,field.Status,field.Name\nTicket 1,Closed,waiting,Alias\n";
    let path = format!("{imports}?kind=boxes&pipeline={support_id}");
    assert_eq!(counts(&ok(upload(&app, &key, &path, tickets).await)), (1, 0, 0));
    let ticket =
        ok(app.key_json(&key, Method::GET, &format!("{ws}/pipelines/{support_id}/boxes"), None).await);
    let ticket = &ticket["boxes"][0];
    assert_eq!(
        (ticket["name"].as_str(), ticket["stage"].clone()),
        (Some("Ticket 1"), support["stages"][1]["id"].clone())
    );
    let status = support["fields"][0]["id"].as_str().unwrap();
    let alias = support["fields"][1]["id"].as_str().unwrap();
    assert_eq!(
        (ticket["fields"][status].as_str(), ticket["fields"][alias].as_str()),
        (Some("waiting"), Some("Alias"))
    );
    let file =
        app.key_json(&key, Method::GET, &format!("{ws}/exports/boxes?pipeline={support_id}"), None).await;
    assert!(
        file.body.starts_with("id,name,stage,notes,assignees,followers,field.Status,field.Name,"),
        "{}",
        file.body
    );
    let back = ok(upload(&app, &key, &path, &file.body).await);
    assert_eq!(counts(&back), (0, 0, 1), "{back}");

    // Exports read back unchanged.
    for (kind, extra) in [
        ("contacts", String::new()),
        ("organizations", String::new()),
        ("boxes", format!("&pipeline={pipeline_id}")),
    ] {
        let file =
            app.key_json(&key, Method::GET, &format!("{ws}/exports/{kind}?format=csv{extra}"), None).await;
        assert_eq!(file.status, StatusCode::OK, "{}", file.body);
        assert!(file.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/csv"));
        let back = ok(upload(&app, &key, &format!("{imports}?kind={kind}{extra}"), &file.body).await);
        assert_eq!(
            (back["created"].clone(), back["updated"].clone()),
            (json!(0), json!(0)),
            "{kind}: {back}"
        );
    }
    let json_export =
        ok(app.key_json(&key, Method::GET, &format!("{ws}/exports/contacts?format=json"), None).await);
    assert_eq!(json_export.as_array().unwrap().len(), 4, "Ana, Bo, Eve and Fay");

    // Readers export but do not import.
    let read = app.first.read.secret.clone();
    assert_eq!(
        app.key_json(&read, Method::GET, &format!("{ws}/exports/organizations"), None).await.status,
        StatusCode::OK
    );
    error(
        &upload(&app, &read, &format!("{imports}?kind=contacts"), people).await,
        StatusCode::FORBIDDEN,
        "forbidden",
        "",
    );
    error(
        &upload(&app, &key, &format!("{imports}?kind=people"), people).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "unknown kind",
    );
    error(
        &upload(&app, &key, &format!("{imports}?kind=boxes"), deals).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "needs the pipeline",
    );
}

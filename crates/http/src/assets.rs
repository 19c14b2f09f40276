//! Static assets (stylesheets, scripts, vendored JavaScript, icon), embedded in the binary.
//! Names carry a version, so they are cached for a year.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;

const ASSETS: &[(&str, &str, &[u8])] = &[
    ("app-2.css", "text/css; charset=utf-8", include_bytes!("../../../web/assets/app.css")),
    (
        "htmx-2.0.11.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../web/assets/vendor/htmx-2.0.11.min.js"),
    ),
    ("app-1.js", "text/javascript; charset=utf-8", include_bytes!("../../../web/assets/app.js")),
    ("chart-1.js", "text/javascript; charset=utf-8", include_bytes!("../../../web/assets/chart.js")),
    ("explorer-1.js", "text/javascript; charset=utf-8", include_bytes!("../../../web/assets/explorer.js")),
    ("crm-1.css", "text/css; charset=utf-8", include_bytes!("../../../web/assets/crm.css")),
    ("crm-import-1.css", "text/css; charset=utf-8", include_bytes!("../../../web/assets/crm-import.css")),
    ("crm-1.js", "text/javascript; charset=utf-8", include_bytes!("../../../web/assets/crm.js")),
    (
        "crm-pipelines-1.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../web/assets/crm-pipelines.js"),
    ),
    ("crm-board-1.js", "text/javascript; charset=utf-8", include_bytes!("../../../web/assets/crm-board.js")),
    ("crm-table-1.js", "text/javascript; charset=utf-8", include_bytes!("../../../web/assets/crm-table.js")),
    ("crm-box-1.js", "text/javascript; charset=utf-8", include_bytes!("../../../web/assets/crm-box.js")),
    (
        "crm-contacts-1.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../web/assets/crm-contacts.js"),
    ),
    (
        "crm-record-1.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../web/assets/crm-record.js"),
    ),
    ("crm-tasks-1.js", "text/javascript; charset=utf-8", include_bytes!("../../../web/assets/crm-tasks.js")),
    (
        "crm-import-1.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../web/assets/crm-import.js"),
    ),
    ("checkins-1.css", "text/css; charset=utf-8", include_bytes!("../../../web/assets/checkins.css")),
    ("checkins-1.js", "text/javascript; charset=utf-8", include_bytes!("../../../web/assets/checkins.js")),
    ("icon-1.svg", "image/svg+xml", include_bytes!("../../../web/assets/icon.svg")),
];

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/assets/{name}", get(asset))
}

async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

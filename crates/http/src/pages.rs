//! Server-rendered pages: the minijinja templates from `web/templates`, embedded in the
//! binary, and the HTML error pages.

use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, context};
use sb_core::CoreError;

use crate::error::{public_message, status};

/// Every template, by name, embedded at compile time.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../../web/templates/base.html")),
    ("shell.html", include_str!("../../../web/templates/shell.html")),
    ("login.html", include_str!("../../../web/templates/login.html")),
    ("overview.html", include_str!("../../../web/templates/overview.html")),
    ("part.html", include_str!("../../../web/templates/part.html")),
    ("events.html", include_str!("../../../web/templates/events.html")),
    ("events_collection.html", include_str!("../../../web/templates/events_collection.html")),
    ("events_tabs.html", include_str!("../../../web/templates/events_tabs.html")),
    ("explorer.html", include_str!("../../../web/templates/explorer.html")),
    ("dashboard.html", include_str!("../../../web/templates/dashboard.html")),
    ("crm_root.html", include_str!("../../../web/templates/crm_root.html")),
    ("crm_tabs.html", include_str!("../../../web/templates/crm_tabs.html")),
    ("pipelines.html", include_str!("../../../web/templates/pipelines.html")),
    ("pipeline_views.html", include_str!("../../../web/templates/pipeline_views.html")),
    ("pipeline_board.html", include_str!("../../../web/templates/pipeline_board.html")),
    ("pipeline_table.html", include_str!("../../../web/templates/pipeline_table.html")),
    ("box.html", include_str!("../../../web/templates/box.html")),
    ("contacts.html", include_str!("../../../web/templates/contacts.html")),
    ("contact.html", include_str!("../../../web/templates/contact.html")),
    ("tasks.html", include_str!("../../../web/templates/tasks.html")),
    ("crm_import.html", include_str!("../../../web/templates/crm_import.html")),
    ("checkins_tabs.html", include_str!("../../../web/templates/checkins_tabs.html")),
    ("checkins_entry.html", include_str!("../../../web/templates/checkins_entry.html")),
    ("checkins_feed.html", include_str!("../../../web/templates/checkins_feed.html")),
    ("checkins_days.html", include_str!("../../../web/templates/checkins_days.html")),
    ("checkins_me.html", include_str!("../../../web/templates/checkins_me.html")),
    ("checkins_member.html", include_str!("../../../web/templates/checkins_member.html")),
    ("checkins_tags.html", include_str!("../../../web/templates/checkins_tags.html")),
    ("checkins_tag.html", include_str!("../../../web/templates/checkins_tag.html")),
    ("checkins_settings.html", include_str!("../../../web/templates/checkins_settings.html")),
    ("checkins_outbox.html", include_str!("../../../web/templates/checkins_outbox.html")),
    ("checkins_mail.html", include_str!("../../../web/templates/checkins_mail.html")),
    ("settings.html", include_str!("../../../web/templates/settings.html")),
    ("key_row.html", include_str!("../../../web/templates/key_row.html")),
    ("no_workspace.html", include_str!("../../../web/templates/no_workspace.html")),
    ("error.html", include_str!("../../../web/templates/error.html")),
];

/// The template environment. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Pages {
    env: Arc<Environment<'static>>,
}

impl Pages {
    pub(crate) fn new() -> Pages {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source).expect("templates compile; a test renders each");
        }
        Pages { env: Arc::new(env) }
    }

    /// Renders `template` with `ctx` and answers with `status`. Pages are never cached: they
    /// can show secrets (a new key) and always show per-user data.
    pub(crate) fn render(&self, status: StatusCode, template: &str, ctx: minijinja::Value) -> Response {
        let rendered = self.env.get_template(template).and_then(|t| t.render(ctx));
        match rendered {
            Ok(html) => (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
            Err(error) => {
                tracing::error!(%error, template, "template failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error: a page failed to render").into_response()
            }
        }
    }

    /// A full-page error with a title and an explanation.
    pub(crate) fn error(&self, status: StatusCode, title: &str, message: &str) -> Response {
        self.render(status, "error.html", context! { title, message, status => status.as_u16() })
    }

    /// The 403 page for a form without a valid CSRF token.
    pub(crate) fn form_expired(&self) -> Response {
        self.error(
            StatusCode::FORBIDDEN,
            "Form expired",
            "This form is missing its security token or was sent from another site. Reload the page and try again.",
        )
    }

    /// The page for a failed domain operation.
    pub(crate) fn core_error(&self, error: &CoreError) -> Response {
        let status = status(error.kind());
        let title = status.canonical_reason().unwrap_or("Error");
        self.error(status, title, &public_message(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let pages = Pages::new();
        for (name, _) in TEMPLATES {
            assert!(pages.env.get_template(name).is_ok(), "{name}");
        }
    }
}

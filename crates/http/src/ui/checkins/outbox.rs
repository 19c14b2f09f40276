//! The mail status page for admins: messages per state, the latest messages with their attempts,
//! last reply code and error (what was sent, deferred, failed, and why), one message with every
//! attempt and its bytes as sent, the suppression list, and received mail with what became of it.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};
use sb_core::{CoreError, OutboxMail};
use serde::Deserialize;

use super::{CheckinPage, when};
use crate::AppState;
use crate::auth::SignedIn;

/// Messages the page lists.
const RECENT: i64 = 100;
/// Received messages the page lists.
const RECEIVED: i64 = 50;

/// `?state=`: only the messages in one state.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct StateQuery {
    state: String,
}

fn mail_value(mail: &OutboxMail) -> Value {
    context! {
        id => mail.id.to_string(),
        kind => &mail.kind,
        recipient => &mail.recipient,
        subject => &mail.subject,
        state => mail.state,
        attempts => mail.attempts,
        last_code => mail.last_code,
        last_error => &mail.last_error,
        message_id => &mail.message_id,
        send_at => when(mail.send_at),
        expires_at => when(mail.expires_at),
        next_attempt_at => when(mail.next_attempt_at),
        created_at => when(mail.created_at),
        updated_at => when(mail.updated_at),
    }
}

/// The admins-only 403 page, or the error's own page.
fn admin_error(state: &AppState, error: &CoreError) -> Response {
    match error {
        CoreError::Forbidden(_) => state.pages.error(
            StatusCode::FORBIDDEN,
            "Admins only",
            "The mail outbox is for the workspace's owners and admins.",
        ),
        other => state.pages.core_error(other),
    }
}

/// `/w/{id}/checkins/outbox`: counts, latest messages, suppressions, received mail.
pub(crate) async fn outbox(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Query(query): Query<StateQuery>,
) -> Response {
    let page = match CheckinPage::open(&state, &session, &id, "outbox").await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let sb = &state.switchboard;
    let counts = match sb.mail_counts(&page.access).await {
        Ok(counts) => counts,
        Err(e) => return admin_error(&state, &e),
    };
    let recent = match sb.mail_outbox(&page.access, Some(&query.state), RECENT).await {
        Ok(recent) => recent,
        Err(CoreError::Invalid(message)) => {
            return state.pages.error(StatusCode::BAD_REQUEST, "Unknown state", &message);
        }
        Err(e) => return admin_error(&state, &e),
    };
    let suppressions = match sb.suppressions(&page.access).await {
        Ok(list) => list,
        Err(e) => return admin_error(&state, &e),
    };
    let inbound = match sb.inbound_mail(&page.access, RECEIVED).await {
        Ok(list) => list,
        Err(e) => return admin_error(&state, &e),
    };
    let counts: Vec<Value> = counts.into_iter().map(|(state, count)| context! { state, count }).collect();
    let messages: Vec<Value> = recent.iter().map(mail_value).collect();
    let suppressions: Vec<Value> = suppressions
        .iter()
        .map(|s| context! { address => &s.address, reason => &s.reason, detail => &s.detail, since => when(s.created_at) })
        .collect();
    let inbound: Vec<Value> = inbound
        .iter()
        .map(|m| {
            context! {
                received_at => when(m.received_at),
                via => &m.received_via,
                from => &m.from_address,
                subject => &m.subject,
                outcome => &m.outcome,
                detail => &m.detail,
            }
        })
        .collect();
    let ctx = context! { counts, messages, suppressions, inbound, filter => query.state };
    page.render(&state, StatusCode::OK, "checkins_outbox.html", ctx)
}

/// `/w/{id}/checkins/outbox/{mail}`: one message with every attempt.
pub(crate) async fn mail(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path((id, mail)): Path<(String, String)>,
) -> Response {
    let page = match CheckinPage::open(&state, &session, &id, "outbox").await {
        Ok(page) => page,
        Err(response) => return response,
    };
    match state.switchboard.outbox_mail(&page.access, &mail).await {
        Ok((mail, attempts, raw)) => {
            let attempts: Vec<Value> = attempts
                .iter()
                .map(|a| {
                    context! {
                        attempt => a.attempt,
                        at => when(a.at),
                        outcome => a.outcome,
                        code => a.code,
                        enhanced => &a.enhanced,
                        detail => &a.detail,
                    }
                })
                .collect();
            let ctx = context! { mail => mail_value(&mail), attempts, raw };
            page.render(&state, StatusCode::OK, "checkins_mail.html", ctx)
        }
        Err(CoreError::NotFound(_)) => state.pages.error(
            StatusCode::NOT_FOUND,
            "Message not found",
            "This workspace's outbox has no message at this address.",
        ),
        Err(e) => admin_error(&state, &e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct UnsuppressForm {
    csrf: String,
    address: String,
}

/// `POST /w/{id}/checkins/outbox/suppressions/remove`: mail may go to an address again.
pub(crate) async fn unsuppress(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<UnsuppressForm>,
) -> Response {
    let page = match CheckinPage::open_form(&state, &session, &id, "outbox", &form.csrf).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    match state.switchboard.unsuppress(&page.access, &form.address).await {
        Ok(()) => Redirect::to(&format!("/w/{}/checkins/outbox", page.workspace())).into_response(),
        Err(CoreError::NotFound(_)) => state.pages.error(
            StatusCode::NOT_FOUND,
            "Address not suppressed",
            "This address is not on the suppression list (anymore).",
        ),
        Err(e) => admin_error(&state, &e),
    }
}

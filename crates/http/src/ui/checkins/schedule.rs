//! The schedule page: when the question goes out, the digest and the reminder, the time zone,
//! workdays and holidays (admins change them), and each member's own settings (time zone,
//! vacation, prompts, digest), which members change for themselves and admins for anyone.
//! A change made against a stale version of the schedule is refused with 409 and explained.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};
use sb_core::{CheckinMemberPatch, CheckinSettingsPatch, CoreError, Permission, SessionView};
use serde::Deserialize;

use super::CheckinPage;
use crate::AppState;
use crate::auth::SignedIn;

const WEEKDAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// `/w/{id}/checkins/settings`: the schedule and the members' settings.
pub(crate) async fn settings(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Response {
    match CheckinPage::open(&state, &session, &id, "settings").await {
        Ok(page) => render(&state, &page, StatusCode::OK, None).await,
        Err(response) => response,
    }
}

/// The schedule page, with `problem` (a refused change) said at the top.
async fn render(state: &AppState, page: &CheckinPage, status: StatusCode, problem: Option<&str>) -> Response {
    let settings = match state.switchboard.checkin_settings(&page.access).await {
        Ok(settings) => settings,
        Err(e) => return state.pages.core_error(&e),
    };
    let workdays: Vec<Value> = WEEKDAYS
        .iter()
        .zip(1..)
        .map(|(name, n): (&&str, u32)| {
            let checked = settings.workdays.contains(char::from_digit(n, 10).unwrap_or('0'));
            context! { n, name, checked }
        })
        .collect();
    let admin = page.access.allows(Permission::Admin);
    let members: Vec<Value> = page
        .members
        .iter()
        .map(|m| {
            context! {
                id => m.user_id.to_string(),
                name => page.name_of(m.user_id),
                email => &m.email,
                role => m.role.as_str(),
                timezone => m.timezone.clone().unwrap_or_default(),
                vacation_from => m.vacation_from.clone().unwrap_or_default(),
                vacation_until => m.vacation_until.clone().unwrap_or_default(),
                prompts => m.prompts,
                digest => m.digest,
                editable => admin || m.user_id == page.me,
                me => m.user_id == page.me,
            }
        })
        .collect();
    let ctx = context! {
        settings => context! {
            enabled => settings.enabled,
            question => settings.question,
            prompt_time => settings.prompt_time,
            digest_time => settings.digest_time,
            reminder_time => settings.reminder_time.unwrap_or_default(),
            timezone => settings.timezone,
            holidays => settings.holidays,
            version => settings.version,
            updated_at => super::when(settings.updated_at),
        },
        workdays,
        members,
        problem,
    };
    page.render(state, status, "checkins_settings.html", ctx)
}

/// The page for a refused change: the reason with its status, or the error's own page.
async fn refused(state: &AppState, page: &CheckinPage, error: &CoreError) -> Response {
    match error {
        CoreError::Invalid(message) => {
            render(state, page, StatusCode::BAD_REQUEST, Some(&format!("Not saved: {message}."))).await
        }
        CoreError::Conflict(_) => {
            let message = "Someone changed the schedule since you loaded this page, so your change was not saved. \
                           The page now shows the current schedule: make your change again.";
            render(state, page, StatusCode::CONFLICT, Some(message)).await
        }
        CoreError::Forbidden(_) => {
            let message =
                "Not saved: only owners and admins change the schedule and other members' settings.";
            render(state, page, StatusCode::FORBIDDEN, Some(message)).await
        }
        other => state.pages.core_error(other),
    }
}

/// Back to the schedule page after a change.
fn saved(page: &CheckinPage) -> Response {
    Redirect::to(&format!("/w/{}/checkins/settings", page.workspace())).into_response()
}

async fn open_form(
    state: &AppState,
    session: &SessionView,
    id: &str,
    csrf: &str,
) -> Result<CheckinPage, Response> {
    CheckinPage::open_form(state, session, id, "settings", csrf).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct SettingsForm {
    csrf: String,
    version: String,
    enabled: Option<String>,
    question: String,
    prompt_time: String,
    digest_time: String,
    reminder_time: String,
    timezone: String,
    workday1: Option<String>,
    workday2: Option<String>,
    workday3: Option<String>,
    workday4: Option<String>,
    workday5: Option<String>,
    workday6: Option<String>,
    workday7: Option<String>,
}

/// `POST /w/{id}/checkins/settings`: the schedule (admins).
pub(crate) async fn save_settings(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<SettingsForm>,
) -> Response {
    let page = match open_form(&state, &session, &id, &form.csrf).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let days = [
        &form.workday1,
        &form.workday2,
        &form.workday3,
        &form.workday4,
        &form.workday5,
        &form.workday6,
        &form.workday7,
    ];
    let workdays: String =
        days.iter().zip('1'..='7').filter(|(on, _)| on.is_some()).map(|(_, d)| d).collect();
    let reminder = form.reminder_time.trim();
    let patch = CheckinSettingsPatch {
        enabled: Some(form.enabled.is_some()),
        question: Some(form.question),
        prompt_time: Some(form.prompt_time),
        digest_time: Some(form.digest_time),
        reminder_time: Some(Some(reminder.to_owned()).filter(|r| !r.is_empty())),
        timezone: Some(form.timezone),
        workdays: Some(workdays),
        holidays: None,
        version: Some(form.version.trim().parse().unwrap_or(-1)),
    };
    match state.switchboard.update_checkin_settings(&page.access, patch).await {
        Ok(_) => saved(&page),
        Err(e) => refused(&state, &page, &e).await,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct HolidayForm {
    csrf: String,
    version: String,
    /// A date to add.
    add: String,
    /// A date to take off.
    remove: String,
}

/// `POST /w/{id}/checkins/settings/holidays`: adds or removes a holiday (admins).
pub(crate) async fn holidays(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<HolidayForm>,
) -> Response {
    let page = match open_form(&state, &session, &id, &form.csrf).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let current = match state.switchboard.checkin_settings(&page.access).await {
        Ok(settings) => settings,
        Err(e) => return state.pages.core_error(&e),
    };
    let mut list = current.holidays;
    let remove = form.remove.trim();
    list.retain(|d| d != remove);
    let add = form.add.trim();
    if !add.is_empty() {
        list.push(add.to_owned());
    }
    let patch = CheckinSettingsPatch {
        holidays: Some(list),
        version: Some(form.version.trim().parse().unwrap_or(-1)),
        ..CheckinSettingsPatch::default()
    };
    match state.switchboard.update_checkin_settings(&page.access, patch).await {
        Ok(_) => saved(&page),
        Err(e) => refused(&state, &page, &e).await,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct MemberForm {
    csrf: String,
    timezone: String,
    vacation_from: String,
    vacation_until: String,
    prompts: Option<String>,
    digest: Option<String>,
}

/// `POST /w/{id}/checkins/members/{user}`: a member's own settings (theirs, or anyone's for
/// admins).
pub(crate) async fn save_member(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path((id, user)): Path<(String, String)>,
    Form(form): Form<MemberForm>,
) -> Response {
    let page = match open_form(&state, &session, &id, &form.csrf).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let patch = CheckinMemberPatch {
        timezone: Some(Some(form.timezone)),
        vacation_from: Some(Some(form.vacation_from)),
        vacation_until: Some(Some(form.vacation_until)),
        prompts: Some(form.prompts.is_some()),
        digest: Some(form.digest.is_some()),
    };
    match state.switchboard.update_checkin_member(&page.access, &user, patch).await {
        Ok(_) => saved(&page),
        Err(CoreError::NotFound(_)) => {
            state.pages.error(StatusCode::NOT_FOUND, "Member not found", "This workspace has no such member.")
        }
        Err(e) => refused(&state, &page, &e).await,
    }
}

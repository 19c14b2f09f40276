//! The check-in and mail operations of the native API, for the OpenAPI document.

use super::{Body, Doc, Who};
use crate::api::{checkins, mail};

/// Adds the check-in and mail operations to `d`.
pub(super) fn describe(d: &mut Doc) {
    let p = |rest: &str| format!("/api/v1/workspaces/{{id}}{rest}");
    use Who::{Admin, Read, Write};

    let (settings, settings_patch) =
        (d.schema::<checkins::SettingsOut>(), d.schema::<checkins::SettingsIn>());
    let tag = "Check-ins";
    d.op(
        ("get", &p("/checkins/settings")),
        (tag, "The check-in schedule"),
        Read,
        vec![],
        Body::None,
        (200, Some(settings.clone())),
    );
    d.op(
        ("patch", &p("/checkins/settings")),
        (tag, "Change the schedule at its version"),
        Admin,
        vec![],
        Body::Json(settings_patch),
        (200, Some(settings)),
    );
    let (members, member, member_patch) = (
        d.schema::<checkins::MemberList>(),
        d.schema::<checkins::MemberOut>(),
        d.schema::<checkins::MemberIn>(),
    );
    d.op(
        ("get", &p("/checkins/members")),
        (tag, "Members and their check-in settings"),
        Read,
        vec![],
        Body::None,
        (200, Some(members)),
    );
    d.op(
        ("patch", &p("/checkins/members/{user}")),
        (tag, "Change a member's time zone, vacation, prompts or digest (their own, or anyone's for admins)"),
        Read,
        vec![],
        Body::Json(member_patch),
        (200, Some(member)),
    );
    let (list, one, created, create, patch, comment) = (
        d.schema::<checkins::EntryList>(),
        d.schema::<checkins::EntryOut>(),
        d.schema::<checkins::Created>(),
        d.schema::<checkins::CreateIn>(),
        d.schema::<checkins::PatchIn>(),
        d.schema::<checkins::CommentIn>(),
    );
    let query = d.query::<checkins::ListIn>();
    d.op(
        ("get", &p("/checkins/entries")),
        (tag, "Entries by member, dates and tag, a page at a time"),
        Read,
        query,
        Body::None,
        (200, Some(list)),
    );
    d.op(
        ("post", &p("/checkins/entries")),
        (tag, "Add entries to a day, one per line"),
        Write,
        vec![],
        Body::Json(create),
        (201, Some(created)),
    );
    d.op(
        ("get", &p("/checkins/entries/{entry}")),
        (tag, "An entry"),
        Read,
        vec![],
        Body::None,
        (200, Some(one.clone())),
    );
    d.op(
        ("patch", &p("/checkins/entries/{entry}")),
        (tag, "Change an entry (its author, or an admin)"),
        Write,
        vec![],
        Body::Json(patch),
        (200, Some(one.clone())),
    );
    d.op(
        ("delete", &p("/checkins/entries/{entry}")),
        (tag, "Delete an entry"),
        Write,
        vec![],
        Body::None,
        (204, None),
    );
    d.op(
        ("put", &p("/checkins/entries/{entry}/like")),
        (tag, "Like an entry"),
        Read,
        vec![],
        Body::None,
        (200, Some(one.clone())),
    );
    d.op(
        ("delete", &p("/checkins/entries/{entry}/like")),
        (tag, "Stop liking an entry"),
        Read,
        vec![],
        Body::None,
        (200, Some(one.clone())),
    );
    d.op(
        ("post", &p("/checkins/entries/{entry}/comments")),
        (tag, "Comment on an entry"),
        Read,
        vec![],
        Body::Json(comment),
        (201, Some(one)),
    );
    let tags = d.schema::<checkins::TagList>();
    d.op(
        ("get", &p("/checkins/tags")),
        (tag, "Tags in use, most used first"),
        Read,
        vec![],
        Body::None,
        (200, Some(tags)),
    );

    let tag = "Mail";
    let (outbox, detail, suppressions, inbound) = (
        d.schema::<mail::OutboxOut>(),
        d.schema::<mail::DetailOut>(),
        d.schema::<mail::SuppressionList>(),
        d.schema::<mail::InboundList>(),
    );
    let query = d.query::<mail::OutboxIn>();
    d.op(
        ("get", &p("/mail/outbox")),
        (tag, "Outgoing mail and counts per state"),
        Admin,
        query,
        Body::None,
        (200, Some(outbox)),
    );
    d.op(
        ("get", &p("/mail/outbox/{mail}")),
        (tag, "A message with every attempt"),
        Admin,
        vec![],
        Body::None,
        (200, Some(detail)),
    );
    d.op(
        ("get", &p("/mail/suppressions")),
        (tag, "Addresses nothing is sent to"),
        Admin,
        vec![],
        Body::None,
        (200, Some(suppressions)),
    );
    d.op(
        ("delete", &p("/mail/suppressions/{address}")),
        (tag, "Take an address off the suppression list"),
        Admin,
        vec![],
        Body::None,
        (204, None),
    );
    let query = d.query::<mail::InboundIn>();
    d.op(
        ("get", &p("/mail/inbound")),
        (tag, "Received mail and what became of it"),
        Admin,
        query,
        Body::None,
        (200, Some(inbound)),
    );
}

//! HTTP tests through the real router (`tower::ServiceExt::oneshot`) on a real store, each on
//! SQLite and PostgreSQL.

mod analytics;
mod api;
mod boxes;
mod checkins;
mod checkins_pages;
mod comments;
mod contacts;
mod crm;
mod crm_pages;
mod imports;
mod isolation;
mod keen;
mod login;
mod settings;
mod sql;
mod support;
mod tasks;
mod threads;
mod webhooks;

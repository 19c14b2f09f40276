//! End-to-end tests of the real `switchboard` binary: `serve` in a child process, the admin
//! commands beside it on the same data folder, HTTP over a real socket.

mod admin;
mod checkin_crash;
mod checkin_day;
mod crash;
mod import;
mod keen_python;
mod mail;
mod serve;
mod support;

//! The SMTP listener and the IMAP poller against real peers: raw TCP scripts and Python's
//! smtplib for the listener, a private Postfix relaying to it, and a private Dovecot for the
//! poller. The Postfix and Dovecot tests skip, saying why, where those servers are missing.

mod client;
mod imap;
mod listener;
mod postfix;
mod smtp;
mod smtplib;

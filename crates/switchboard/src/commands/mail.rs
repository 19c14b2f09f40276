//! `switchboard mail parse FILE [--json]`: shows what the MIME parser and the reply trimmer
//! saw in a raw message, so a user can find out why a reply produced the entries it did.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use sb_mail::{InboundMail, MailAddress, Reply};
use serde_json::json;

use crate::output;

#[derive(Subcommand)]
pub(crate) enum MailCommand {
    /// Parse a raw message (.eml) and show its headers, the trimmed reply and the auto-reply verdict.
    Parse {
        /// The raw RFC 5322 message.
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn run(command: MailCommand) -> anyhow::Result<()> {
    match command {
        MailCommand::Parse { file, json } => {
            let raw =
                tokio::fs::read(&file).await.with_context(|| format!("cannot read {}", file.display()))?;
            // Parsing a large message is CPU work: keep it off the async runtime's threads.
            let (mail, reply) = tokio::task::spawn_blocking(move || {
                let mail = sb_mail::parse(&raw)?;
                let reply = sb_mail::reply_text(&mail);
                anyhow::Ok((mail, reply))
            })
            .await??;
            if json {
                output::json(&mail_json(&mail, &reply));
            } else {
                print_text(&mail, &reply);
            }
            Ok(())
        }
    }
}

fn address_json(address: &MailAddress) -> serde_json::Value {
    json!({ "address": address.address, "name": address.name })
}

fn address_text(address: &MailAddress) -> String {
    match (&address.name, &address.address) {
        (Some(name), Some(addr)) => format!("{name} <{addr}>"),
        (None, Some(addr)) => addr.clone(),
        (Some(name), None) => name.clone(),
        (None, None) => String::new(),
    }
}

fn list_text(addresses: &[MailAddress]) -> String {
    addresses.iter().map(address_text).collect::<Vec<_>>().join(", ")
}

fn mail_json(mail: &InboundMail, reply: &Reply) -> serde_json::Value {
    json!({
        "message_id": mail.message_id,
        "in_reply_to": mail.in_reply_to,
        "references": mail.references,
        "from": mail.from.as_ref().map(address_json),
        "to": mail.to.iter().map(address_json).collect::<Vec<_>>(),
        "cc": mail.cc.iter().map(address_json).collect::<Vec<_>>(),
        "reply_to": mail.reply_to.iter().map(address_json).collect::<Vec<_>>(),
        "subject": mail.subject,
        "date": mail.date.as_ref().map(|d| d.rfc3339.clone()),
        "text_from_html": mail.text_from_html,
        "has_html": mail.html.is_some(),
        "attachments": mail.attachments.iter().map(|a| json!({
            "filename": a.filename,
            "content_type": a.content_type,
            "size": a.size,
        })).collect::<Vec<_>>(),
        "reply_text": reply.text,
        "trimmed": reply.trimmed.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        "auto_reply": reply.auto_reply,
        "auto_reply_reason": mail.auto_reply.map(|r| r.as_str()),
        "flaws": mail.flaws.iter().map(|f| format!("{f:?}")).collect::<Vec<_>>(),
        "raw_size": mail.raw().len(),
    })
}

fn print_text(mail: &InboundMail, reply: &Reply) {
    let none = || "-".to_string();
    println!("message_id: {}", mail.message_id.clone().unwrap_or_else(none));
    println!("from:       {}", mail.from.as_ref().map(address_text).unwrap_or_else(none));
    println!("to:         {}", list_text(&mail.to));
    if !mail.cc.is_empty() {
        println!("cc:         {}", list_text(&mail.cc));
    }
    println!("subject:    {}", mail.subject.clone().unwrap_or_else(none));
    println!("date:       {}", mail.date.as_ref().map(|d| d.rfc3339.clone()).unwrap_or_else(none));
    let reason = mail.auto_reply.map(|r| format!(" ({r})")).unwrap_or_default();
    println!("auto_reply: {}{reason}", reply.auto_reply);
    let trimmed: Vec<&str> = reply.trimmed.iter().map(|t| t.as_str()).collect();
    println!("trimmed:    {}", if trimmed.is_empty() { "-".to_string() } else { trimmed.join(", ") });
    println!("attachments: {}", mail.attachments.len());
    if !mail.flaws.is_empty() {
        println!("flaws:      {:?}", mail.flaws);
    }
    println!("reply_text:");
    for line in reply.text.lines() {
        if line.is_empty() {
            println!();
        } else {
            println!("  {line}");
        }
    }
}

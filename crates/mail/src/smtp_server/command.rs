//! SMTP command lines (RFC 5321 §4.1) parsed into [`Command`]s, with the reverse and forward
//! paths of MAIL and RCPT checked but never trusted further than their syntax.

/// One client command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Command {
    Ehlo(String),
    Helo(String),
    /// `MAIL FROM:`; `None` is the null reverse path `<>` of bounces.
    Mail {
        from: Option<String>,
        size: Option<u64>,
    },
    Rcpt(Recipient),
    Data,
    Rset,
    Noop,
    Quit,
    Vrfy,
    Help,
    /// Commands we know and deliberately do not offer (EXPN, STARTTLS, AUTH, BDAT, TURN, ETRN).
    NotImplemented,
}

/// A forward path: the mailbox as sent, and its domain lower-cased for the domain check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Recipient {
    /// `local@domain` with the domain lower-cased, or `postmaster` alone.
    pub(super) address: String,
    /// `None` only for the bare `postmaster`, which RFC 5321 §4.5.1 requires us to accept.
    pub(super) domain: Option<String>,
}

/// Why a line is not a command we can carry out; each maps to one reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum CommandError {
    /// No such verb: 500.
    Unrecognized,
    /// A known verb with bad arguments: 501.
    Syntax(&'static str),
    /// A MAIL or RCPT parameter we do not support: 555.
    UnknownParameter,
}

/// Parses one command line, without its line ending.
pub(super) fn parse(line: &[u8]) -> Result<Command, CommandError> {
    let line = std::str::from_utf8(line).map_err(|_| CommandError::Syntax("command is not valid UTF-8"))?;
    let (verb, rest) = match line.find(' ') {
        Some(at) => (&line[..at], line[at + 1..].trim()),
        None => (line, ""),
    };
    match verb.to_ascii_uppercase().as_str() {
        "EHLO" => domain_argument(rest).map(Command::Ehlo),
        "HELO" => domain_argument(rest).map(Command::Helo),
        "MAIL" => mail(rest),
        "RCPT" => rcpt(rest),
        "DATA" => no_argument(rest, Command::Data),
        "RSET" => no_argument(rest, Command::Rset),
        "QUIT" => no_argument(rest, Command::Quit),
        // NOOP and HELP may carry a string that is ignored (RFC 5321 §4.1.1.9).
        "NOOP" => Ok(Command::Noop),
        "HELP" => Ok(Command::Help),
        "VRFY" if rest.is_empty() => Err(CommandError::Syntax("VRFY needs an argument")),
        "VRFY" => Ok(Command::Vrfy),
        "EXPN" | "STARTTLS" | "AUTH" | "BDAT" | "TURN" | "ETRN" | "SEND" | "SOML" | "SAML" => {
            Ok(Command::NotImplemented)
        }
        _ => Err(CommandError::Unrecognized),
    }
}

fn no_argument(rest: &str, command: Command) -> Result<Command, CommandError> {
    if rest.is_empty() { Ok(command) } else { Err(CommandError::Syntax("no arguments allowed")) }
}

fn domain_argument(rest: &str) -> Result<String, CommandError> {
    match rest.split_whitespace().next() {
        Some(domain) => Ok(domain.to_owned()),
        None => Err(CommandError::Syntax("a domain name or address literal is required")),
    }
}

fn mail(rest: &str) -> Result<Command, CommandError> {
    let rest = strip_prefix_ignore_case(rest, "FROM:")
        .ok_or(CommandError::Syntax("expected MAIL FROM:<address>"))?;
    let (path, parameters) = split_path(rest)?;
    let from = if path.is_empty() { None } else { Some(mailbox(path)?.0) };
    let mut size = None;
    for parameter in parameters.split_whitespace() {
        let (key, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        match key.to_ascii_uppercase().as_str() {
            "SIZE" => {
                size = Some(value.parse().map_err(|_| CommandError::Syntax("SIZE needs a number"))?);
            }
            "BODY" if value.eq_ignore_ascii_case("7BIT") || value.eq_ignore_ascii_case("8BITMIME") => {}
            "SMTPUTF8" if value.is_empty() => {}
            _ => return Err(CommandError::UnknownParameter),
        }
    }
    Ok(Command::Mail { from, size })
}

fn rcpt(rest: &str) -> Result<Command, CommandError> {
    let rest =
        strip_prefix_ignore_case(rest, "TO:").ok_or(CommandError::Syntax("expected RCPT TO:<address>"))?;
    let (path, parameters) = split_path(rest)?;
    if !parameters.trim().is_empty() {
        return Err(CommandError::UnknownParameter);
    }
    if path.eq_ignore_ascii_case("postmaster") {
        return Ok(Command::Rcpt(Recipient { address: "postmaster".to_owned(), domain: None }));
    }
    if path.is_empty() {
        return Err(CommandError::Syntax("a recipient address is required"));
    }
    let (address, domain) = mailbox(path)?;
    Ok(Command::Rcpt(Recipient { address, domain: Some(domain) }))
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    // Many clients write `MAIL FROM: <a@b>` with a space; RFC 5321 forbids it, everyone accepts it.
    head.eq_ignore_ascii_case(prefix).then(|| text[prefix.len()..].trim_start())
}

/// Splits `<path> parameters` into the path's inside and the parameters, honouring quoted
/// local parts (which may contain `>`).
fn split_path(text: &str) -> Result<(&str, &str), CommandError> {
    let inner =
        text.strip_prefix('<').ok_or(CommandError::Syntax("the address must be in angle brackets"))?;
    let mut quoted = false;
    let mut escaped = false;
    for (at, c) in inner.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '>' if !quoted => return Ok((&inner[..at], &inner[at + 1..])),
            _ => {}
        }
    }
    Err(CommandError::Syntax("unterminated address"))
}

/// Checks `local@domain` (dropping an obsolete source route) and returns it with the domain
/// lower-cased, and the domain.
fn mailbox(path: &str) -> Result<(String, String), CommandError> {
    // A source route `@relay1,@relay2:user@domain` must be accepted and ignored (RFC 5321 §4.1.2).
    let path = match path.strip_prefix('@') {
        Some(routed) => routed.split_once(':').ok_or(CommandError::Syntax("bad source route"))?.1,
        None => path,
    };
    let (local, domain) = path.rsplit_once('@').ok_or(CommandError::Syntax("the address needs a domain"))?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && (local.starts_with('"') || !local.chars().any(|c| c.is_whitespace() || c.is_control()));
    if !local_ok {
        return Err(CommandError::Syntax("bad local part"));
    }
    let domain_ok = !domain.is_empty()
        && domain.len() <= 255
        && domain.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '[' | ']' | ':'));
    if !domain_ok {
        return Err(CommandError::Syntax("bad domain"));
    }
    let domain = domain.to_lowercase();
    Ok((format!("{local}@{domain}"), domain))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(line: &str, expected: Result<Command, CommandError>) {
        assert_eq!(parse(line.as_bytes()), expected, "{line}");
    }

    fn rcpt_to(address: &str, domain: &str) -> Result<Command, CommandError> {
        Ok(Command::Rcpt(Recipient { address: address.to_owned(), domain: Some(domain.to_owned()) }))
    }

    #[test]
    fn verbs() {
        check("EHLO client.example", Ok(Command::Ehlo("client.example".into())));
        check("ehlo [127.0.0.1]", Ok(Command::Ehlo("[127.0.0.1]".into())));
        check("HELO x", Ok(Command::Helo("x".into())));
        check("EHLO", Err(CommandError::Syntax("a domain name or address literal is required")));
        check("DATA", Ok(Command::Data));
        check("data now", Err(CommandError::Syntax("no arguments allowed")));
        check("RSET", Ok(Command::Rset));
        check("NOOP anything", Ok(Command::Noop));
        check("QUIT", Ok(Command::Quit));
        check("VRFY ana", Ok(Command::Vrfy));
        check("HELP", Ok(Command::Help));
        check("STARTTLS", Ok(Command::NotImplemented));
        check("EXPN list", Ok(Command::NotImplemented));
        check("XYZZY", Err(CommandError::Unrecognized));
        check("", Err(CommandError::Unrecognized));
    }

    #[test]
    fn mail_from() {
        check(
            "MAIL FROM:<ana@Acme.COM>",
            Ok(Command::Mail { from: Some("ana@acme.com".into()), size: None }),
        );
        check(
            "mail from: <ana@acme.com> SIZE=1000",
            Ok(Command::Mail { from: Some("ana@acme.com".into()), size: Some(1000) }),
        );
        check("MAIL FROM:<> BODY=8BITMIME SMTPUTF8", Ok(Command::Mail { from: None, size: None }));
        check(
            "MAIL FROM:<@relay.example:ana@acme.com>",
            Ok(Command::Mail { from: Some("ana@acme.com".into()), size: None }),
        );
        check(
            "MAIL FROM:<\"a > b\"@acme.com>",
            Ok(Command::Mail { from: Some("\"a > b\"@acme.com".into()), size: None }),
        );
        check(
            "MAIL FROM:<josé@exemplo.br> SMTPUTF8",
            Ok(Command::Mail { from: Some("josé@exemplo.br".into()), size: None }),
        );
        check("MAIL FROM:ana@acme.com", Err(CommandError::Syntax("the address must be in angle brackets")));
        check("MAIL FROM:<ana@acme.com", Err(CommandError::Syntax("unterminated address")));
        check("MAIL FROM:<ana>", Err(CommandError::Syntax("the address needs a domain")));
        check("MAIL FROM:<ana@acme.com> SIZE=lots", Err(CommandError::Syntax("SIZE needs a number")));
        check("MAIL FROM:<ana@acme.com> AUTH=<>", Err(CommandError::UnknownParameter));
        check("MAIL TO:<ana@acme.com>", Err(CommandError::Syntax("expected MAIL FROM:<address>")));
    }

    #[test]
    fn rcpt_to_paths() {
        check("RCPT TO:<Bob@Switchboard.TEST>", rcpt_to("Bob@switchboard.test", "switchboard.test"));
        check("rcpt to: <bob@a.test>", rcpt_to("bob@a.test", "a.test"));
        check(
            "RCPT TO:<Postmaster>",
            Ok(Command::Rcpt(Recipient { address: "postmaster".into(), domain: None })),
        );
        check("RCPT TO:<>", Err(CommandError::Syntax("a recipient address is required")));
        check("RCPT TO:<bob@a.test> NOTIFY=NEVER", Err(CommandError::UnknownParameter));
        check("RCPT TO:<bob smith@a.test>", Err(CommandError::Syntax("bad local part")));
        check("RCPT TO:<bob@a b.test>", Err(CommandError::Syntax("bad domain")));
        check("RCPT TO:<@a.test>", Err(CommandError::Syntax("bad source route")));
        check("RCPT TO:<bob@>", Err(CommandError::Syntax("bad domain")));
    }

    #[test]
    fn bytes_that_are_not_text_are_a_syntax_error() {
        assert_eq!(
            parse(b"MAIL FROM:<\xff@a.test>"),
            Err(CommandError::Syntax("command is not valid UTF-8"))
        );
    }
}

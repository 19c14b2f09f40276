//! One SMTP connection's state machine: greeting, commands, DATA with dot-unstuffing and the
//! size cap, and the hand-off to the sink that must succeed before we answer 250.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::watch;

use super::command::{self, Command, CommandError, Recipient};
use super::{MailSink, ReceivedMail, SinkError, SmtpListenerConfig};

/// RFC 5321 §4.5.3.1.4 asks for at least 512 octets; extension parameters and SMTPUTF8
/// addresses make longer lines legitimate, so we allow four times that.
const MAX_COMMAND_LINE: usize = 2048;
/// After this many refused commands the client is more likely a scanner than a mailer.
const MAX_ERRORS: u32 = 10;

/// How one read of a line ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineEnd {
    Crlf,
    BareLf,
    /// Longer than the limit: read to its end and dropped. `crlf` says how it ended.
    TooLong {
        crlf: bool,
    },
    Eof,
}

/// Why a session stops early.
enum Stop {
    /// The peer went away, timed out or we told it we are closing; nothing more to say.
    Closed,
    Io(io::Error),
}

impl From<io::Error> for Stop {
    fn from(error: io::Error) -> Stop {
        Stop::Io(error)
    }
}

struct Transaction {
    from: Option<String>,
    to: Vec<String>,
}

pub(super) struct Session<S: MailSink> {
    reader: BufReader<OwnedReadHalf>,
    writer: BufWriter<OwnedWriteHalf>,
    peer: SocketAddr,
    config: Arc<SmtpListenerConfig>,
    sink: Arc<S>,
    shutdown: watch::Receiver<bool>,
    /// The client's EHLO or HELO name, and whether it was EHLO.
    greeted: Option<(String, bool)>,
    transaction: Option<Transaction>,
    errors: u32,
}

impl<S: MailSink> Session<S> {
    pub(super) fn new(
        stream: TcpStream,
        peer: SocketAddr,
        config: Arc<SmtpListenerConfig>,
        sink: Arc<S>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let (read, write) = stream.into_split();
        Session {
            reader: BufReader::with_capacity(64 * 1024, read),
            writer: BufWriter::new(write),
            peer,
            config,
            sink,
            shutdown,
            greeted: None,
            transaction: None,
            errors: 0,
        }
    }

    /// Serves the connection to its end; failures are the peer's business and only logged.
    pub(super) async fn run(mut self) {
        match self.serve().await {
            Ok(()) | Err(Stop::Closed) => {}
            Err(Stop::Io(error)) => tracing::debug!(peer = %self.peer, %error, "smtp session ended"),
        }
    }

    async fn serve(&mut self) -> Result<(), Stop> {
        let greeting = format!("220 {} ESMTP ready", self.config.hostname);
        self.reply(&greeting).await?;
        let mut line = Vec::with_capacity(256);
        loop {
            let end = self.read_command(&mut line).await?;
            let text = trim_line_end(&line);
            match end {
                LineEnd::Eof => return Err(Stop::Closed),
                LineEnd::TooLong { .. } => self.refuse("500 5.5.2 line too long").await?,
                LineEnd::Crlf | LineEnd::BareLf => match command::parse(text) {
                    Ok(Command::Quit) => {
                        self.reply("221 2.0.0 bye").await?;
                        self.flush().await?;
                        return Ok(());
                    }
                    Ok(command) => self.execute(command).await?,
                    Err(CommandError::Unrecognized) => self.refuse("500 5.5.1 command unrecognized").await?,
                    Err(CommandError::Syntax(why)) => {
                        self.refuse(&format!("501 5.5.4 syntax error: {why}")).await?;
                    }
                    Err(CommandError::UnknownParameter) => {
                        self.refuse("555 5.5.4 parameter not recognized").await?;
                    }
                },
            }
        }
    }

    async fn execute(&mut self, command: Command) -> Result<(), Stop> {
        match command {
            Command::Ehlo(name) => {
                self.transaction = None;
                self.greeted = Some((name.clone(), true));
                let hostname = &self.config.hostname;
                let size = self.config.max_message_bytes;
                let reply = format!(
                    "250-{hostname} greets {name}\r\n250-SIZE {size}\r\n250-8BITMIME\r\n250-PIPELINING\r\n\
                     250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8"
                );
                self.reply(&reply).await
            }
            Command::Helo(name) => {
                self.transaction = None;
                self.greeted = Some((name, false));
                let reply = format!("250 {}", self.config.hostname);
                self.reply(&reply).await
            }
            Command::Mail { from, size } => {
                if self.greeted.is_none() {
                    self.refuse("503 5.5.1 send EHLO or HELO first").await
                } else if self.transaction.is_some() {
                    self.refuse("503 5.5.1 nested MAIL command").await
                } else if size.is_some_and(|size| size > self.config.max_message_bytes as u64) {
                    self.reply("552 5.3.4 message size exceeds fixed maximum message size").await
                } else {
                    self.transaction = Some(Transaction { from, to: Vec::new() });
                    self.reply("250 2.1.0 sender ok").await
                }
            }
            Command::Rcpt(recipient) => self.recipient(recipient).await,
            Command::Data => match &self.transaction {
                None => self.refuse("503 5.5.1 MAIL first").await,
                Some(transaction) if transaction.to.is_empty() => {
                    self.refuse("503 5.5.1 no valid recipients").await
                }
                Some(_) => self.data().await,
            },
            Command::Rset => {
                self.transaction = None;
                self.reply("250 2.0.0 reset").await
            }
            Command::Noop => self.reply("250 2.0.0 ok").await,
            Command::Vrfy => self.reply("252 2.5.0 cannot verify the user, but will accept a message").await,
            Command::Help => self.reply("214 2.0.0 see RFC 5321").await,
            Command::NotImplemented => self.refuse("502 5.5.1 command not implemented").await,
            // Answered in `serve`, which then ends the session.
            Command::Quit => Ok(()),
        }
    }

    async fn recipient(&mut self, recipient: Recipient) -> Result<(), Stop> {
        let Some(transaction) = &mut self.transaction else {
            return self.refuse("503 5.5.1 MAIL first").await;
        };
        if transaction.to.len() >= self.config.max_recipients {
            return self.reply("452 4.5.3 too many recipients").await;
        }
        let ours = match &recipient.domain {
            None => true,
            Some(domain) => self.config.domains.iter().any(|ours| ours == domain),
        };
        if !ours {
            return self.reply("550 5.7.1 relaying denied").await;
        }
        if !self.sink.accepts_recipient(&recipient.address) {
            return self.reply("550 5.1.1 no such recipient here").await;
        }
        transaction.to.push(recipient.address);
        self.reply("250 2.1.5 recipient ok").await
    }

    /// DATA: reads the message to its terminating dot, whatever happens, so the connection
    /// stays in step; stores nothing past the size cap; answers 250 only after the sink
    /// has the message.
    async fn data(&mut self) -> Result<(), Stop> {
        self.reply("354 end data with <CR><LF>.<CR><LF>").await?;
        self.flush().await?;
        let transaction = self.transaction.take();
        let max = self.config.max_message_bytes;
        let mut message = Vec::with_capacity(max.min(64 * 1024));
        let mut discarded = Vec::with_capacity(8);
        let mut oversize = false;
        let mut bare_lf = false;
        loop {
            let start = message.len();
            // Past the cap, lines go to a 3-byte scratch buffer that can only ever hold the
            // terminator, so memory stays bounded whatever the client sends.
            let (buffer, start, limit) = if oversize {
                discarded.clear();
                (&mut discarded, 0, 3)
            } else {
                (&mut message, start, max - start + 3)
            };
            let read =
                tokio::time::timeout(self.config.idle_timeout, read_line(&mut self.reader, buffer, limit));
            let Ok(end) = read.await else {
                return self.close("421 4.4.2 idle timeout, closing connection").await;
            };
            let end = end?;
            match end {
                // A connection dropped mid-DATA delivers nothing.
                LineEnd::Eof => return Err(Stop::Closed),
                LineEnd::TooLong { crlf } => {
                    bare_lf |= !crlf;
                    oversize = true;
                    message = Vec::new();
                }
                LineEnd::Crlf | LineEnd::BareLf => {
                    bare_lf |= end == LineEnd::BareLf;
                    let line = &buffer[start..];
                    if line == b".\r\n" || line == b".\n" {
                        buffer.truncate(start);
                        break;
                    }
                    if line.first() == Some(&b'.') {
                        buffer.remove(start);
                    }
                    if !oversize && message.len() > max {
                        oversize = true;
                        message = Vec::new();
                    }
                }
            }
        }
        let Some(transaction) = transaction else { return Err(Stop::Closed) };
        if bare_lf {
            // A bare LF is how SMTP smuggling hides a second message from the MTA in front of
            // us (which ends data only at CRLF.CRLF): refuse and close rather than read on.
            self.reply("554 5.5.2 bare LF in message text; lines must end in CRLF").await?;
            self.flush().await?;
            return Err(Stop::Closed);
        }
        if oversize {
            return self.reply("552 5.3.4 message size exceeds fixed maximum message size").await;
        }
        let mut raw = self.trace_header().into_bytes();
        raw.extend_from_slice(&message);
        drop(message);
        let mail = ReceivedMail {
            raw,
            envelope_from: transaction.from,
            envelope_to: transaction.to,
            peer: self.peer,
        };
        match self.sink.deliver(mail).await {
            Ok(()) => self.reply("250 2.0.0 message accepted").await,
            Err(SinkError::Transient(reason)) => {
                self.reply(&format!("451 4.3.0 {}", reply_text(&reason))).await
            }
            Err(SinkError::Permanent(reason)) => {
                self.reply(&format!("554 5.6.0 {}", reply_text(&reason))).await
            }
        }
    }

    /// The `Received:` line RFC 5321 §4.4 requires of every server that accepts a message.
    fn trace_header(&self) -> String {
        let (name, esmtp) = self.greeted.as_ref().map_or(("unknown", false), |(n, e)| (n.as_str(), *e));
        let with = if esmtp { "ESMTP" } else { "SMTP" };
        format!(
            "Received: from {} ({})\r\n\tby {} with {with}; {}\r\n",
            reply_text(name),
            self.peer.ip(),
            self.config.hostname,
            chrono::Utc::now().to_rfc2822()
        )
    }

    /// Reads one command line, answering 421 and ending the session on idle timeout or
    /// server shutdown.
    async fn read_command(&mut self, line: &mut Vec<u8>) -> Result<LineEnd, Stop> {
        line.clear();
        if *self.shutdown.borrow() {
            return self.close("421 4.3.2 service shutting down").await;
        }
        // Replies to pipelined commands are sent together, once the client's batch is read.
        if self.reader.buffer().is_empty() {
            self.flush().await?;
        }
        let idle = self.config.idle_timeout;
        let mut shutdown = self.shutdown.clone();
        let read = tokio::select! {
            read = tokio::time::timeout(idle, read_line(&mut self.reader, line, MAX_COMMAND_LINE)) => Some(read),
            true = shutting_down(&mut shutdown) => None,
        };
        match read {
            Some(Ok(end)) => Ok(end?),
            Some(Err(_)) => self.close("421 4.4.2 idle timeout, closing connection").await,
            None => self.close("421 4.3.2 service shutting down").await,
        }
    }

    async fn close<T>(&mut self, reply: &str) -> Result<T, Stop> {
        self.reply(reply).await?;
        self.flush().await?;
        Err(Stop::Closed)
    }

    /// Answers a refused command, and gives up on a client that keeps sending them.
    async fn refuse(&mut self, reply: &str) -> Result<(), Stop> {
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            self.reply(reply).await?;
            return self.close("421 4.7.0 too many errors, closing connection").await;
        }
        self.reply(reply).await
    }

    async fn reply(&mut self, text: &str) -> Result<(), Stop> {
        self.writer.write_all(text.as_bytes()).await?;
        self.writer.write_all(b"\r\n").await?;
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), Stop> {
        match tokio::time::timeout(self.config.idle_timeout, self.writer.flush()).await {
            Ok(result) => Ok(result?),
            // A client that stops reading our replies is gone for our purposes.
            Err(_) => Err(Stop::Closed),
        }
    }
}

/// Resolves once the listener is shutting down; `false` (a disabled branch) if it is gone.
async fn shutting_down(shutdown: &mut watch::Receiver<bool>) -> bool {
    shutdown.wait_for(|stopping| *stopping).await.is_ok()
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Text from elsewhere (a sink's reason, a client's HELO name) made safe for one reply or
/// header line: printable, no line breaks, bounded.
fn reply_text(text: &str) -> String {
    text.chars().take(200).map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Appends one line, with its ending, to `out`; a line longer than `limit` bytes is read to
/// its end and dropped instead, so a client cannot make us buffer without bound.
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    out: &mut Vec<u8>,
    limit: usize,
) -> io::Result<LineEnd> {
    let start = out.len();
    let mut taken = 0usize;
    let mut overflow = false;
    let mut last = 0u8;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            out.truncate(start);
            return Ok(LineEnd::Eof);
        }
        let (length, done) = match available.iter().position(|&byte| byte == b'\n') {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        let chunk = &available[..length];
        let before_newline = if done { length.checked_sub(2).map(|at| chunk[at]) } else { None };
        if let Some(byte) = before_newline {
            last = byte;
        } else if !done {
            last = chunk[length - 1];
        }
        taken += length;
        if !overflow {
            if taken > limit {
                overflow = true;
                out.truncate(start);
            } else {
                out.extend_from_slice(chunk);
            }
        }
        reader.consume(length);
        if done {
            let crlf = last == b'\r';
            return Ok(match (overflow, crlf) {
                (true, crlf) => LineEnd::TooLong { crlf },
                (false, true) => LineEnd::Crlf,
                (false, false) => LineEnd::BareLf,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8], limit: usize) -> Vec<(LineEnd, Vec<u8>)> {
        let mut reader = BufReader::with_capacity(4, input);
        let mut found = Vec::new();
        loop {
            let mut out = Vec::new();
            let end = read_line(&mut reader, &mut out, limit).await.expect("reading a slice");
            found.push((end, out));
            if end == LineEnd::Eof {
                return found;
            }
        }
    }

    #[tokio::test]
    async fn lines_end_in_crlf_or_bare_lf_across_buffer_boundaries() {
        let found = lines(b"abc\r\nde\nfghij\r\n\n\r\nxyz", 100).await;
        let expected: Vec<(LineEnd, &[u8])> = vec![
            (LineEnd::Crlf, b"abc\r\n"),
            (LineEnd::BareLf, b"de\n"),
            (LineEnd::Crlf, b"fghij\r\n"),
            (LineEnd::BareLf, b"\n"),
            (LineEnd::Crlf, b"\r\n"),
            (LineEnd::Eof, b""),
        ];
        assert_eq!(found.iter().map(|(e, l)| (*e, l.as_slice())).collect::<Vec<_>>(), expected);
    }

    #[tokio::test]
    async fn a_long_line_is_dropped_and_the_next_one_read() {
        let found = lines(b"0123456789\r\nok\r\n0123456789\n", 8).await;
        let ends: Vec<LineEnd> = found.iter().map(|(e, _)| *e).collect();
        assert_eq!(
            ends,
            [LineEnd::TooLong { crlf: true }, LineEnd::Crlf, LineEnd::TooLong { crlf: false }, LineEnd::Eof]
        );
        assert!(found[0].1.is_empty());
        assert_eq!(found[1].1, b"ok\r\n");
    }

    #[test]
    fn reply_text_is_one_line() {
        assert_eq!(reply_text("disk\r\nfull"), "disk  full");
        assert_eq!(reply_text(&"x".repeat(500)).len(), 200);
    }
}

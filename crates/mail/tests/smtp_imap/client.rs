//! A raw SMTP client over TCP: sends exactly the bytes a test gives it, so tests can pipeline,
//! send bare LF or hang up mid-message.

use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

pub struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Client {
    /// Connects and reads the greeting, which must be 220.
    pub async fn connect(addr: SocketAddr) -> Client {
        let mut client = Client::connect_raw(addr).await;
        let greeting = client.reply().await;
        assert!(greeting.starts_with("220 "), "{greeting}");
        client
    }

    pub async fn connect_raw(addr: SocketAddr) -> Client {
        let (read, writer) = TcpStream::connect(addr).await.expect("connect").into_split();
        Client { reader: BufReader::new(read), writer }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.expect("send");
    }

    /// One whole reply, its lines joined by `\n`; empty when the server closed the connection.
    pub async fn reply(&mut self) -> String {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).await.expect("read") == 0 {
                return lines.join("\n");
            }
            let line = line.trim_end().to_owned();
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return lines.join("\n");
            }
        }
    }

    /// Sends one command line and returns the reply.
    pub async fn command(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }

    /// Asserts the reply to `line` starts with `expected`.
    pub async fn expect(&mut self, line: &str, expected: &str) {
        let reply = self.command(line).await;
        assert!(reply.starts_with(expected), "{line:?} was answered {reply:?}, expected {expected:?}");
    }

    /// EHLO, MAIL FROM and RCPT TO, each accepted.
    pub async fn envelope(&mut self, from: &str, to: &str) {
        self.expect("EHLO client.test", "250").await;
        self.expect(&format!("MAIL FROM:<{from}>"), "250 2.1.0").await;
        self.expect(&format!("RCPT TO:<{to}>"), "250 2.1.5").await;
    }
}

/// A message's DATA section as a client sends it: dot-stuffed and terminated.
pub fn data_section(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    for line in message.split_inclusive(|&byte| byte == b'\n') {
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    out.extend_from_slice(b".\r\n");
    out
}

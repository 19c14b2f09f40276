//! [`Dovecot`]: a private Dovecot (IMAP and LMTP into Maildir) on free loopback ports, from a
//! config file in a temporary folder, for the IMAP poller's tests. Started with
//! `dovecot -c`, stopped with `doveadm -c … stop` on drop. Needs root (mail is stored as the
//! `vmail` user, UID 5000, created if missing) and the `dovecot-imapd` and `dovecot-lmtpd`
//! packages; without them `start` prints why and returns `None` so the test skips.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A running Dovecot; dropping it stops the server and removes its mail.
pub struct Dovecot {
    dir: tempfile::TempDir,
    config: PathBuf,
    doveadm: PathBuf,
    imap_port: u16,
    lmtp_port: u16,
}

impl Dovecot {
    /// The one mailbox user.
    pub const USER: &'static str = "alice";
    pub const PASSWORD: &'static str = "alice-secret";
    /// The domain LMTP delivers for (`alice@example.test` is [`Dovecot::USER`]).
    pub const DOMAIN: &'static str = "example.test";

    /// Starts a server, or returns `None` after printing why it cannot run here.
    pub fn start() -> Option<Dovecot> {
        let (Some(dovecot), Some(doveadm)) = (find_program("dovecot"), find_program("doveadm")) else {
            eprintln!(
                "skipped: dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd), so this \
                 IMAP test did not run"
            );
            return None;
        };
        if let Err(reason) = ensure_vmail_user() {
            eprintln!("skipped: {reason}, so this IMAP test did not run");
            return None;
        }
        let dir = tempfile::tempdir().expect("temporary folder");
        // Dovecot's mail processes run as vmail and its login processes as dovenull: both
        // must reach into the folder.
        run(Command::new("chmod").arg("0755").arg(dir.path()));
        let root = dir.path();
        let mail = root.join("mail");
        std::fs::create_dir(&mail).expect("create the mail folder");
        run(Command::new("chown").arg("vmail:vmail").arg(&mail));
        let users = root.join("users");
        std::fs::write(&users, format!("{}:{{PLAIN}}{}\n", Dovecot::USER, Dovecot::PASSWORD)).expect("users");
        let imap_port = free_port();
        let lmtp_port = loop {
            let port = free_port();
            if port != imap_port {
                break port;
            }
        };
        let config = root.join("dovecot.conf");
        std::fs::write(&config, config_text(root, &users, &mail, imap_port, lmtp_port))
            .expect("write the config");
        let server = Dovecot { dir, config, doveadm, imap_port, lmtp_port };
        let started =
            daemon(Command::new(dovecot).arg("-c").arg(&server.config), &server.dir.path().join("start.out"));
        if !started {
            panic!("dovecot did not start:\n{}", server.log());
        }
        for port in [imap_port, lmtp_port] {
            if !wait_for_port(port, Duration::from_secs(15)) {
                panic!("dovecot did not listen on port {port}:\n{}", server.log());
            }
        }
        Some(server)
    }

    pub fn imap_port(&self) -> u16 {
        self.imap_port
    }

    pub fn lmtp_port(&self) -> u16 {
        self.lmtp_port
    }

    /// The server's log, for failure messages.
    pub fn log(&self) -> String {
        let start = std::fs::read_to_string(self.dir.path().join("start.out")).unwrap_or_default();
        start + &std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// Stores `raw` in the user's INBOX with IMAP APPEND.
    pub async fn append(&self, raw: &[u8]) {
        let mut imap = Conversation::open(self.imap_port).await;
        imap.expect_line("* OK").await;
        imap.send(format!("a1 LOGIN {} {}\r\n", Dovecot::USER, Dovecot::PASSWORD).as_bytes()).await;
        imap.expect_tagged("a1").await;
        imap.send(format!("a2 APPEND INBOX {{{}}}\r\n", raw.len()).as_bytes()).await;
        imap.expect_line("+").await;
        imap.send(raw).await;
        imap.send(b"\r\n").await;
        imap.expect_tagged("a2").await;
        imap.send(b"a3 LOGOUT\r\n").await;
    }

    /// Delivers `raw` to the user by LMTP, as an MTA in front of Dovecot would.
    pub async fn deliver(&self, raw: &[u8]) {
        let mut lmtp = Conversation::open(self.lmtp_port).await;
        lmtp.expect_reply("220").await;
        lmtp.send(b"LHLO test.example\r\n").await;
        lmtp.expect_reply("250").await;
        lmtp.send(b"MAIL FROM:<sender@example.net>\r\n").await;
        lmtp.expect_reply("250").await;
        lmtp.send(format!("RCPT TO:<{}@{}>\r\n", Dovecot::USER, Dovecot::DOMAIN).as_bytes()).await;
        lmtp.expect_reply("250").await;
        lmtp.send(b"DATA\r\n").await;
        lmtp.expect_reply("354").await;
        lmtp.send(&dot_stuff(raw)).await;
        lmtp.expect_reply("250").await;
        lmtp.send(b"QUIT\r\n").await;
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let pid = std::fs::read_to_string(self.dir.path().join("run/master.pid")).unwrap_or_default();
        let _ = Command::new(&self.doveadm).arg("-c").arg(&self.config).arg("stop").output();
        // The folder is removed after this; wait until the server no longer writes in it.
        wait_for_exit(pid.trim());
    }
}

fn config_text(root: &Path, users: &Path, mail: &Path, imap_port: u16, lmtp_port: u16) -> String {
    let root = root.display();
    let users = users.display();
    let mail = mail.display();
    format!(
        "protocols = imap lmtp
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_username_format = %Ln
mail_location = maildir:{mail}/%u
default_internal_user = dovenull
default_login_user = dovenull
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {users}
}}
userdb {{
  driver = static
  args = uid=vmail gid=vmail home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
"
    )
}

/// Creates the `vmail` user (UID 5000) Dovecot stores mail as, unless it exists: mail
/// processes refuse UIDs below 500, so `dovenull` cannot be used.
fn ensure_vmail_user() -> Result<(), String> {
    let exists =
        || Command::new("getent").args(["passwd", "vmail"]).output().is_ok_and(|o| o.status.success());
    if exists() {
        return Ok(());
    }
    let created = Command::new("useradd")
        .args(["--system", "--uid", "5000", "--user-group", "--home-dir", "/nonexistent"])
        .args(["--shell", "/usr/sbin/nologin", "vmail"])
        .output();
    // Another test may have created it at the same moment.
    if exists() {
        return Ok(());
    }
    match created {
        Ok(output) => Err(format!(
            "the vmail user could not be created (useradd: {}; the tests need root)",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Err(error) => Err(format!("the vmail user could not be created ({error})")),
    }
}

/// A program in PATH or the sbin folders (which a non-login shell may leave out of PATH).
pub(crate) fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A loopback port nobody listens on now (the daemon binds it a moment later).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

pub(crate) fn wait_for_port(port: u16, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Waits (up to 10 s) until the process with this pid has exited.
pub(crate) fn wait_for_exit(pid: &str) {
    if pid.is_empty() {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new("/proc").join(pid).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs a command that starts a daemon, its output going to `output`: the daemon inherits
/// the command's stdout and stderr, so capturing them in pipes would wait for it to exit.
pub(crate) fn daemon(command: &mut Command, output: &Path) -> bool {
    let file = std::fs::File::create(output).expect("create the output file");
    let stderr = file.try_clone().expect("share the output file");
    command.stdin(Stdio::null()).stdout(file).stderr(stderr).status().is_ok_and(|status| status.success())
}

pub(crate) fn run(command: &mut Command) {
    let output = command.output().expect("run a setup command");
    assert!(output.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&output.stderr));
}

/// SMTP/LMTP DATA: dot-stuffed, CRLF-terminated, ending in the lone dot.
pub(crate) fn dot_stuff(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 64);
    for line in raw.split_inclusive(|&byte| byte == b'\n') {
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// A line-based client conversation for the seeding helpers; any surprise is a test failure.
struct Conversation {
    stream: BufReader<TcpStream>,
}

impl Conversation {
    async fn open(port: u16) -> Conversation {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connect to dovecot");
        Conversation { stream: BufReader::new(stream) }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.get_mut().write_all(bytes).await.expect("write to dovecot");
    }

    async fn line(&mut self) -> String {
        let mut line = String::new();
        let read = self.stream.read_line(&mut line).await.expect("read from dovecot");
        assert!(read > 0, "dovecot closed the connection");
        line
    }

    async fn expect_line(&mut self, prefix: &str) {
        let line = self.line().await;
        assert!(line.starts_with(prefix), "expected {prefix:?} from dovecot, got {line:?}");
    }

    /// Reads untagged lines up to the tagged one, which must be OK.
    async fn expect_tagged(&mut self, tag: &str) {
        loop {
            let line = self.line().await;
            if let Some(status) = line.strip_prefix(tag) {
                assert!(status.starts_with(" OK"), "dovecot answered {line:?}");
                return;
            }
        }
    }

    /// Reads a possibly multi-line SMTP/LMTP reply, which must have this code.
    async fn expect_reply(&mut self, code: &str) {
        loop {
            let line = self.line().await;
            assert!(line.starts_with(code), "expected {code} from dovecot, got {line:?}");
            if line.as_bytes().get(3) != Some(&b'-') {
                return;
            }
        }
    }
}

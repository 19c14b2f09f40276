//! [`Postfix`]: a private Postfix instance (a real MTA with a queue and retries) on a free
//! loopback port, configured in a temporary folder: mail for [`Postfix::LMTP_DOMAIN`] goes
//! to an LMTP server (Dovecot), everything else to a relay host on loopback (the SMTP
//! listener or sink under test), never to the internet. Started with `postfix -c … start`,
//! stopped on drop. Needs root and the `postfix` package; without them `start` prints why
//! and returns `None` so the test skips.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::dovecot::{daemon, find_program, free_port, run, wait_for_exit, wait_for_port};

/// A running Postfix; dropping it stops it and removes its queue.
pub struct Postfix {
    dir: tempfile::TempDir,
    postfix: PathBuf,
    smtp_port: u16,
}

impl Postfix {
    /// The domain delivered by LMTP (Dovecot's [`crate::dovecot::Dovecot::DOMAIN`]).
    pub const LMTP_DOMAIN: &'static str = "example.test";

    /// Starts an instance that relays to `127.0.0.1:relay_port` and hands
    /// [`Postfix::LMTP_DOMAIN`] to `127.0.0.1:lmtp_port`, or returns `None` after printing why
    /// it cannot run here.
    pub fn start(relay_port: u16, lmtp_port: u16) -> Option<Postfix> {
        let Some(postfix) = find_program("postfix") else {
            eprintln!(
                "skipped: postfix is not installed (apt-get install postfix), so this Postfix test did not run"
            );
            return None;
        };
        let is_root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        if !is_root {
            eprintln!("skipped: a private Postfix instance needs root, so this Postfix test did not run");
            return None;
        }
        let dir = tempfile::tempdir().expect("temporary folder");
        // Postfix's daemons run as the postfix user and must reach the queue inside.
        run(Command::new("chmod").arg("0755").arg(dir.path()));
        let root = dir.path();
        let conf = root.join("conf");
        let data = root.join("data");
        let log = root.join("log");
        // Postfix makes the queue's subfolders, not the queue folder itself.
        let queue = root.join("queue");
        for folder in [&conf, &data, &log, &queue] {
            std::fs::create_dir(folder).expect("create a postfix folder");
        }
        run(Command::new("chown").arg("postfix").arg(&data));
        let smtp_port = free_port();
        let master = ["/etc/postfix/master.cf", "/usr/share/postfix/master.cf.dist"]
            .iter()
            .find_map(|path| std::fs::read_to_string(path).ok())
            .expect("postfix's master.cf");
        std::fs::write(conf.join("master.cf"), master_cf(&master, smtp_port)).expect("write master.cf");
        if let Ok(maps) = std::fs::read("/etc/postfix/dynamicmaps.cf") {
            std::fs::write(conf.join("dynamicmaps.cf"), maps).expect("write dynamicmaps.cf");
        }
        std::fs::write(conf.join("main.cf"), main_cf(root, relay_port, lmtp_port)).expect("write main.cf");
        let server = Postfix { dir, postfix, smtp_port };
        // `check` creates the queue's folders with their owners; `start` then daemonises.
        for action in ["check", "start"] {
            let output = server.dir.path().join(format!("{action}.out"));
            if !daemon(&mut server.postfix(action), &output) {
                let said = std::fs::read_to_string(&output).unwrap_or_default();
                panic!("postfix {action} failed: {said}\n{}", server.log());
            }
        }
        if !wait_for_port(smtp_port, Duration::from_secs(15)) {
            panic!("postfix did not listen on port {smtp_port}:\n{}", server.log());
        }
        Some(server)
    }

    /// Where Postfix takes SMTP (no authentication; loopback clients may relay).
    pub fn smtp_port(&self) -> u16 {
        self.smtp_port
    }

    /// Postfix's log (`maillog_file`), for failure messages and delivery status lines.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log/postfix.log")).unwrap_or_default()
    }

    /// Attempts every queued message now rather than at the next retry time.
    pub fn flush(&self) {
        if let Some(postqueue) = find_program("postqueue") {
            let mut command = Command::new(postqueue);
            let _ =
                command.arg("-c").arg(self.dir.path().join("conf")).arg("-f").stdout(Stdio::null()).status();
        }
    }

    fn postfix(&self, action: &str) -> Command {
        let mut command = Command::new(&self.postfix);
        command.arg("-c").arg(self.dir.path().join("conf")).arg(action);
        command
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let pid = std::fs::read_to_string(self.dir.path().join("queue/pid/master.pid")).unwrap_or_default();
        let _ = self.postfix("stop").stdout(Stdio::null()).stderr(Stdio::null()).status();
        // The folder is removed after this; wait until the master and its children are gone.
        wait_for_exit(pid.trim());
    }
}

fn main_cf(root: &Path, relay_port: u16, lmtp_port: u16) -> String {
    let root = root.display();
    format!(
        "compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
myhostname = mta.example.test
mydomain = example.test
inet_interfaces = loopback-only
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = {domain}
virtual_transport = lmtp:inet:127.0.0.1:{lmtp_port}
relayhost = [127.0.0.1]:{relay_port}
smtp_tls_security_level = none
smtpd_tls_security_level = none
maillog_file = {root}/log/postfix.log
maillog_file_prefixes = {root}/log
alias_maps =
alias_database =
# No DNS here: the relay host is an address, and a lookup would only time out.
smtp_dns_support_level = disabled
# A test waits seconds, not Postfix's minutes, for a retry.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
",
        domain = Postfix::LMTP_DOMAIN
    )
}

/// Debian's master.cf with the SMTP server moved to our port, and no service chrooted: a
/// chroot inside the temporary queue would lack the files (resolv.conf, services) daemons
/// read.
fn master_cf(master: &str, smtp_port: u16) -> String {
    let address = format!("127.0.0.1:{smtp_port}");
    let mut out = String::with_capacity(master.len());
    for line in master.lines() {
        let mut fields: Vec<&str> = line.split_whitespace().collect();
        let is_service =
            !line.starts_with(char::is_whitespace) && !line.starts_with('#') && fields.len() >= 8;
        if is_service {
            if fields[0] == "smtp" && fields[1] == "inet" {
                fields[0] = &address;
            }
            fields[4] = "n";
            out.push_str(&fields.join(" "));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

//! Running the binary: a server child process, admin commands, and a minimal HTTP/1.1 client
//! (one request per connection) so the tests need no HTTP client library.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sb_test_support::TestBackend;

pub const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// `switchboard` with the fixture's data folder and database.
pub fn command(backend: &TestBackend) -> Command {
    let mut command = Command::new(BIN);
    command.arg("--data-dir").arg(backend.data_dir());
    if let Some(url) = backend.database_url() {
        command.arg("--database-url").arg(url);
    }
    command.env_remove("SWITCHBOARD_CONFIG").env("SWITCHBOARD_LOG", "warn");
    command
}

/// Runs an admin command to completion, feeding `stdin`.
pub fn run(backend: &TestBackend, args: &[&str], stdin: &str) -> Output {
    let mut child = command(backend)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// Runs an admin command that must succeed and print JSON.
pub fn run_json(backend: &TestBackend, args: &[&str]) -> serde_json::Value {
    let output = run(backend, args, "");
    assert!(output.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

/// A running `switchboard serve`, killed if the test ends without stopping it.
pub struct Server {
    pub child: Child,
    pub address: SocketAddr,
    /// Everything printed on stdout up to the "serving" line.
    pub banner: String,
}

impl Server {
    pub fn start(backend: &TestBackend) -> Server {
        Server::start_with(command(backend))
    }

    pub fn start_with(mut command: Command) -> Server {
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("server starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut banner = String::new();
        let address = loop {
            let mut line = String::new();
            if stdout.read_line(&mut line).unwrap() == 0 {
                panic!("server exited before serving; it printed: {banner}");
            }
            banner.push_str(&line);
            if let Some(rest) = line.strip_prefix("Switchboard is serving at http://") {
                break rest.split('/').next().unwrap().parse().expect("address");
            }
        };
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Server { child, address, banner }
    }

    /// The value after `label` in the first-start block.
    pub fn banner_value(&self, label: &str) -> Option<String> {
        self.banner.lines().find_map(|l| l.trim().strip_prefix(label)).map(|v| v.trim().to_owned())
    }

    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
        request(self.address, method, path, headers, body)
    }

    /// Sends SIGTERM and waits (at most 10 s) for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not stop within 10 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// `name=value` of a cookie the response sets.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| v.split(';').next())
            .find(|pair| pair.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }
}

/// One HTTP/1.1 request on a fresh connection; panics if the server cannot be reached.
pub fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response {
    try_request(address, method, path, headers, body).expect("the server answers")
}

/// One HTTP/1.1 request on a fresh connection.
pub fn try_request(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut text = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    stream.write_all(text.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let broken = || std::io::Error::other("malformed HTTP response");
    let (head, body) = raw.split_once("\r\n\r\n").ok_or_else(broken)?;
    let mut lines = head.lines();
    let status =
        lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).ok_or_else(broken)?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let response = Response { status, headers, body: body.to_owned() };
    Ok(match response.header("transfer-encoding") {
        Some("chunked") => Response { body: dechunk(&response.body), ..response },
        _ => response,
    })
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// Logs in through the form; returns the `Cookie` header value of the session.
pub fn login(server: &Server, email: &str, password: &str) -> Response {
    let page = server.request("GET", "/login", &[], "");
    let csrf_cookie = page.cookie("sb_csrf").expect("csrf cookie");
    let marker = "name=\"csrf\" value=\"";
    let start = page.body.find(marker).unwrap() + marker.len();
    let token = page.body[start..].split('"').next().unwrap();
    let form: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("email", email), ("password", password), ("csrf", token)])
        .finish();
    server.request(
        "POST",
        "/login",
        &[("Cookie", &csrf_cookie), ("Content-Type", "application/x-www-form-urlencoded")],
        &form,
    )
}

pub fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

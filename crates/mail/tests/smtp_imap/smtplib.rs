//! Python's smtplib, a widely used real client, talks to the listener: EHLO features,
//! a UTF-8 message with a dot line, a refused relay recipient, and a refused oversize one.

use std::time::Duration;

use crate::listener;

const SCRIPT: &str = r#"
import smtplib, sys
port = int(sys.argv[1])
with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
    smtp.ehlo("python.client.test")
    for feature in ("size", "8bitmime", "pipelining", "enhancedstatuscodes", "smtputf8"):
        assert smtp.has_extn(feature), feature
    assert smtp.esmtp_features["size"] == "41943040", smtp.esmtp_features
    message = "From: Zoë <zoe@acme.example>\r\nTo: checkins@switchboard.test\r\nSubject: héllo\r\n\r\nline\r\n.\r\n..twice\r\n"
    refused = smtp.sendmail("zoë@acme.example", ["checkins@switchboard.test"], message.encode("utf-8"), mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    assert refused == {}, refused
    try:
        smtp.sendmail("zoe@acme.example", ["someone@elsewhere.example"], b"Subject: x\r\n\r\nx\r\n")
        raise SystemExit("relaying was accepted")
    except smtplib.SMTPRecipientsRefused as error:
        code, text = error.recipients["someone@elsewhere.example"]
        assert code == 550 and text.startswith(b"5.7.1"), (code, text)
    print("smtplib ok")
"#;

#[tokio::test]
async fn python_smtplib_sends_through_the_listener() {
    let server = listener::start(listener::config()).await;
    let run = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(server.addr.port().to_string())
        .kill_on_drop(true)
        .output();
    let output = match tokio::time::timeout(Duration::from_secs(60), run).await.expect("python finishes") {
        Ok(output) => output,
        Err(error) => {
            eprintln!("skipped: python3 could not be started ({error}), so the smtplib test did not run");
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("smtplib ok"),
        "smtplib failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mails = server.stop().await.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].envelope_from.as_deref(), Some("zoë@acme.example"));
    assert_eq!(mails[0].envelope_to, ["checkins@switchboard.test"]);
    let expected = "Subject: héllo\r\n\r\nline\r\n.\r\n..twice\r\n";
    assert!(mails[0].raw.ends_with(expected.as_bytes()), "{}", String::from_utf8_lossy(&mails[0].raw));
    assert!(mails[0].raw.starts_with(b"Received: from python.client.test (127.0.0.1)"));
}

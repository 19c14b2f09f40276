//! An independent DKIM verifier (RFC 6376, rsa-sha256, relaxed/relaxed only), written from
//! the RFC rather than from lettre's signer, so a signing bug cannot hide behind a shared
//! mistake; and a second opinion from Python's dkimpy when it is installed.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::RsaPublicKey;
use rsa::pkcs1v15::Pkcs1v15Sign;
use rsa::pkcs8::EncodePublicKey;
use sha2::{Digest, Sha256};

/// The tags of a signature that verified.
#[derive(Debug)]
pub struct Verified {
    pub domain: String,
    pub selector: String,
    /// `h=`, lowercased, in order.
    pub signed_headers: Vec<String>,
}

/// Checks the message's one DKIM-Signature against `key`; the error says what failed.
pub fn verify(message: &[u8], key: &RsaPublicKey) -> Result<Verified, String> {
    let split = find(message, b"\r\n\r\n").ok_or("no blank line after the headers")?;
    let head = std::str::from_utf8(&message[..split + 2]).map_err(|_| "headers are not utf-8")?;
    let body = &message[split + 4..];
    let headers = fields(head);
    let signatures: Vec<&String> =
        headers.iter().filter(|h| name_of(h).eq_ignore_ascii_case("dkim-signature")).collect();
    let [signature] = signatures[..] else { return Err(format!("{} signatures", signatures.len())) };
    let tags = tags(value_of(signature));
    let tag = |name: &str| tags.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let need = |name: &str| tag(name).ok_or_else(|| format!("no {name}= tag"));
    if need("v")? != "1" || need("a")? != "rsa-sha256" || need("c")? != "relaxed/relaxed" {
        return Err(format!("unexpected v, a or c: {tags:?}"));
    }
    if tag("l").is_some() {
        return Err("l= is not expected".into());
    }
    let body_hash = STANDARD.encode(Sha256::digest(relaxed_body(body)));
    if need("bh")? != body_hash {
        return Err(format!("body hash mismatch: signed {}, computed {body_hash}", need("bh")?));
    }
    let signed_headers: Vec<String> = need("h")?.split(':').map(|h| h.trim().to_ascii_lowercase()).collect();
    let mut hasher = Sha256::new();
    // Each listed name takes that header's last instance not yet used (RFC 6376 §5.4.2); a
    // name with no instance left contributes nothing.
    let mut used = vec![false; headers.len()];
    for name in &signed_headers {
        let found =
            (0..headers.len()).rev().find(|&i| !used[i] && name_of(&headers[i]).eq_ignore_ascii_case(name));
        if let Some(i) = found {
            used[i] = true;
            hasher.update(relaxed_header(&headers[i]).as_bytes());
            hasher.update(b"\r\n");
        }
    }
    hasher.update(relaxed_header(&without_b_value(signature)).as_bytes());
    let b = STANDARD.decode(need("b")?).map_err(|_| "b= is not base64")?;
    key.verify(Pkcs1v15Sign::new::<Sha256>(), &hasher.finalize(), &b)
        .map_err(|error| format!("the signature does not verify: {error}"))?;
    Ok(Verified { domain: need("d")?, selector: need("s")?, signed_headers })
}

/// The DNS TXT record a receiver would look up for `key`.
pub fn txt_record(key: &RsaPublicKey) -> String {
    let der = key.to_public_key_der().expect("public key as DER");
    format!("v=DKIM1; k=rsa; p={}", STANDARD.encode(der.as_bytes()))
}

/// Verifies with dkimpy; `None` (having printed why) when python3 or dkimpy is missing.
pub fn verify_with_dkimpy(message: &[u8], key: &RsaPublicKey) -> Option<Result<(), String>> {
    const SCRIPT: &str = "import sys, dkim\n\
        record = sys.argv[1].encode()\n\
        ok = dkim.verify(sys.stdin.buffer.read(), dnsfunc=lambda name, timeout=5: record)\n\
        sys.exit(0 if ok else 3)\n";
    use std::io::Write;
    let child = std::process::Command::new("python3")
        .args(["-c", SCRIPT, &txt_record(key)])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("skipped: python3 could not be started, so dkimpy did not check the signature");
        return None;
    };
    child.stdin.take().expect("stdin").write_all(message).expect("write to python3");
    let output = child.wait_with_output().expect("python3 ran");
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("No module named 'dkim'") {
        eprintln!("skipped: dkimpy is not installed (python3 -m pip install dkimpy)");
        return None;
    }
    Some(match output.status.code() {
        Some(0) => Ok(()),
        _ => Err(format!("dkimpy refused the signature: {stderr}")),
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The header fields, each with its continuation lines and without the final CRLF.
fn fields(head: &str) -> Vec<String> {
    let mut fields: Vec<String> = Vec::new();
    for line in head.split("\r\n").filter(|line| !line.is_empty()) {
        match (line.starts_with([' ', '\t']), fields.last_mut()) {
            (true, Some(last)) => {
                last.push_str("\r\n");
                last.push_str(line);
            }
            _ => fields.push(line.to_owned()),
        }
    }
    fields
}

fn name_of(field: &str) -> &str {
    field.split_once(':').map_or(field, |(name, _)| name.trim_end())
}

fn value_of(field: &str) -> &str {
    field.split_once(':').map_or("", |(_, value)| value)
}

fn tags(value: &str) -> Vec<(String, String)> {
    value
        .split(';')
        .filter_map(|tag| tag.split_once('='))
        .map(|(name, value)| (name.trim().to_owned(), value.split_whitespace().collect::<String>()))
        .collect()
}

/// The signature field with the `b=` value emptied, everything else exactly as sent.
fn without_b_value(field: &str) -> String {
    let (name, value) = field.split_once(':').expect("a header field");
    let tags: Vec<String> = value
        .split(';')
        .map(|tag| match tag.split_once('=') {
            Some((tag_name, _)) if tag_name.trim() == "b" => format!("{tag_name}="),
            _ => tag.to_owned(),
        })
        .collect();
    format!("{name}:{}", tags.join(";"))
}

/// RFC 6376 §3.4.2: lowercase name, unfold, runs of whitespace to one space, none at the
/// ends of the value or around the colon.
fn relaxed_header(field: &str) -> String {
    let (name, value) = field.split_once(':').expect("a header field");
    let value = value.replace("\r\n", "");
    let value: Vec<&str> = value.split([' ', '\t']).filter(|word| !word.is_empty()).collect();
    format!("{}:{}", name.trim().to_ascii_lowercase(), value.join(" "))
}

/// RFC 6376 §3.4.4: whitespace runs to one space, none at line ends, no empty lines at the
/// end, and a non-empty body ends with CRLF.
fn relaxed_body(body: &[u8]) -> Vec<u8> {
    let text = body.strip_suffix(b"\r\n").unwrap_or(body);
    let mut lines: Vec<Vec<u8>> = text
        .split(|&b| b == b'\n')
        .map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let mut out = Vec::with_capacity(line.len());
            for &byte in line {
                let space = byte == b' ' || byte == b'\t';
                if !(space && out.last() == Some(&b' ')) {
                    out.push(if space { b' ' } else { byte });
                }
            }
            while out.last() == Some(&b' ') {
                out.pop();
            }
            out
        })
        .collect();
    while lines.last().is_some_and(Vec::is_empty) {
        lines.pop();
    }
    let mut out = Vec::new();
    for line in lines {
        out.extend_from_slice(&line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

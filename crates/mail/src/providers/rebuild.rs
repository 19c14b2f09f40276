//! Rebuilds one RFC 5322 message from the fields of a payload the provider already parsed
//! (headers, text, HTML, attachments), so that those payloads end in the same MIME parser as
//! raw ones. Everything written is UTF-8: header values raw (RFC 6532, which mail-parser
//! reads), bodies and attachments base64.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mail_parser::decoders::charsets::map::charset_decoder;

/// Boundaries of the rebuilt message. Every body line written inside them is base64 or one of
/// our own header lines, neither of which can start with `--`, so they never collide.
const MIXED: &str = "=_sb-mixed_=";
const ALTERNATIVE: &str = "=_sb-alternative_=";

/// A file to attach.
#[derive(Debug, Default)]
pub(super) struct DraftAttachment {
    pub filename: Option<String>,
    pub content_type: Option<String>,
    /// Set for inline images the HTML refers to as `cid:…`.
    pub content_id: Option<String>,
    pub bytes: Vec<u8>,
}

/// The parts of a message being rebuilt.
#[derive(Debug, Default)]
pub(super) struct Draft {
    headers: Vec<(String, String)>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub attachments: Vec<DraftAttachment>,
}

impl Draft {
    /// Adds a header. The original message's MIME structure headers are dropped (the rebuilt
    /// message has its own), as are names that are not header names; line breaks in values are
    /// turned into spaces so a value cannot add headers.
    pub fn header(&mut self, name: &str, value: &str) {
        let name = name.trim();
        let lower = name.to_ascii_lowercase();
        let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
        if !valid || lower.starts_with("content-") || lower == "mime-version" {
            return;
        }
        let value = value.trim().replace(['\r', '\n'], " ");
        self.headers.push((name.to_string(), value));
    }

    /// Adds a header unless one of that name is already there.
    pub fn header_if_absent(&mut self, name: &str, value: &str) {
        if !self.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            self.header(name, value);
        }
    }

    /// Replaces the value of the header `name` when it holds replacement characters, i.e. when
    /// its bytes were not in the charset they were read as.
    pub fn repair_header(&mut self, name: &str, value: &str) {
        let garbled =
            self.headers.iter().position(|(n, v)| n.eq_ignore_ascii_case(name) && v.contains('\u{FFFD}'));
        if let Some(at) = garbled {
            self.headers[at].1 = value.trim().replace(['\r', '\n'], " ");
        }
    }

    /// Adds every header of a raw header block, unfolding continuation lines.
    pub fn header_block(&mut self, block: &str) {
        let mut fields: Vec<String> = Vec::new();
        for line in block.lines() {
            match fields.last_mut() {
                Some(field) if line.starts_with([' ', '\t']) => field.push_str(line),
                _ if line.trim().is_empty() => {}
                _ => fields.push(line.to_string()),
            }
        }
        for field in fields {
            if let Some((name, value)) = field.split_once(':') {
                self.header(name, value);
            }
        }
    }

    /// The complete message.
    pub fn into_mime(self) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, value) in &self.headers {
            push_line(&mut out, &format!("{name}: {value}"));
        }
        push_line(&mut out, "MIME-Version: 1.0");
        if self.attachments.is_empty() {
            body(&mut out, self.text.as_deref(), self.html.as_deref());
            return out;
        }
        push_line(&mut out, &format!("Content-Type: multipart/mixed; boundary=\"{MIXED}\""));
        push_line(&mut out, "");
        push_line(&mut out, &format!("--{MIXED}"));
        body(&mut out, self.text.as_deref(), self.html.as_deref());
        for attachment in &self.attachments {
            push_line(&mut out, &format!("--{MIXED}"));
            let content_type = attachment.content_type.as_deref().filter(|t| is_mime_type(t));
            let mut headers = vec![format!(
                "Content-Type: {}",
                content_type.unwrap_or("application/octet-stream").to_ascii_lowercase()
            )];
            let content_id = attachment.content_id.as_deref().map(clean_content_id).filter(|c| !c.is_empty());
            let disposition = if content_id.is_some() { "inline" } else { "attachment" };
            headers.push(match attachment.filename.as_deref().filter(|f| !f.is_empty()) {
                Some(filename) => {
                    format!("Content-Disposition: {disposition}; {}", filename_parameter(filename))
                }
                None => format!("Content-Disposition: {disposition}"),
            });
            if let Some(content_id) = content_id {
                headers.push(format!("Content-ID: <{content_id}>"));
            }
            leaf(&mut out, &headers, &attachment.bytes);
        }
        push_line(&mut out, &format!("--{MIXED}--"));
        out
    }
}

/// Decodes `bytes` from the named charset into UTF-8. UTF-8, an unnamed charset or one no
/// decoder knows are read as UTF-8 with replacement characters.
pub(super) fn decode_charset(bytes: &[u8], charset: Option<&str>) -> String {
    let name = charset.map(|c| c.trim().to_ascii_lowercase()).unwrap_or_default();
    if matches!(name.as_str(), "" | "utf-8" | "utf8" | "us-ascii" | "ascii") {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    match charset_decoder(name.as_bytes()) {
        Some(decode) => decode(bytes),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// `"Name" <address>`, or the bare address when there is no name.
pub(super) fn mailbox(name: Option<&str>, address: &str) -> String {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => format!("\"{}\" <{}>", name.replace('\\', "\\\\").replace('"', "\\\""), address.trim()),
        None => address.trim().to_string(),
    }
}

/// The text and HTML bodies: one leaf, or both in a multipart/alternative.
fn body(out: &mut Vec<u8>, text: Option<&str>, html: Option<&str>) {
    const PLAIN: &str = "Content-Type: text/plain; charset=utf-8";
    const HTML: &str = "Content-Type: text/html; charset=utf-8";
    match (text, html) {
        (Some(text), Some(html)) => {
            push_line(out, &format!("Content-Type: multipart/alternative; boundary=\"{ALTERNATIVE}\""));
            push_line(out, "");
            push_line(out, &format!("--{ALTERNATIVE}"));
            leaf(out, &[PLAIN.to_string()], text.as_bytes());
            push_line(out, &format!("--{ALTERNATIVE}"));
            leaf(out, &[HTML.to_string()], html.as_bytes());
            push_line(out, &format!("--{ALTERNATIVE}--"));
        }
        (None, Some(html)) => leaf(out, &[HTML.to_string()], html.as_bytes()),
        (text, None) => leaf(out, &[PLAIN.to_string()], text.unwrap_or_default().as_bytes()),
    }
}

/// One part: its headers, then the content in base64 lines of 76 characters.
fn leaf(out: &mut Vec<u8>, headers: &[String], content: &[u8]) {
    for header in headers {
        push_line(out, header);
    }
    push_line(out, "Content-Transfer-Encoding: base64");
    push_line(out, "");
    let encoded = STANDARD.encode(content);
    for chunk in encoded.as_bytes().chunks(76) {
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
}

fn push_line(out: &mut Vec<u8>, line: &str) {
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `type/subtype` made of RFC 2045 token characters.
fn is_mime_type(text: &str) -> bool {
    let token =
        |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b));
    text.split_once('/').is_some_and(|(top, sub)| token(top) && token(sub))
}

/// A Content-ID without its brackets, limited to visible ASCII.
fn clean_content_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .chars()
        .filter(|c| c.is_ascii_graphic() && !"<>".contains(*c))
        .collect()
}

/// `filename="…"` for plain ASCII names, RFC 2231 `filename*=utf-8''…` for anything else.
fn filename_parameter(filename: &str) -> String {
    let plain = filename.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
    if plain {
        return format!("filename=\"{filename}\"");
    }
    let mut encoded = String::from("filename*=utf-8''");
    for byte in filename.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuilt_message_parses_back() {
        let mut draft = Draft::default();
        draft.header_block("From: Ana <ana@acme.com>\r\nSubject: a long\r\n  subject\r\nContent-Type: x/y\r\nnot a header\r\n");
        draft.header("Bad Name", "x");
        draft.header("To", "bob@example.com\r\nBcc: evil@example.com");
        draft.text = Some("Olá".into());
        draft.html = Some("<p>Olá</p>".into());
        draft.attachments.push(DraftAttachment {
            filename: Some("relatório \"final\".pdf".into()),
            content_type: Some("application/pdf".into()),
            content_id: None,
            bytes: b"%PDF-1.4".to_vec(),
        });
        let mail = crate::parse(&draft.into_mime()).unwrap();
        assert_eq!(mail.subject.as_deref(), Some("a long  subject"));
        assert_eq!(mail.to.len(), 1);
        assert!(mail.cc.is_empty());
        assert_eq!(mail.text, "Olá");
        assert_eq!(mail.html.as_deref(), Some("<p>Olá</p>"));
        assert_eq!(mail.attachments.len(), 1);
        assert_eq!(mail.attachments[0].filename.as_deref(), Some("relatório \"final\".pdf"));
        assert_eq!(mail.attachments[0].size, 8);
        assert!(mail.flaws.is_empty(), "{:?}", mail.flaws);
    }

    /// Names SendGrid's own form handling is known to trip on keep every character.
    #[test]
    fn odd_attachment_names_survive() {
        for name in ["\\\\share\\mail\\forwarded.msg", "..", "a;b=c.txt", "日本語.txt", "x\"y'z.txt"] {
            let mut draft = Draft::default();
            draft.header("From", "a@b.c");
            let attachment =
                DraftAttachment { filename: Some(name.into()), bytes: b"x".to_vec(), ..Default::default() };
            draft.attachments.push(attachment);
            let mail = crate::parse(&draft.into_mime()).unwrap();
            assert_eq!(mail.attachments[0].filename.as_deref(), Some(name));
            assert_eq!(mail.attachments[0].content_type, "application/octet-stream");
        }
    }

    #[test]
    fn charsets_decode_to_utf8() {
        assert_eq!(decode_charset(b"caf\xe9", Some("iso-8859-1")), "café");
        assert_eq!(decode_charset(b"\x93quoted\x94", Some("windows-1252")), "\u{201c}quoted\u{201d}");
        assert_eq!(decode_charset(b"Ol\xa0", Some("cp850")), "Olá");
        assert_eq!(decode_charset(b"caf\xe9", Some("x-unknown")), "caf\u{FFFD}");
        assert_eq!(decode_charset("café".as_bytes(), Some("UTF-8")), "café");
    }

    #[test]
    fn mailbox_quotes_names() {
        assert_eq!(
            mailbox(Some("Souza, Ana \"A\""), "ana@acme.com"),
            "\"Souza, Ana \\\"A\\\"\" <ana@acme.com>"
        );
        assert_eq!(mailbox(Some(" "), " ana@acme.com "), "ana@acme.com");
    }
}

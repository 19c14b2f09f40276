//! Form bodies as providers post them: `application/x-www-form-urlencoded`, and
//! `multipart/form-data`, which is MIME and so goes through mail-parser like every other
//! piece of outside MIME.

use mail_parser::{Encoding, MessageParser, MimeHeaders, PartType};

use super::ProviderError;

/// RFC 2046 allows boundaries of 1 to 70 characters; the limit also bounds the search for the
/// closing delimiter.
const MAX_BOUNDARY: usize = 70;

/// One field of a form: a value, or a file with its name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FormField {
    pub name: String,
    pub filename: Option<String>,
    /// `type/subtype`, lower-case, when the part named one.
    pub content_type: Option<String>,
    /// The bytes as sent: multipart values are not charset-decoded, because providers name
    /// the charset elsewhere (SendGrid's `charsets` field).
    pub value: Vec<u8>,
}

/// A parsed form body, fields in the order sent.
#[derive(Debug, Default)]
pub(super) struct Form {
    fields: Vec<FormField>,
}

impl Form {
    /// Parses `body` as the form its Content-Type header value says.
    pub fn parse(body: &[u8], content_type: &str) -> Result<Form, ProviderError> {
        let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/x-www-form-urlencoded" => Ok(urlencoded(body)),
            "multipart/form-data" => multipart(body, content_type),
            _ => Err(ProviderError::UnsupportedContentType),
        }
    }

    /// The first field named `name`.
    pub fn field(&self, name: &str) -> Option<&FormField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Removes and returns the first field named `name`, so large values move instead of copy.
    pub fn take(&mut self, name: &str) -> Option<FormField> {
        let at = self.fields.iter().position(|f| f.name == name)?;
        Some(self.fields.remove(at))
    }

    /// The first field named `name` as text (invalid UTF-8 replaced), `None` when absent.
    pub fn text(&self, name: &str) -> Option<String> {
        self.field(name).map(|f| String::from_utf8_lossy(&f.value).into_owned())
    }

    /// The first field named `name` as trimmed text, `None` when absent or blank.
    pub fn non_empty(&self, name: &str) -> Option<String> {
        self.text(name).map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
    }

    /// Removes and returns the fields named `prefix` followed by a number (`attachment1`,
    /// `attachment-2`), ordered by that number.
    pub fn take_numbered(&mut self, prefix: &str) -> Vec<(String, FormField)> {
        let mut numbered = Vec::new();
        let mut rest = Vec::with_capacity(self.fields.len());
        for field in std::mem::take(&mut self.fields) {
            let number = field.name.strip_prefix(prefix).and_then(|n| n.parse::<u32>().ok());
            match number {
                Some(n) => numbered.push((n, field)),
                None => rest.push(field),
            }
        }
        self.fields = rest;
        numbered.sort_by_key(|(n, _)| *n);
        numbered.into_iter().map(|(_, f)| (f.name.clone(), f)).collect()
    }
}

/// Urlencoded fields, percent-decoded to bytes: Mailgun posts a raw message this way when it
/// has no attachments, and its 8-bit parts must reach the MIME parser unchanged, so values are
/// not read as UTF-8 here (a decoder that does, like `url`'s, would replace such bytes).
fn urlencoded(body: &[u8]) -> Form {
    let fields = body
        .split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &[][..]),
            };
            FormField {
                name: String::from_utf8_lossy(&percent_decode(name)).into_owned(),
                filename: None,
                content_type: None,
                value: percent_decode(value),
            }
        })
        .collect();
    Form { fields }
}

/// `+` is a space and `%XX` a byte; a `%` not followed by two hex digits stays as it is.
fn percent_decode(text: &[u8]) -> Vec<u8> {
    let hex = |b: u8| char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    while let Some(&byte) = text.get(at) {
        let escaped =
            (byte == b'%').then(|| Some(hex(*text.get(at + 1)?)? << 4 | hex(*text.get(at + 2)?)?)).flatten();
        match (byte, escaped) {
            (_, Some(decoded)) => {
                out.push(decoded);
                at += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                at += 1;
            }
            (other, None) => {
                out.push(other);
                at += 1;
            }
        }
    }
    out
}

fn multipart(body: &[u8], content_type: &str) -> Result<Form, ProviderError> {
    // The header value becomes a header line of the document handed to mail-parser: a line
    // break inside it would add headers of the sender's choosing.
    if content_type.contains(['\r', '\n']) {
        return Err(ProviderError::MalformedForm);
    }
    let mut document = Vec::with_capacity(content_type.len() + body.len() + 20);
    document.extend_from_slice(b"Content-Type: ");
    document.extend_from_slice(content_type.as_bytes());
    document.extend_from_slice(b"\r\n\r\n");
    let body_start = document.len();
    document.extend_from_slice(body);

    let message = MessageParser::default().parse(&document).ok_or(ProviderError::MalformedForm)?;
    let root = message.parts.first().ok_or(ProviderError::MalformedForm)?;
    let boundary = root
        .content_type()
        .and_then(|c| c.attribute("boundary"))
        .filter(|b| !b.is_empty() && b.len() <= MAX_BOUNDARY)
        .ok_or(ProviderError::MalformedForm)?;
    // mail-parser reads a body cut short as far as it goes; a form is only whole when its
    // closing delimiter arrived.
    if !has_closing_delimiter(&document[body_start..], boundary.as_bytes()) {
        return Err(ProviderError::MalformedForm);
    }
    let PartType::Multipart(children) = &root.body else {
        return Err(ProviderError::MalformedForm);
    };
    let mut fields = Vec::with_capacity(children.len());
    for part in children.iter().filter_map(|&id| message.parts.get(id as usize)) {
        let disposition = part.content_disposition();
        let Some(name) = disposition.and_then(|d| d.attribute("name")) else { continue };
        let value = match part.encoding {
            // The usual case: the bytes between the part's headers and the next delimiter, as
            // sent, whatever mail-parser would have made of their type.
            Encoding::None => document
                .get(part.offset_body as usize..part.offset_end as usize)
                .ok_or(ProviderError::MalformedForm)?
                .to_vec(),
            _ => part.contents().to_vec(),
        };
        fields.push(FormField {
            name: name.to_string(),
            filename: disposition.and_then(|d| d.attribute("filename")).map(String::from),
            content_type: part.content_type().map(|c| match c.subtype() {
                Some(sub) => format!("{}/{}", c.ctype(), sub).to_ascii_lowercase(),
                None => c.ctype().to_ascii_lowercase(),
            }),
            value,
        });
    }
    if fields.is_empty() {
        return Err(ProviderError::MalformedForm);
    }
    Ok(Form { fields })
}

/// Whether `--boundary--` starts a line of `body`.
fn has_closing_delimiter(body: &[u8], boundary: &[u8]) -> bool {
    let closes = |line: &[u8]| {
        line.strip_prefix(b"--").and_then(|l| l.strip_prefix(boundary)).is_some_and(|l| l.starts_with(b"--"))
    };
    closes(body)
        || body.iter().enumerate().filter(|(_, b)| **b == b'\n').any(|(at, _)| closes(&body[at + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "multipart/form-data; boundary=xYzZY";

    fn multipart_body(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, filename, value) in parts {
            body.extend_from_slice(b"--xYzZY\r\nContent-Disposition: form-data; name=\"");
            body.extend_from_slice(name.as_bytes());
            body.push(b'"');
            if let Some(filename) = filename {
                body.extend_from_slice(format!("; filename=\"{filename}\"").as_bytes());
                body.extend_from_slice(b"\r\nContent-Type: application/pdf");
            }
            body.extend_from_slice(b"\r\n\r\n");
            body.extend_from_slice(value);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--xYzZY--\r\n");
        body
    }

    #[test]
    fn multipart_values_keep_their_exact_bytes() {
        let latin1: &[u8] = b"caf\xe9\r\nna\xefve\r\n";
        let body = multipart_body(&[("text", None, latin1), ("a1", Some("r.pdf"), b"%PDF\x00\xff")]);
        let form = Form::parse(&body, CT).unwrap();
        assert_eq!(form.field("text").unwrap().value, latin1);
        let file = form.field("a1").unwrap();
        assert_eq!(file.value, b"%PDF\x00\xff");
        assert_eq!(file.filename.as_deref(), Some("r.pdf"));
        assert_eq!(file.content_type.as_deref(), Some("application/pdf"));
        assert_eq!(form.field("missing"), None);
    }

    #[test]
    fn empty_value_is_present_and_empty() {
        let body = multipart_body(&[("html", None, b""), ("to", None, b"a@b.c")]);
        let form = Form::parse(&body, CT).unwrap();
        assert_eq!(form.text("html").as_deref(), Some(""));
        assert_eq!(form.non_empty("html"), None);
        assert_eq!(form.text("to").as_deref(), Some("a@b.c"));
    }

    #[test]
    fn truncated_or_unbounded_multipart_is_refused() {
        let body = multipart_body(&[("text", None, b"hello")]);
        let cut = &body[..body.len() - 12];
        assert_eq!(Form::parse(cut, CT).unwrap_err(), ProviderError::MalformedForm);
        assert_eq!(Form::parse(&body, "multipart/form-data").unwrap_err(), ProviderError::MalformedForm);
        let injected = "multipart/form-data; boundary=xYzZY\r\nX-A: b";
        assert_eq!(Form::parse(&body, injected).unwrap_err(), ProviderError::MalformedForm);
        assert_eq!(Form::parse(&body, "text/plain").unwrap_err(), ProviderError::UnsupportedContentType);
    }

    #[test]
    fn urlencoded_fields_decode_and_numbered_fields_sort() {
        let body = b"attachment-10=j&recipient=a%40b.c&body-plain=Ol%C3%A1+mundo&attachment-2=b";
        let mut form = Form::parse(body, "application/x-www-form-urlencoded; charset=utf-8").unwrap();
        assert_eq!(form.text("body-plain").as_deref(), Some("Olá mundo"));
        let numbered = form.take_numbered("attachment-");
        let names: Vec<_> = numbered.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["attachment-2", "attachment-10"]);
        assert_eq!(form.non_empty("recipient").as_deref(), Some("a@b.c"));
        assert!(form.field("attachment-2").is_none());
    }

    #[test]
    fn urlencoded_values_keep_8bit_bytes() {
        let form =
            Form::parse(b"body-mime=caf%E9%0D%0A&bad=100%+%zz%4&flag", "application/x-www-form-urlencoded")
                .unwrap();
        assert_eq!(form.field("body-mime").unwrap().value, b"caf\xe9\r\n");
        assert_eq!(form.text("bad").as_deref(), Some("100% %zz%4"));
        assert_eq!(form.text("flag").as_deref(), Some(""));
    }
}

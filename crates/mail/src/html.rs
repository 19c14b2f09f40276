//! HTML bodies to plain text. In reply mode the mail clients' own markers decide what is
//! history: an Outlook reply header cuts the rest of the document, signature containers are
//! skipped, attribution lines are tagged for the text trimmer, and `<blockquote>` becomes
//! `>` quoting, so answers typed between quoted parts survive like in plain text.

mod entities;

use entities::decode_entities;

/// Marks a line the HTML named as a quote attribution ("On … wrote:"), for the trimmer.
pub(crate) const HEADER_MARK: char = '\u{E001}';

/// What the conversion is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// All visible text, for [`crate::InboundMail::text`].
    Plain,
    /// Visible text with the client markers applied, for the reply trimmer.
    Reply,
}

/// The converted text and what the markers removed.
#[derive(Debug, Default)]
pub(crate) struct HtmlText {
    pub(crate) text: String,
    /// An Outlook, Yahoo or similar history marker cut the document.
    pub(crate) cut: bool,
    /// A signature container was skipped.
    pub(crate) signature: bool,
}

/// Whether `html` carries a marker of a known mail client, so that it tells more than the
/// text/plain alternative about where the reply ends.
pub(crate) fn has_client_marker(html: &str) -> bool {
    const MARKERS: &[&str] = &[
        "gmail_quote",
        "gmail_signature",
        "divrplyfwdmsg",
        "appendonsend",
        "type=\"cite\"",
        "type=cite",
        "moz-cite-prefix",
        "moz-signature",
        "yahoo_quoted",
        "olk_src_body_section",
        "applemailsignature",
        "border-top:solid",
    ];
    let lower = html.to_ascii_lowercase().replace(' ', "");
    MARKERS.iter().any(|m| lower.contains(&m.replace(' ', "")))
}

/// How an open element affects the text inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Normal,
    /// Invisible or removed content: head, style, script, signature containers.
    Skip,
    Quote,
    Attribution,
    Pre,
}

struct Open {
    name: String,
    role: Role,
    /// A paragraph with default margins, shown with a blank line after it. Outlook's
    /// `MsoNormal` paragraphs have none and mark blank lines with empty paragraphs instead.
    spaced: bool,
}

struct Converter {
    mode: Mode,
    lines: Vec<String>,
    line: String,
    line_depth: usize,
    line_marked: bool,
    stack: Vec<Open>,
    result: HtmlText,
}

/// Converts `html` to text.
pub(crate) fn to_text(html: &str, mode: Mode) -> HtmlText {
    let mut conv = Converter {
        mode,
        lines: Vec::new(),
        line: String::new(),
        line_depth: 0,
        line_marked: false,
        stack: Vec::new(),
        result: HtmlText::default(),
    };
    let mut rest = html;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            conv.text(rest);
            break;
        };
        conv.text(&rest[..lt]);
        rest = &rest[lt..];
        let after = &rest[1..];
        if let Some(comment) = after.strip_prefix("!--") {
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
        } else if after.starts_with('!') || after.starts_with('?') {
            rest = after.find('>').map_or("", |end| &after[end + 1..]);
        } else if after.starts_with('/') || after.starts_with(|c: char| c.is_ascii_alphabetic()) {
            let end = tag_end(after);
            let tag = &after[..end];
            rest = after.get(end + 1..).unwrap_or("");
            if conv.tag(tag) {
                break;
            }
        } else {
            conv.text("<");
            rest = after;
        }
    }
    conv.finish()
}

/// The index of the `>` closing the tag that starts `text`, skipping quoted attribute values.
fn tag_end(text: &str) -> usize {
    let mut quote = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return i,
            _ => {}
        }
    }
    text.len()
}

/// The value of attribute `name` in a start tag's text, lowercase.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find(name) {
        let at = from + found;
        from = at + name.len();
        let before_ok = lower[..at].ends_with(|c: char| c.is_ascii_whitespace());
        let rest = lower[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let value = rest[1..].trim_start();
        return Some(match value.chars().next() {
            Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or("").to_string(),
            _ => value.split(|c: char| c.is_ascii_whitespace() || c == '/').next().unwrap_or("").into(),
        });
    }
    None
}

const VOID: &[&str] =
    &["br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr", "source", "param", "o:p"];
const BLOCK: &[&str] = &[
    "div", "p", "li", "tr", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article",
    "header", "footer", "center", "dl", "dt", "dd", "address", "form", "fieldset", "tbody", "thead",
];

impl Converter {
    fn skipping(&self) -> bool {
        self.stack.iter().any(|o| o.role == Role::Skip)
    }

    fn depth(&self) -> usize {
        self.stack.iter().filter(|o| o.role == Role::Quote).count()
    }

    fn in_pre(&self) -> bool {
        self.stack.iter().any(|o| o.role == Role::Pre)
    }

    fn marked(&self) -> bool {
        self.mode == Mode::Reply && self.stack.iter().any(|o| o.role == Role::Attribution)
    }

    fn text(&mut self, raw: &str) {
        if raw.is_empty() || self.skipping() {
            return;
        }
        let decoded = decode_entities(raw);
        if self.in_pre() {
            for (i, piece) in decoded.split('\n').enumerate() {
                if i > 0 {
                    self.end_line(true);
                }
                self.push(piece);
            }
            return;
        }
        let mut collapsed = String::with_capacity(decoded.len());
        for c in decoded.chars() {
            if c.is_ascii_whitespace() {
                let at_start = collapsed.is_empty() && (self.line.is_empty() || self.line.ends_with(' '));
                if !(collapsed.ends_with(' ') || at_start) {
                    collapsed.push(' ');
                }
            } else {
                collapsed.push(c);
            }
        }
        self.push(&collapsed);
    }

    fn push(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if self.line.is_empty() {
            self.line_depth = self.depth();
            self.line_marked = self.marked();
        }
        self.line.push_str(text);
    }

    /// Ends the current line; `force` also emits an empty one (a `<br>` on its own).
    fn end_line(&mut self, force: bool) {
        let content = self.line.trim();
        if content.is_empty() && !force {
            self.line.clear();
            return;
        }
        let depth = if content.is_empty() { self.depth() } else { self.line_depth };
        let mut out = String::new();
        if self.line_marked && !content.is_empty() {
            out.push(HEADER_MARK);
        }
        for _ in 0..depth {
            out.push('>');
        }
        if depth > 0 && !content.is_empty() {
            out.push(' ');
        }
        out.push_str(content);
        self.lines.push(out);
        self.line.clear();
        self.line_marked = false;
    }

    fn blank_line(&mut self) {
        self.end_line(false);
        if self.lines.last().is_some_and(|l| !l.trim_start_matches('>').trim().is_empty()) {
            self.end_line(true);
        }
    }

    /// Handles one tag; returns true when the rest of the document is history.
    fn tag(&mut self, tag: &str) -> bool {
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim().to_ascii_lowercase();
            self.close(&name);
            return false;
        }
        let name_end = tag.find(|c: char| c.is_ascii_whitespace() || c == '/').unwrap_or(tag.len());
        let name = tag[..name_end].to_ascii_lowercase();
        let role = self.role(&name, tag);
        if role == Role::Skip && self.mode == Mode::Reply && self.cuts(&name, tag) {
            self.result.cut = true;
            return true;
        }
        match name.as_str() {
            "br" => self.end_line(true),
            "hr" => self.end_line(false),
            "td" | "th" => self.push(" "),
            "li" => {
                self.end_line(false);
                if !self.skipping() {
                    self.push("- ");
                }
            }
            "blockquote" => self.end_line(false),
            _ if BLOCK.contains(&name.as_str()) => self.end_line(false),
            _ => {}
        }
        if VOID.contains(&name.as_str()) || tag.trim_end().ends_with('/') {
            return false;
        }
        if role == Role::Attribution {
            self.end_line(false);
        }
        let spaced = name == "p" && !attribute(tag, "class").unwrap_or_default().contains("msonormal");
        self.stack.push(Open { name, role, spaced });
        false
    }

    /// Whether a start tag is a client's marker for "the quoted history starts here".
    fn cuts(&self, name: &str, tag: &str) -> bool {
        let id = attribute(tag, "id").unwrap_or_default();
        let class = attribute(tag, "class").unwrap_or_default();
        let style = attribute(tag, "style").unwrap_or_default().replace(' ', "");
        id.contains("divrplyfwdmsg")
            || id == "appendonsend"
            || id.contains("olk_src_body_section")
            || id.contains("yahoo_quoted")
            || class.contains("yahoo_quoted")
            || (name == "div" && style.contains("border-top:solid") && style.contains("padding"))
    }

    fn role(&self, name: &str, tag: &str) -> Role {
        if matches!(name, "head" | "style" | "script" | "title") {
            return Role::Skip;
        }
        if self.mode == Mode::Reply {
            if self.cuts(name, tag) {
                return Role::Skip;
            }
            let class = attribute(tag, "class").unwrap_or_default();
            let id = attribute(tag, "id").unwrap_or_default();
            if class.contains("gmail_signature")
                || class.contains("moz-signature")
                || id == "signature"
                || id.contains("applemailsignature")
            {
                return Role::Skip;
            }
            if class.contains("gmail_attr") || class.contains("moz-cite-prefix") {
                return Role::Attribution;
            }
        }
        match name {
            "blockquote" => Role::Quote,
            "pre" => Role::Pre,
            _ => Role::Normal,
        }
    }

    fn close(&mut self, name: &str) {
        let Some(at) = self.stack.iter().rposition(|o| o.name == name) else { return };
        let closed: Vec<Open> = self.stack.drain(at..).collect();
        let skipped_signature = closed.iter().any(|o| o.role == Role::Skip) && !self.skipping();
        if skipped_signature && !matches!(name, "head" | "style" | "script" | "title") {
            self.result.signature = true;
        }
        match name {
            "p" if closed[0].spaced => self.blank_line(),
            // An empty unspaced paragraph is how Outlook writes a blank line.
            "p" => self.end_line(self.line.trim().is_empty()),
            _ if BLOCK.contains(&name) || name == "pre" || name == "blockquote" => self.end_line(false),
            _ => {}
        }
        if closed.iter().any(|o| o.role == Role::Attribution) {
            self.end_line(false);
        }
    }

    fn finish(mut self) -> HtmlText {
        self.end_line(false);
        let mut text = String::new();
        for line in &self.lines {
            text.push_str(line.trim_end());
            text.push('\n');
        }
        self.result.text = text;
        self.result
    }
}

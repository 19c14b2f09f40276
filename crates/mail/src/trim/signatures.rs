//! Signatures within one run of typed text: a `-- ` delimiter and all below it, disclaimers,
//! "Sent from my …" lines in many languages, and an undelimited block that starts with the
//! sender's full name. A typed closing ("Thanks, Ana") stays.

use std::sync::LazyLock;

use regex::Regex;

use super::{Trimmed, join_lines};

/// Whole-line mobile and webmail signatures. Each is short and anchored at both ends.
static MOBILE: LazyLock<Regex> = LazyLock::new(|| {
    let patterns = [
        r"sent (from|via|with|using) (my |the )?[^:;]{1,40}",
        r"get outlook for .{1,60}",
        r"(enviado|enviada) (do|pelo|a partir do|desde o) (meu )?.{1,40}",
        r"enviado desde (mi )?.{1,40}",
        r"envoyé (de|depuis) (mon |ma )?.{1,40}",
        r"von meinem .{1,40} gesendet",
        r"gesendet (von|mit) (meinem )?.{1,40}",
        r"inviato da(l mio| il mio)? .{1,40}",
        r"(verzonden|verstuurd) (met|vanaf|van) (mijn )?.{1,40}",
        r"skickat från (min )?.{1,40}",
        r"(wysłane|wysłano) (z|ze) .{1,40}",
        r"отправлено (с|из|со) .{1,40}",
        r".{1,40}から送信",
        r"(发自|來自|来自)(我的)?.{1,40}",
        r"從我的.{1,40}傳送",
    ];
    Regex::new(&format!(r"(?i)^({})[.!]?$", patterns.join("|"))).expect("mobile patterns are valid")
});

/// The first line of a disclaimer; it and everything after it in the run go.
static DISCLAIMER: LazyLock<Regex> = LazyLock::new(|| {
    let patterns = [
        r"this (e-?mail|message|communication)\b.{0,80}\b(confidential|privileged|intended)",
        r"the (information|content)s? (contained )?in this (e-?mail|message)",
        r"confidentiality (notice|note|warning)",
        r"disclaimer\s?:?",
        r"(esta|este) (mensagem|e-?mail|mensaje|correo)\b.{0,80}\b(confidencia|sigilos|destinatário)",
        r"aviso (de confidencialidade|legal|de confidencialidad)",
        r"ce (message|courriel|e-?mail)\b.{0,80}\b(confidentiel|destiné)",
        r"diese (e-?mail|nachricht)\b.{0,80}\b(vertraulich|bestimmt)",
        r"vertraulichkeitshinweis",
        r"(questo messaggio|il presente messaggio|questa e-?mail)\b.{0,80}\b(riservat|confidenzial|destinat)",
        r"dit (e-?mail|bericht)\b.{0,80}\b(vertrouwelijk|bestemd)",
        r"detta (e-?post|e-?mail|meddelande)\b.{0,80}\b(konfidentiell|avsett)",
        r"(ta wiadomość|wiadomość ta)\b.{0,80}\b(poufn|przeznaczon)",
        r"(это|данное) (сообщение|письмо)\b.{0,80}\b(конфиденциальн|предназначен)",
        r"このメールは.{0,80}(機密|宛先)",
        r"本邮件.{0,80}(保密|机密)",
    ];
    Regex::new(&format!(r"(?i)^\**({})", patterns.join("|"))).expect("disclaimer patterns are valid")
});

/// A signature block longer than this many lines is more likely typed text.
const MAX_SENDER_BLOCK: usize = 10;

/// Strips signatures from one run of typed text (`segment`) and joins what is left.
/// `text_before` says whether typed text precedes this run in the reply.
pub(super) fn strip(
    segment: &[&str],
    sender: Option<&str>,
    text_before: bool,
    trimmed: &mut Vec<Trimmed>,
) -> String {
    let mut lines: Vec<&str> = Vec::with_capacity(segment.len());
    for line in segment {
        if MOBILE.is_match(line.trim()) {
            trimmed.push(Trimmed::MobileSignature);
        } else {
            lines.push(line);
        }
    }
    if let Some(at) = lines.iter().position(|l| l.trim_end() == "--") {
        lines.truncate(at);
        trimmed.push(Trimmed::Signature);
    }
    if let Some(at) = lines.iter().position(|l| DISCLAIMER.is_match(l.trim())) {
        lines.truncate(at);
        trimmed.push(Trimmed::Disclaimer);
    }
    if let Some(at) = sender_block(&lines, sender, text_before) {
        lines.truncate(at);
        trimmed.push(Trimmed::SenderSignature);
    }
    while lines.last().is_some_and(|l| l.trim().is_empty() || is_rule(l)) {
        lines.pop();
    }
    while lines.first().is_some_and(|l| l.trim().is_empty()) {
        lines.remove(0);
    }
    join_lines(&lines)
}

fn is_rule(line: &str) -> bool {
    let line = line.trim();
    line.chars().count() >= 3 && line.chars().all(|c| matches!(c, '_' | '-' | '=' | '*' | '~'))
}

/// The line where a signature block starting with the sender's full name begins.
fn sender_block(lines: &[&str], sender: Option<&str>, text_before: bool) -> Option<usize> {
    let names = full_names(sender?);
    if names.is_empty() {
        return None;
    }
    let first_text = lines.iter().position(|l| !l.trim().is_empty())?;
    let at = lines.iter().enumerate().position(|(i, line)| {
        (i > first_text || text_before) && names.iter().any(|name| starts_with_name(line.trim(), name))
    })?;
    (lines.len() - at <= MAX_SENDER_BLOCK).then_some(at)
}

/// The sender's full name as written in From, and "First Last" for "Last, First".
fn full_names(sender: &str) -> Vec<String> {
    let name = sender.trim().trim_matches(['"', '\'']).trim();
    // CJK names are written without a space; two characters already make a full name.
    let cjk = name.chars().count() >= 2 && name.chars().all(|c| c as u32 >= 0x3000);
    if name.split_whitespace().count() < 2 && !name.contains(',') && !cjk {
        return Vec::new();
    }
    let mut names = vec![name.to_lowercase()];
    if let Some((last, first)) = name.split_once(',') {
        let (first, last) = (first.trim(), last.trim());
        if !first.is_empty() && !last.is_empty() {
            names.push(format!("{first} {last}").to_lowercase());
        }
    }
    names
}

/// Whether `line` is the name alone or the name followed by a separator ("Ana Souza | Acme").
fn starts_with_name(line: &str, name: &str) -> bool {
    let lower = line.to_lowercase();
    let Some(rest) = lower.strip_prefix(name) else { return false };
    rest.is_empty() || rest.starts_with([' ', '|', ',', '-', '–', '—', '/', '(', '·', '•'])
}

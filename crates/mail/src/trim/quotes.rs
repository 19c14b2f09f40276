//! Line classification: `>` quotes, "On … wrote:" attributions in many languages (also
//! split over two lines), and the markers after which everything is earlier mail: Outlook
//! header blocks, "Original Message" and forward separators.

use std::sync::LazyLock;

use regex::Regex;

use crate::html::HEADER_MARK;

/// What a line of a reply is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LineKind {
    Text,
    Quote,
    /// The attribution above a quote ("On … wrote:").
    Attribution,
    /// The first line of earlier mail: this line and all after it are history.
    History,
}

/// Attribution lines, one pattern per language family. All are anchored and free of
/// nested repetition: the regex crate runs in linear time, so hostile input cannot stall.
static ATTRIBUTION: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // English (Gmail, Apple Mail, Thunderbird, Outlook for mobile).
        r"^(on|at)\s.{4,250}\s(wrote|writes|said|says)\s?:?$",
        r"^.{2,250}\swrote\son\s.{4,250}:$",
        // Portuguese, Spanish, French, Italian.
        r"^(em|às|as)\s.{4,250}\sescreveu\s?:?$",
        r"^(el|en)\s.{4,250}\sescribió\s?:?$",
        r"^le\s.{4,250}\sa\s(écrit|ecrit)\s?:?$",
        r"^(il|in data)\s.{4,250}\sha\sscritto\s?:?$",
        // German: "Am … schrieb Ana <…>:" and "Ana <…> schrieb am …:".
        r"^am\s.{4,250}\sschrieb(\s.{1,250})?\s?:$",
        r"^.{2,250}\sschrieb\sam\s.{4,250}:$",
        // Dutch.
        r"^op\s.{4,250}\s(schreef|het volgende geschreven)(\s.{1,250})?\s?:$",
        // Swedish, also Apple Mail's "3 mars 2026 kl. 10:12 skrev Ana <…>:".
        r"^(den|på)\s.{4,250}\sskrev(\s.{1,250})?\s?:$",
        r"^.{4,250}\skl\.?\s\d{1,2}[:.]\d{2}\sskrev\s.{1,250}:$",
        // Polish.
        r"^wiadomość napisana przez\s.{4,250}:$",
        r"^(w dniu|dnia)\s.{4,250}\s(napisał|napisała|napisał\(a\)|pisze)\s?:?$",
        // Russian and Ukrainian.
        r"^.{4,250}\s(написал|написала|написал\(а\)|пишет|пише)\s?:?$",
        // Chinese and Japanese.
        r"^.{4,250}(写道|寫道)\s?[:：]?$",
        r"^.{4,250}(のメール|さんは書きました|は書きました)\s?[:：]?$",
        // "Ana <ana@acme.example> wrote:" without a date (mailing lists, "X via Y").
        r"^.{1,250}<[^<>\s@]{1,100}@[^<>\s]{1,200}>\s(wrote|escreveu|escribió|a écrit|schrieb|ha scritto|schreef|skrev|napisał\(a\)|написал\(а\))\s?:$",
        // Gmail's language-neutral form: a date, then "Name <address>:".
        r"^.{0,250}\d.{0,250}<[^<>\s@]{1,100}@[^<>\s]{1,200}>\s?[:：]$",
        r"^\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}.{0,250}@.{1,250}[:：]$",
    ]
    .iter()
    .map(|p| Regex::new(&format!("(?i){p}")).expect("attribution patterns are valid"))
    .collect()
});

/// "Original Message" and forward separators, with or without dashes around them.
static SEPARATOR: LazyLock<Regex> = LazyLock::new(|| {
    let names = [
        "original message",
        "reply message",
        "forwarded message",
        "ursprüngliche nachricht",
        "weitergeleitete nachricht",
        "mensagem original",
        "mensagem encaminhada",
        "mensaje original",
        "mensaje reenviado",
        "message d'origine",
        "message original",
        "message transféré",
        "messaggio originale",
        "messaggio inoltrato",
        "oorspronkelijk bericht",
        "doorgestuurd bericht",
        "originalmeddelande",
        "ursprungligt meddelande",
        "vidarebefordrat meddelande",
        "wiadomość oryginalna",
        "oryginalna wiadomość",
        "przekazana wiadomość",
        "исходное сообщение",
        "пересылаемое сообщение",
        "переслан(ное|ое) сообщение",
        "元のメッセージ",
        "転送メッセージ",
        "原始邮件",
        "原始郵件",
        "转发邮件",
        "轉寄郵件",
    ];
    let begin = [
        "begin forwarded message",
        "début du message réexpédié",
        "début du message transféré",
        "inicio del mensaje reenviado",
        "início da mensagem reencaminhada",
        "anfang der weitergeleiteten nachricht",
        "inizio messaggio inoltrato",
        "begin doorgestuurd bericht",
        "början på vidarebefordrat meddelande",
    ];
    Regex::new(&format!(r"(?i)^[\s\-_=*]*({})[\s\-_=*]*$|^({})\s?:$", names.join("|"), begin.join("|")))
        .expect("separator pattern is valid")
});

/// Header names of a quoted message's sender, as Outlook and others write them.
const FROM_NAMES: &str = "from|de|von|da|van|från|od|от|expéditeur|差出人|发件人|寄件者";
/// The other header names of such a block: date, recipients, subject.
const OTHER_NAMES: &str = "sent|date|to|cc|subject|enviado|enviado el|enviada|enviada em|data|para|\
                           assunto|fecha|asunto|envoyé|à|a|objet|gesendet|datum|an|betreff|inviato|oggetto|verzonden|aan|\
                           onderwerp|skickat|till|ämne|wysłano|do|temat|отправлено|дата|кому|тема|\
                           送信日時|宛先|件名|发送时间|收件人|主题|日期|寄件日期|收件者|主旨";

static FROM_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?i)^\*?({FROM_NAMES})\s?\*?\s?[:：]\s?\*?\s?\S"))
        .expect("from header pattern is valid")
});

static OTHER_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?i)^\*?({OTHER_NAMES})\s?\*?\s?[:：]")).expect("header pattern is valid")
});

/// The date header names that follow From on one line.
const DATE_NAMES: &str =
    "sent|gesendet|enviado|envoyé|inviato|verzonden|skickat|wysłano|отправлено|date|data|datum|fecha";

/// Outlook's plain text may put a whole header block on one wrapped line.
static INLINE_BLOCK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?i)^\*?({FROM_NAMES})\s?\*?\s?[:：].{{1,300}}\s\*?({DATE_NAMES})\s?\*?\s?[:：]"))
        .expect("inline block pattern is valid")
});

/// Lines of only `_`, `-` or `=` that Outlook draws above a header block.
fn is_rule(line: &str) -> bool {
    let line = line.trim();
    line.chars().count() >= 8 && line.chars().all(|c| matches!(c, '_' | '-' | '=' | '—'))
}

fn is_attribution(line: &str) -> bool {
    let line = line.trim();
    line.chars().count() <= 400 && ATTRIBUTION.iter().any(|r| r.is_match(line))
}

fn is_quote(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

/// Whether an Outlook-style header block starts at `at`: a From line and at least two more
/// header lines among the next four non-empty lines.
fn header_block_at(lines: &[&str], at: usize) -> bool {
    let line = lines[at].trim();
    if INLINE_BLOCK.is_match(line) {
        return true;
    }
    if !FROM_HEADER.is_match(line) {
        return false;
    }
    let following = lines[at + 1..].iter().map(|l| l.trim()).filter(|l| !l.is_empty()).take(4);
    following.filter(|l| OTHER_HEADER.is_match(l)).count() >= 2
}

/// Classifies every line of `lines`.
pub(super) fn classify(lines: &[&str]) -> Vec<LineKind> {
    let mut kinds = vec![LineKind::Text; lines.len()];
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if is_quote(line) {
            kinds[i] = LineKind::Quote;
        } else if line.starts_with(HEADER_MARK) || is_attribution(line) {
            kinds[i] = LineKind::Attribution;
        } else if SEPARATOR.is_match(line.trim()) || header_block_at(lines, i) {
            kinds[i] = LineKind::History;
            mark_rule_above(lines, &mut kinds, i);
            break;
        } else if let Some(next) = lines.get(i + 1)
            && !next.trim().is_empty()
            && !is_quote(next)
            && (!is_attribution(next) || starts_paragraph(lines, i))
            && is_attribution(&format!("{} {}", line.trim(), next.trim()))
        {
            kinds[i] = LineKind::Attribution;
            kinds[i + 1] = LineKind::Attribution;
            i += 1;
        }
        i += 1;
    }
    unquoted_history(lines, &mut kinds);
    kinds
}

/// Whether line `at` can be the first half of an attribution that a client wrapped before
/// the part that names the sender and the verb.
fn starts_paragraph(lines: &[&str], at: usize) -> bool {
    let line = lines[at].trim();
    // A date ("On Tue, 3 Mar 2026 at 18:00,") or a bare name opens an attribution; a typed
    // closing ("Thanks,") does not.
    (at == 0 || lines[at - 1].trim().is_empty())
        && line.chars().count() <= 60
        && (line.chars().any(|c| c.is_ascii_digit())
            || !line.ends_with(['.', '!', '?', ',', ':', '。', '！', '？']))
}

/// A rule line just above a history start belongs to the history.
fn mark_rule_above(lines: &[&str], kinds: &mut [LineKind], at: usize) {
    let above = (0..at).rev().find(|&j| !lines[j].trim().is_empty());
    if let Some(j) = above
        && is_rule(lines[j])
    {
        kinds[j] = LineKind::History;
    }
}

/// An attribution not followed by `>` quoting introduces history quoted without marks
/// (Outlook for mobile, Yahoo): it and everything after it are history.
fn unquoted_history(lines: &[&str], kinds: &mut [LineKind]) {
    for i in 0..lines.len() {
        if kinds[i] != LineKind::Attribution {
            continue;
        }
        let next =
            (i + 1..lines.len()).find(|&j| !lines[j].trim().is_empty() && kinds[j] != LineKind::Attribution);
        match next {
            Some(j) if kinds[j] == LineKind::Quote => {}
            Some(_) | None => {
                kinds[i] = LineKind::History;
                mark_rule_above(lines, kinds, i);
                return;
            }
        }
    }
}

//! Turning a check-in reply (the text the member typed) into entries: one per line or bullet;
//! `[]` or `[ ]` starts a goal, `[x]` a goal already done, `!` a blocker, anything else is a
//! done. `#tags` and `@mentions` are collected, lower-cased, and the text is kept as typed.

/// Longest entry, in characters; a longer line is cut here.
pub const ENTRY_TEXT_MAX: usize = 2_000;
/// Most entries one reply makes.
pub const ENTRIES_PER_REPLY_MAX: usize = 100;

/// What a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Done,
    Goal,
    Blocker,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Done => "done",
            EntryKind::Goal => "goal",
            EntryKind::Blocker => "blocker",
        }
    }

    pub fn parse(text: &str) -> Option<EntryKind> {
        match text {
            "done" => Some(EntryKind::Done),
            "goal" => Some(EntryKind::Goal),
            "blocker" => Some(EntryKind::Blocker),
            _ => None,
        }
    }
}

/// One entry read from a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryDraft {
    pub kind: EntryKind,
    /// For goals: `[x]`.
    pub completed: bool,
    pub text: String,
    pub tags: Vec<String>,
    pub mentions: Vec<String>,
}

/// The entries in `reply`, in order; blank lines and lines that are only a bullet make none.
pub fn entries_from_reply(reply: &str) -> Vec<EntryDraft> {
    reply.lines().filter_map(entry_from_line).take(ENTRIES_PER_REPLY_MAX).collect()
}

/// The entry one line makes, if it holds any text.
pub fn entry_from_line(line: &str) -> Option<EntryDraft> {
    let text = strip_bullet(line.trim());
    let (kind, completed, text) = if let Some(rest) = strip_box(text, &["[]", "[ ]"]) {
        (EntryKind::Goal, false, rest)
    } else if let Some(rest) = strip_box(text, &["[x]", "[X]", "[✓]", "[✔]"]) {
        (EntryKind::Goal, true, rest)
    } else if let Some(rest) = text.strip_prefix('!') {
        (EntryKind::Blocker, false, rest.trim_start())
    } else {
        (EntryKind::Done, false, text)
    };
    let text: String = text.trim().chars().take(ENTRY_TEXT_MAX).collect();
    if text.is_empty() {
        return None;
    }
    let tags = marked_words(&text, '#');
    let mentions = marked_words(&text, '@');
    Some(EntryDraft { kind, completed, text, tags, mentions })
}

/// `text` without a leading list marker: `-`, `*`, `+`, `•`, `–`, `1.`, `1)`.
fn strip_bullet(text: &str) -> &str {
    for bullet in ["- ", "* ", "+ ", "• ", "· ", "– ", "— "] {
        if let Some(rest) = text.strip_prefix(bullet) {
            return rest.trim_start();
        }
    }
    if text == "-" || text == "*" || text == "•" {
        return "";
    }
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    if (1..=3).contains(&digits) {
        let rest = &text[digits..];
        if rest == "." || rest == ")" {
            return "";
        }
        if let Some(after) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return after.trim_start();
        }
    }
    text
}

fn strip_box<'t>(text: &'t str, boxes: &[&str]) -> Option<&'t str> {
    boxes.iter().find_map(|b| text.strip_prefix(b)).map(str::trim_start)
}

/// The words of `text` that start with `mark` (and are not part of a longer word, so an email
/// address is not a mention), lower-cased, each once, without trailing punctuation.
fn marked_words(text: &str, mark: char) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut previous: Option<char> = None;
    for (index, c) in text.char_indices() {
        let starts_word = previous.is_none_or(|p| !p.is_alphanumeric() && p != '_' && p != mark);
        previous = Some(c);
        if c != mark || !starts_word {
            continue;
        }
        let word: String = text[index + c.len_utf8()..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
            .collect();
        let word = word.trim_end_matches(['.', '-']).to_lowercase();
        if !word.is_empty() && !found.contains(&word) {
            found.push(word);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(line: &str, kind: EntryKind, completed: bool, text: &str, tags: &[&str], mentions: &[&str]) {
        let entry = entry_from_line(line).unwrap_or_else(|| panic!("{line:?} made no entry"));
        assert_eq!(
            (entry.kind, entry.completed, entry.text.as_str(), entry.tags, entry.mentions),
            (
                kind,
                completed,
                text,
                tags.iter().map(ToString::to_string).collect(),
                mentions.iter().map(ToString::to_string).collect()
            ),
            "{line:?}"
        );
    }

    #[test]
    fn lines_become_dones_goals_and_blockers() {
        use EntryKind::*;
        check(
            "Shipped the invoice export #billing",
            Done,
            false,
            "Shipped the invoice export #billing",
            &["billing"],
            &[],
        );
        check("- reviewed @Ana's PR", Done, false, "reviewed @Ana's PR", &[], &["ana"]);
        check("[] write the migration", Goal, false, "write the migration", &[], &[]);
        check("* [ ] call ACME", Goal, false, "call ACME", &[], &[]);
        check("[x] fix login #Auth #auth", Goal, true, "fix login #Auth #auth", &["auth"], &[]);
        check("! waiting on legal @bob.", Blocker, false, "waiting on legal @bob.", &[], &["bob"]);
        check("2) deploy", Done, false, "deploy", &[], &[]);
        check("• Pairing with ana@example.com", Done, false, "Pairing with ana@example.com", &[], &[]);
        check("2024 was a good year", Done, false, "2024 was a good year", &[], &[]);
    }

    #[test]
    fn empty_lines_and_bare_bullets_make_nothing() {
        for line in ["", "   ", "-", "* ", "[]", "!", "1. "] {
            assert_eq!(entry_from_line(line), None, "{line:?}");
        }
        let entries = entries_from_reply("Did A\n\n- Did B\n[] Plan C\n");
        assert_eq!(entries.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(), ["Did A", "Did B", "Plan C"]);
    }

    proptest::proptest! {
        /// Any text makes entries without panicking: each on one line, not empty, within the
        /// length bound, with tags and mentions lower-case words that appear in its text.
        #[test]
        fn any_reply_makes_well_formed_entries(reply in "(?s).{0,400}") {
            let entries = entries_from_reply(&reply);
            proptest::prop_assert!(entries.len() <= ENTRIES_PER_REPLY_MAX);
            for entry in entries {
                proptest::prop_assert!(!entry.text.is_empty() && !entry.text.contains('\n'));
                proptest::prop_assert!(entry.text.chars().count() <= ENTRY_TEXT_MAX);
                proptest::prop_assert!(!entry.completed || entry.kind == EntryKind::Goal);
                for word in entry.tags.iter().chain(&entry.mentions) {
                    proptest::prop_assert!(!word.is_empty() && *word == word.to_lowercase());
                    proptest::prop_assert!(entry.text.to_lowercase().contains(word.as_str()));
                }
            }
        }
    }

    #[test]
    fn long_lines_are_cut_and_replies_are_bounded() {
        let entry = entry_from_line(&"é".repeat(ENTRY_TEXT_MAX + 10)).unwrap();
        assert_eq!(entry.text.chars().count(), ENTRY_TEXT_MAX);
        let reply = "x\n".repeat(ENTRIES_PER_REPLY_MAX + 5);
        assert_eq!(entries_from_reply(&reply).len(), ENTRIES_PER_REPLY_MAX);
    }
}

//! `text/plain; format=flowed` (RFC 3676): clients that send it break long paragraphs into
//! lines ending in a space ("soft" breaks) that the reader is meant to join again. Joined here,
//! so that one typed line is one line to the trimmer and to check-in entries.

/// `text` with its soft line breaks joined. `delsp` (the `DelSp=yes` parameter) means the
/// space before a soft break was added by the sender and is removed.
pub(crate) fn unflow(text: &str, delsp: bool) -> String {
    let mut out = String::with_capacity(text.len());
    // The paragraph being joined, and its quote depth.
    let mut open: Option<usize> = None;
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let depth = line.chars().take_while(|c| *c == '>').count();
        let content = &line[depth..];
        // Space-stuffing: a sender stuffs one space before a line that starts with a space,
        // "From " or ">" (RFC 3676 §4.4).
        let content = content.strip_prefix(' ').unwrap_or(content);
        let signature = content == "-- ";
        let soft = content.ends_with(' ') && !signature;
        match open {
            Some(open_depth) if open_depth == depth => {}
            Some(_) => {
                // A quote depth change ends a paragraph whatever its last line said.
                out.push('\n');
                out.push_str(&">".repeat(depth));
                if depth > 0 {
                    out.push(' ');
                }
            }
            None => {
                out.push_str(&">".repeat(depth));
                if depth > 0 {
                    out.push(' ');
                }
            }
        }
        let kept = if soft && delsp { &content[..content.len() - 1] } else { content };
        out.push_str(kept);
        if soft {
            open = Some(depth);
        } else {
            out.push('\n');
            open = None;
        }
    }
    // `split` yields an empty last piece after a final line break; it added one newline too many.
    let extra = if text.ends_with('\n') { out.ends_with("\n\n") } else { out.ends_with('\n') };
    if extra {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::unflow;

    #[test]
    fn soft_breaks_are_joined_and_hard_ones_kept() {
        let flowed = "Shipped the invoice \r\nexport today\r\n[] call ACME\r\n";
        assert_eq!(unflow(flowed, false), "Shipped the invoice export today\n[] call ACME\n");
        assert_eq!(unflow("one \r\ntwo\r\n", true), "onetwo\n", "DelSp removes the sender's space");
    }

    #[test]
    fn quotes_signatures_and_stuffing() {
        let flowed = "Done \r\nhere\r\n\r\n> On Fri Ana wrote: \r\n> What did \r\n>> you do?\r\n-- \r\nAna \r\nSouza\r\n";
        assert_eq!(
            unflow(flowed, false),
            "Done here\n\n> On Fri Ana wrote: What did \n>> you do?\n-- \nAna Souza\n"
        );
        assert_eq!(unflow("  indented\r\n From here\r\n", false), " indented\nFrom here\n");
        assert_eq!(unflow("no final break", false), "no final break");
    }
}

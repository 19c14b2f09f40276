//! The "fuzz" of the parsing and trimming path: arbitrary bytes and mutated corpus messages
//! go through `parse` and `reply_text`, which must never panic; and a message with a 25 MB
//! attachment parses into a description without its bytes.

use std::fs;
use std::path::Path;
use std::sync::LazyLock;

use proptest::prelude::*;

static CORPUS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut paths: Vec<_> = fs::read_dir(dir)
        .expect("corpus folder exists")
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    paths.sort();
    paths.iter().map(|p| fs::read(p).expect("fixture readable")).collect()
});

fn exercise(raw: &[u8]) {
    if let Ok(mail) = sb_mail::parse(raw) {
        let reply = sb_mail::reply_text(&mail);
        assert!(!reply.text.ends_with(char::is_whitespace));
        assert!(!reply.text.contains("\n\n\n"));
    }
}

/// One edit of a message: overwrite, insert or delete a run of bytes, or cut it short.
#[derive(Debug, Clone)]
enum Mutation {
    Overwrite(usize, Vec<u8>),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let chunk = prop_oneof![
        proptest::collection::vec(any::<u8>(), 1..16),
        Just(b"\r\n--".to_vec()),
        Just(b"=?x-unknown?B?////?=".to_vec()),
        Just(b"Content-Type: multipart/mixed; boundary=\"\"\r\n".to_vec()),
        Just(b"charset=\"x-no-such-charset\"".to_vec()),
        Just(b"<blockquote><div class=\"gmail_quote\">".to_vec()),
        Just(b"=\r\n=ZZ".to_vec()),
    ];
    prop_oneof![
        (any::<usize>(), chunk.clone()).prop_map(|(at, bytes)| Mutation::Overwrite(at, bytes)),
        (any::<usize>(), chunk).prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        (any::<usize>(), 1usize..200).prop_map(|(at, len)| Mutation::Delete(at, len)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(raw: &mut Vec<u8>, mutation: &Mutation) {
    let len = raw.len().max(1);
    match mutation {
        Mutation::Overwrite(at, bytes) => {
            let at = at % len;
            for (i, b) in bytes.iter().enumerate() {
                if let Some(slot) = raw.get_mut(at + i) {
                    *slot = *b;
                }
            }
        }
        Mutation::Insert(at, bytes) => {
            let at = at % (raw.len() + 1);
            raw.splice(at..at, bytes.iter().copied());
        }
        Mutation::Delete(at, n) => {
            let at = at % len;
            let end = (at + n).min(raw.len());
            if at < end {
                raw.drain(at..end);
            }
        }
        Mutation::Truncate(at) => raw.truncate(at % len),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..4096)) {
        exercise(&raw);
    }

    #[test]
    fn header_like_bytes_never_panic(body in "[ -~\r\n\t<>=]{0,2000}") {
        let raw = format!("From: a@b.example\r\nSubject: x\r\nContent-Type: text/html\r\n\r\n{body}");
        exercise(raw.as_bytes());
    }

    #[test]
    fn mutated_fixtures_never_panic(
        pick in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..8),
    ) {
        let mut raw = CORPUS[pick % CORPUS.len()].clone();
        for m in &mutations {
            apply(&mut raw, m);
        }
        exercise(&raw);
    }
}

#[test]
fn empty_and_headerless_input_is_a_clear_error() {
    assert_eq!(sb_mail::parse(b"").unwrap_err(), sb_mail::MailError::Empty);
    assert!(sb_mail::parse(b"\r\n\r\n").is_err());
}

#[test]
fn unknown_charset_is_flagged_not_fatal() {
    let raw = b"From: Ana <ana@acme.example>\r\nSubject: x\r\n\
                Content-Type: text/plain; charset=x-klingon\r\n\r\nDone the report.\r\n";
    let mail = sb_mail::parse(raw).expect("best-effort parse");
    assert_eq!(mail.flaws, vec![sb_mail::Flaw::UnknownCharset("x-klingon".into())]);
    assert_eq!(sb_mail::reply_text(&mail).text, "Done the report.");
}

#[test]
fn message_without_message_id_parses() {
    let mail = sb_mail::parse(b"From: Tom <tom@acme.example>\r\n\r\nDone.\r\n").expect("parses");
    assert_eq!(mail.message_id, None);
    assert_eq!(sb_mail::reply_text(&mail).text, "Done.");
}

/// Issue 6: a 25 MB attachment parses; the result describes it and keeps only the raw
/// message, not a second copy of the attachment.
#[test]
fn large_attachment_is_described_not_kept() {
    let size = 25 * 1024 * 1024;
    let encoded = base64_lines(size);
    let mut raw = Vec::with_capacity(encoded.len() + 1024);
    raw.extend_from_slice(
        b"From: Ana Souza <ana@acme.example>\r\nSubject: Re: report\r\nMIME-Version: 1.0\r\n\
          Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
          Content-Type: text/plain; charset=utf-8\r\n\r\nReport attached.\r\n--b1\r\n\
          Content-Type: application/pdf; name=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\
          Content-Disposition: attachment; filename=\"report.pdf\"\r\n\r\n",
    );
    raw.extend_from_slice(&encoded);
    raw.extend_from_slice(b"\r\n--b1--\r\n");
    let mail = sb_mail::parse(&raw).expect("large message parses");
    assert_eq!(mail.attachments.len(), 1);
    assert_eq!(mail.attachments[0].size, size);
    assert_eq!(mail.attachments[0].filename.as_deref(), Some("report.pdf"));
    assert_eq!(mail.raw().len(), raw.len());
    assert_eq!(sb_mail::reply_text(&mail).text, "Report attached.");
}

fn base64_lines(size: usize) -> Vec<u8> {
    // Zero bytes encode as "A"; 57 bytes make one 76-character line.
    let mut out = Vec::with_capacity(size / 57 * 78 + 80);
    let mut left = size;
    while left >= 57 {
        out.extend_from_slice(&[b'A'; 76]);
        out.extend_from_slice(b"\r\n");
        left -= 57;
    }
    let tail = left.div_ceil(3) * 4;
    out.extend(std::iter::repeat_n(b'A', tail));
    let pad = (3 - left % 3) % 3;
    let keep = tail - pad;
    let start = out.len() - tail + keep;
    for b in &mut out[start..] {
        *b = b'=';
    }
    out
}

//! The reply address of a check-in prompt, `checkin+<token>@<mail domain>`: the token names the
//! workspace, the member and the prompted day, signed with the server secret, so a reply is
//! filed for the member who was asked (whatever its From says) and a made-up or altered
//! address is refused. It fits the 64 characters RFC 5321 allows a local part.

use chrono::NaiveDate;
use sb_types::{UserId, WorkspaceId};
use subtle::ConstantTimeEq;

use crate::ServerSecret;

/// The local part before the `+`.
pub const REPLY_LOCAL: &str = "checkin";
const PURPOSE: &str = "checkin-reply";
const MAC_BYTES: usize = 8;
const PAYLOAD_BYTES: usize = 12 + 12 + 2;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// What a reply address says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyToken {
    pub workspace: WorkspaceId,
    pub user: UserId,
    pub date: NaiveDate,
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default()
}

fn mac(secret: &ServerSecret, payload: &[u8]) -> Vec<u8> {
    let signed = hex::decode(secret.sign(PURPOSE, &hex::encode(payload))).unwrap_or_default();
    signed.into_iter().take(MAC_BYTES).collect()
}

impl ReplyToken {
    /// The token's text (lower-case base32).
    pub fn encode(&self, secret: &ServerSecret) -> String {
        let days = u16::try_from((self.date - epoch()).num_days()).unwrap_or(u16::MAX);
        let mut bytes = Vec::with_capacity(PAYLOAD_BYTES + MAC_BYTES);
        bytes.extend(hex::decode(self.workspace.to_string()).unwrap_or_default());
        bytes.extend(hex::decode(self.user.to_string()).unwrap_or_default());
        bytes.extend(days.to_be_bytes());
        let tag = mac(secret, &bytes);
        bytes.extend(tag);
        base32(&bytes)
    }

    /// The reply address at `domain`.
    pub fn address(&self, secret: &ServerSecret, domain: &str) -> String {
        format!("{REPLY_LOCAL}+{}@{domain}", self.encode(secret))
    }

    /// Reads a token; None if it is malformed or its signature does not match.
    pub fn decode(secret: &ServerSecret, text: &str) -> Option<ReplyToken> {
        let text = text.to_ascii_lowercase();
        let bytes = unbase32(&text)?;
        // Only the one canonical spelling: the last character's spare bits must be zero.
        if bytes.len() != PAYLOAD_BYTES + MAC_BYTES || base32(&bytes) != text {
            return None;
        }
        let (payload, tag) = bytes.split_at(PAYLOAD_BYTES);
        if !bool::from(mac(secret, payload).ct_eq(tag)) {
            return None;
        }
        let workspace = WorkspaceId::parse(&hex::encode(&payload[..12])).ok()?;
        let user = UserId::parse(&hex::encode(&payload[12..24])).ok()?;
        let days = u16::from_be_bytes([payload[24], payload[25]]);
        let date = epoch().checked_add_days(chrono::Days::new(u64::from(days)))?;
        Some(ReplyToken { workspace, user, date })
    }

    /// The token in `address` if it is a check-in reply address at `domain` (any case).
    pub fn from_address<'a>(address: &'a str, domain: &str) -> Option<&'a str> {
        let (local, at) = address.trim().trim_matches(['<', '>']).rsplit_once('@')?;
        if !at.eq_ignore_ascii_case(domain) {
            return None;
        }
        let (name, token) = local.split_once('+')?;
        name.eq_ignore_ascii_case(REPLY_LOCAL).then_some(token)
    }
}

fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut buffer, mut bits) = (0_u32, 0_u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

fn unbase32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0_u32, 0_u32);
    for c in text.bytes() {
        let value = u32::try_from(ALPHABET.iter().position(|&a| a == c)?).ok()?;
        buffer = ((buffer << 5) | value) & 0xffff;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> ServerSecret {
        let dir = tempfile::tempdir().unwrap();
        ServerSecret::load_or_create(&dir.path().join("secret.key")).unwrap()
    }

    #[test]
    fn tokens_round_trip_and_fit_a_local_part() {
        let secret = secret();
        let token = ReplyToken {
            workspace: WorkspaceId::generate(),
            user: UserId::generate(),
            date: NaiveDate::from_ymd_opt(2026, 12, 4).unwrap(),
        };
        let address = token.address(&secret, "in.example.test");
        let local = address.split('@').next().unwrap();
        assert!(local.len() <= 64, "{local} is {} characters", local.len());
        let shouted = address.to_uppercase();
        let text = ReplyToken::from_address(&shouted, "in.example.test").unwrap();
        assert_eq!(ReplyToken::decode(&secret, text), Some(token));
    }

    #[test]
    fn altered_or_foreign_tokens_are_refused() {
        let secret = secret();
        let token = ReplyToken {
            workspace: WorkspaceId::generate(),
            user: UserId::generate(),
            date: NaiveDate::from_ymd_opt(2026, 12, 4).unwrap(),
        };
        let text = token.encode(&secret);
        for position in 0..text.len() {
            let mut altered = text.clone().into_bytes();
            altered[position] = if altered[position] == b'a' { b'b' } else { b'a' };
            let altered = String::from_utf8(altered).unwrap();
            assert_eq!(ReplyToken::decode(&secret, &altered), None, "changed at {position}");
        }
        assert_eq!(ReplyToken::decode(&self::secret(), &text), None, "another server's secret");
        for junk in ["", "!!", "abc", &text[..text.len() - 1]] {
            assert_eq!(ReplyToken::decode(&secret, junk), None, "{junk:?}");
        }
        assert_eq!(ReplyToken::from_address("checkin+abc@elsewhere.test", "in.example.test"), None);
        assert_eq!(ReplyToken::from_address("someone+abc@in.example.test", "in.example.test"), None);
    }
}

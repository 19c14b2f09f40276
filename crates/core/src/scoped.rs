//! Keen scoped keys (keen-api.md §2.5): options JSON encrypted with AES-256-CBC under a master
//! key, written as hex(IV) followed by hex(ciphertext). Legacy Keen read and write keys are
//! scoped keys, so apps built with them keep working against their project's master key.
//! Clients pad in three different ways, so decryption unpads leniently.

use aes::Aes256;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, KeyIvInit};
use serde_json::Value;

/// What a scoped key allows: reads, writes, and the filters forced onto its queries.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ScopedOptions {
    pub read: bool,
    pub write: bool,
    pub filters: Vec<Value>,
}

/// Whether `text` has a scoped key's shape: hex, an IV and at least one block.
pub(crate) fn looks_scoped(text: &str) -> bool {
    text.len() >= 64 && (text.len() - 32).is_multiple_of(32) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Decrypts `scoped` with a 64-hex-character master key; `None` unless it yields an options
/// object.
pub(crate) fn open_scoped_key(master: &str, scoped: &str) -> Option<ScopedOptions> {
    if !looks_scoped(scoped) {
        return None;
    }
    let mut key = [0u8; 32];
    hex::decode_to_slice(master, &mut key).ok()?;
    let bytes = hex::decode(scoped.to_ascii_lowercase()).ok()?;
    let (iv, ciphertext) = bytes.split_at(16);
    let iv: [u8; 16] = iv.try_into().ok()?;
    let mut plain = cbc::Decryptor::<Aes256>::new(&key.into(), &iv.into())
        .decrypt_padded_vec_mut::<NoPadding>(ciphertext)
        .ok()?;
    // Lenient unpad: PKCS#7-style bytes (block 16 or 32) when present, nothing when the
    // plaintext was already aligned (Python's client). JSON ends in `}`, above 32.
    if let Some(&n) = plain.last() {
        let n = usize::from(n);
        if (1..=32).contains(&n)
            && n <= plain.len()
            && plain[plain.len() - n..].iter().all(|&b| usize::from(b) == n)
        {
            plain.truncate(plain.len() - n);
        }
    }
    let Value::Object(options) = serde_json::from_slice(&plain).ok()? else { return None };
    let allowed: Vec<&str> = options
        .get("allowed_operations")
        .and_then(Value::as_array)
        .map(|ops| ops.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let filters = match options.get("filters") {
        Some(Value::Array(filters)) => filters.clone(),
        _ => Vec::new(),
    };
    Some(ScopedOptions { read: allowed.contains(&"read"), write: allowed.contains(&"write"), filters })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const MASTER: &str = "24077ACBCB198BAAA2110EDDB673282F8E34909FD823A15C55A6253A664BE368";

    /// The reference's vectors, made with the `keen` 0.7.0 Python package and an all-zero IV.
    #[test]
    fn every_client_padding_opens() {
        let read_only = ScopedOptions { read: true, write: false, filters: vec![] };
        for scoped in [
            // Python: 32-byte plaintext, no padding at all.
            "00000000000000000000000000000000ea22713cc2ec63476751a407b6c9a02b3ba10fecb96d5e43c45afa6ffb035a7f",
            // Java, Ruby, .NET: PKCS#7 to 16 bytes (and .NET writes upper case).
            "00000000000000000000000000000000ea22713cc2ec63476751a407b6c9a02b68cd7667fc34655ff14fc29566185f08",
            "00000000000000000000000000000000EA22713CC2EC63476751A407B6C9A02B68CD7667FC34655FF14FC29566185F08",
        ] {
            assert_eq!(open_scoped_key(MASTER, scoped), Some(read_only.clone()), "{scoped}");
        }
        let filtered = "00000000000000000000000000000000207ef4a35333c76165c200125acd9aee7d02d6389ae20b118a8bb1b7b2ce0aaab828cb0dea73d875f66ba9166f68f99b1dcd40718cd8936728fa0e42ed9dd0ea8195b0062bcaa6d42feb27fca160d3c4fa54500507bb49911a9b429c263871a5e77c515e50e46fa8549d2ace5303ad8927d418fb80dd9a4cd971e53f30d1935d";
        let options = open_scoped_key(MASTER, filtered).unwrap();
        assert!(options.read && !options.write);
        assert_eq!(
            options.filters,
            [json!({"property_name": "accountId", "operator": "eq", "property_value": "123456"})]
        );
    }

    #[test]
    fn wrong_master_or_damaged_keys_do_not_open() {
        let scoped = "00000000000000000000000000000000ea22713cc2ec63476751a407b6c9a02b68cd7667fc34655ff14fc29566185f08";
        assert_eq!(open_scoped_key(&"1".repeat(64), scoped), None);
        let mut damaged = scoped.to_owned();
        damaged.replace_range(40..42, "00");
        assert_eq!(open_scoped_key(MASTER, &damaged), None);
        for bad in ["", "zz", &"a".repeat(63), &"a".repeat(80)] {
            assert_eq!(open_scoped_key(MASTER, bad), None, "{bad}");
        }
    }
}

//! [`Dkim`]: the signing key, domain and selector outgoing mail is DKIM-signed with, and the
//! list of headers the signature covers.

use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm, DkimSigningKey,
};
use lettre::message::header::HeaderName;
use rsa::RsaPrivateKey;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;

use crate::error::MailError;

/// The headers every signature covers, in `h=` order. RFC 8058 requires both unsubscribe
/// headers to be signed. A header a message lacks is still listed: verifiers hash it as
/// empty, so nobody can add it later without breaking the signature.
pub const SIGNED_HEADERS: [&str; 12] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "In-Reply-To",
    "References",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Auto-Submitted",
    "MIME-Version",
];

/// RFC 8301: verifiers must reject RSA keys under 1024 bits.
const MIN_RSA_BITS: usize = 1024;

/// A DKIM signer: an RSA key (RSA-SHA256, relaxed/relaxed canonicalisation) for a domain
/// and selector, whose public key is published at `<selector>._domainkey.<domain>`.
pub struct Dkim {
    pub(crate) config: DkimConfig,
    domain: String,
    selector: String,
}

impl Dkim {
    /// Reads a PEM RSA private key, PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8
    /// (`BEGIN PRIVATE KEY`), of at least 1024 bits.
    pub fn from_pem(pem: &str, domain: &str, selector: &str) -> Result<Dkim, MailError> {
        let domain = tag_value(domain, "domain")?;
        let selector = tag_value(selector, "selector")?;
        let key = RsaPrivateKey::from_pkcs1_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs8_pem(pem))
            .map_err(|_| MailError::Dkim("the key is not a PEM RSA private key (PKCS#1 or PKCS#8)".into()))?;
        let bits = key.size() * 8;
        if bits < MIN_RSA_BITS {
            return Err(MailError::Dkim(format!(
                "the key has {bits} bits; at least {MIN_RSA_BITS} are needed"
            )));
        }
        // lettre reads PKCS#1 only, so a PKCS#8 key is handed over re-encoded.
        let pkcs1 = key
            .to_pkcs1_pem(LineEnding::LF)
            .map_err(|error| MailError::Dkim(format!("the key could not be re-encoded: {error}")))?;
        let signing_key = DkimSigningKey::new(&pkcs1, DkimSigningAlgorithm::Rsa)
            .map_err(|error| MailError::Dkim(format!("the key was refused: {error}")))?;
        let headers = SIGNED_HEADERS.iter().map(|name| HeaderName::new_from_ascii_str(name)).collect();
        // Relaxed header canonicalisation survives the refolding relays do; simple does not.
        let canonicalization = DkimCanonicalization {
            header: DkimCanonicalizationType::Relaxed,
            body: DkimCanonicalizationType::Relaxed,
        };
        let config =
            DkimConfig::new(selector.clone(), domain.clone(), signing_key, headers, canonicalization);
        Ok(Dkim { config, domain, selector })
    }

    /// The signing domain (`d=`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The selector (`s=`).
    pub fn selector(&self) -> &str {
        &self.selector
    }
}

impl std::fmt::Debug for Dkim {
    // The key stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dkim").field("domain", &self.domain).field("selector", &self.selector).finish()
    }
}

/// A domain or selector: DNS labels, so letters, digits, `-`, `_` and dots, no empty label.
fn tag_value(value: &str, what: &str) -> Result<String, MailError> {
    let value = value.trim().trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |label: &str| {
        !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if value.len() > 253 || !value.split('.').all(label_ok) {
        return Err(MailError::Dkim(format!("the {what} {value:?} is not a DNS name")));
    }
    Ok(value)
}

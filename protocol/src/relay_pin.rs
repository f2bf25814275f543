//! The pin of a self-hosted relay's certificate authority: what an invite code carries so
//! that a phone scanning it trusts a relay that has no certificate from a public CA.
//!
//! A pin is the SHA-256 of the DER encoding of the relay's CA certificate, the same value
//! `openssl x509 -in ca.pem -noout -fingerprint -sha256` prints. A device holding a pin for a
//! relay accepts exactly the certificate chains that lead to that CA (and only when the
//! relay presents the CA certificate itself in its chain: 32 bytes fit in a QR code, a whole
//! certificate does not). The leaf is still checked as usual: host name, validity period.
//!
//! Why the CA's certificate and not the leaf's key: the relay renews its leaf certificate
//! (and may change its key) without every enrolled phone needing a new pin; only a new CA
//! does that. Why the whole certificate rather than the CA's public key: it is the number an
//! operator can check with one common command, and a CA is re-issued rarely enough that its
//! key changing with it costs nothing.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The length of a pin: a SHA-256 digest.
pub const RELAY_PIN_LEN: usize = 32;

/// SHA-256 of the DER encoding of a relay's CA certificate.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelayPin(pub [u8; RELAY_PIN_LEN]);

impl RelayPin {
    /// The pin of a CA certificate given in DER.
    pub fn of_ca_certificate(der: &[u8]) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        RelayPin(crate::wire::to_array(digest.as_ref()))
    }

    /// Whether `der` is the pinned certificate.
    pub fn matches(&self, der: &[u8]) -> bool {
        // Not secret: a plain comparison is fine.
        Self::of_ca_certificate(der) == *self
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; RELAY_PIN_LEN] {
        &self.0
    }
}

impl fmt::Display for RelayPin {
    /// Lowercase hex, 64 digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for RelayPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RelayPin({self})")
    }
}

impl FromStr for RelayPin {
    type Err = Error;

    /// 64 hex digits, either case, optionally in colon-separated pairs as OpenSSL prints a
    /// fingerprint (`AB:CD:…`), optionally after `sha256:` or `SHA256 Fingerprint=`.
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        let s = s
            .strip_prefix("SHA256 Fingerprint=")
            .or_else(|| s.strip_prefix("sha256 Fingerprint="))
            .or_else(|| s.strip_prefix("sha256:"))
            .unwrap_or(s);
        let digits: String = s.chars().filter(|c| *c != ':').collect();
        if digits.len() != 2 * RELAY_PIN_LEN {
            return Err(Error::BadRelayPin("a pin is 64 hex digits (a SHA-256)"));
        }
        let mut out = [0u8; RELAY_PIN_LEN];
        hex::decode_to_slice(&digits, &mut out)
            .map_err(|_| Error::BadRelayPin("a pin is 64 hex digits (a SHA-256)"))?;
        Ok(RelayPin(out))
    }
}

impl serde::Serialize for RelayPin {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for RelayPin {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pins_read_as_hex_or_as_openssl_prints_them() {
        let pin = RelayPin::of_ca_certificate(b"not really a certificate");
        let hex = pin.to_string();
        assert_eq!(hex.len(), 64);
        assert_eq!(hex.parse::<RelayPin>().unwrap(), pin);
        let openssl = hex
            .to_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|p| std::str::from_utf8(p).unwrap())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(
            format!("SHA256 Fingerprint={openssl}")
                .parse::<RelayPin>()
                .unwrap(),
            pin
        );
        assert_eq!(format!("sha256:{hex}").parse::<RelayPin>().unwrap(), pin);
        assert!(pin.matches(b"not really a certificate"));
        assert!(!pin.matches(b"another"));
        for bad in ["", "abc", &hex[..62], &format!("{hex}00"), &"zz".repeat(32)] {
            assert!(bad.parse::<RelayPin>().is_err(), "{bad}");
        }
        let json = serde_json::to_string(&pin).unwrap();
        assert_eq!(json, format!("\"{hex}\""));
        assert_eq!(serde_json::from_str::<RelayPin>(&json).unwrap(), pin);
    }
}

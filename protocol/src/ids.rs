//! Fixed-size ids: random 16-byte team, document and device ids, and the SHA-256 envelope id.
//! All print and parse as lowercase hex (upper case is accepted) and serialise as hex strings.

use std::fmt;
use std::str::FromStr;

use ring::rand::SecureRandom;

use crate::error::{Error, Result};
use crate::wire::to_array;

macro_rules! byte_id {
    ($(#[$meta:meta])* $name:ident, $len:literal, $kind:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = $len;

            /// The id from exactly `LEN` bytes.
            pub fn from_slice(bytes: &[u8]) -> Result<Self> {
                <[u8; $len]>::try_from(bytes)
                    .map(Self)
                    .map_err(|_| Error::InvalidId { kind: $kind, bytes: $len })
            }

            /// The raw bytes.
            pub const fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for b in &self.0 {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(s: &str) -> Result<Self> {
                let mut out = [0u8; $len];
                hex::decode_to_slice(s, &mut out)
                    .map_err(|_| Error::InvalidId { kind: $kind, bytes: $len })?;
                Ok(Self(out))
            }
        }

        impl From<[u8; $len]> for $name {
            fn from(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                struct HexVisitor;
                impl serde::de::Visitor<'_> for HexVisitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        write!(f, "{} hex digits", $len * 2)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<$name, E> {
                        v.parse().map_err(E::custom)
                    }
                }
                d.deserialize_str(HexVisitor)
            }
        }
    };
}

byte_id!(
    /// A team: the unit that shares documents and one relay sequence.
    TeamId, 16, "team id"
);
byte_id!(
    /// A document (a case file, an action plan, the directory, a key-material stream).
    DocumentId, 16, "document id"
);
byte_id!(
    /// A device: one install of the app, with its own Ed25519 signing key.
    DeviceId, 16, "device id"
);
byte_id!(
    /// A one-time invite: the first 16 bytes of SHA-256 over a label and the invite's secret,
    /// so knowing the id does not reveal the secret.
    InviteId, 16, "invite id"
);
byte_id!(
    /// An envelope's id: SHA-256 of all its bytes, signature included.
    EnvelopeId, 32, "envelope id"
);

macro_rules! random_id {
    ($name:ident) => {
        impl $name {
            /// A fresh random id from `rng`.
            pub fn random_with(rng: &dyn SecureRandom) -> Result<Self> {
                let mut out = [0u8; 16];
                rng.fill(&mut out).map_err(|_| Error::Random)?;
                Ok(Self(out))
            }

            /// A fresh random id from the operating system's generator.
            ///
            /// Panics only if that generator fails, which no input can cause and nothing
            /// can recover from (every id, key and nonce depends on it).
            #[allow(clippy::expect_used)]
            pub fn random() -> Self {
                Self::random_with(&ring::rand::SystemRandom::new())
                    .expect("the operating system's random number generator failed")
            }
        }
    };
}

random_id!(TeamId);
random_id!(DocumentId);
random_id!(DeviceId);

impl EnvelopeId {
    /// The id of an encoded envelope: SHA-256 of all of `envelope_bytes`.
    pub fn of(envelope_bytes: &[u8]) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, envelope_bytes);
        Self(to_array(digest.as_ref()))
    }
}

/// Domain separation of a team's settings document id.
pub const TEAM_SETTINGS_ID_CONTEXT: &[u8] = b"holdfast team settings v1";

/// The team settings document of `team` (the limits its caseloads are held against): the
/// first 16 bytes of SHA-256(`"holdfast team settings v1"` ‖ team). Derived, so every
/// device finds it, and two supervisors creating it offline write into the same document.
pub fn team_settings_id(team: &TeamId) -> DocumentId {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(TEAM_SETTINGS_ID_CONTEXT);
    ctx.update(team.as_bytes());
    DocumentId(to_array(ctx.finish().as_ref()))
}

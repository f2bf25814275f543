//! Random identifiers: 128-bit for teams, documents and devices (they travel to the relay and
//! must reveal nothing), 64-bit for items inside a document.
//!
//! Team, document and device ids are the wire protocol's own types
//! ([`TeamId`], [`DocumentId`], [`DeviceId`]): one vocabulary on the device, on the wire and
//! at the relay. The item ids inside a document never leave it.

use std::fmt;
use std::str::FromStr;

use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use holdfast_protocol::EnvelopeId;
pub use holdfast_protocol::{DeviceId, DocumentId, TeamId};

use crate::{Error, Result};

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    // The system RNG failing is not recoverable and never caused by input.
    SystemRandom::new()
        .fill(&mut out)
        .expect("the operating system's random number generator failed");
    out
}

macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident, $len:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// A fresh random id.
            pub fn random() -> Self {
                Self(random_bytes::<$len>())
            }
            /// The id's bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }
            /// Parses the id from its bytes.
            pub fn from_slice(bytes: &[u8]) -> Result<Self> {
                <[u8; $len]>::try_from(bytes)
                    .map(Self)
                    .map_err(|_| Error::InvalidId { kind: stringify!($name) })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                let bytes = hex::decode(s.trim()).map_err(|_| Error::InvalidId { kind: stringify!($name) })?;
                Self::from_slice(&bytes)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

random_id!(
    /// A referral inside a case file.
    ReferralId, 8
);
random_id!(
    /// A session inside a case file.
    SessionId, 8
);
random_id!(
    /// An outcome measurement inside a case file.
    MeasureId, 8
);
random_id!(
    /// A safeguarding concern inside a case file.
    ConcernId, 8
);
random_id!(
    /// A supervision or patient comment.
    CommentId, 8
);
random_id!(
    /// A ring-back task inside a case file.
    RingBackId, 8
);
random_id!(
    /// A record that the message back to the GP was sent.
    FeedbackSentId, 8
);
random_id!(
    /// One step in a plan step's connection to a community asset (suggested, attended, …).
    ConnectionEventId, 8
);
random_id!(
    /// A goal inside an action plan.
    GoalId, 8
);
random_id!(
    /// A step inside an action plan.
    StepId, 8
);
random_id!(
    /// A community asset inside a directory.
    AssetId, 8
);

/// An id read back from the database: a wrong length means the file is damaged, not that
/// anyone typed something wrong.
pub(crate) trait StoredId: Sized {
    /// The id from the bytes the store wrote.
    fn from_stored(bytes: &[u8]) -> Result<Self>;
}

macro_rules! stored_id {
    ($($name:ident),+) => {$(
        impl StoredId for $name {
            fn from_stored(bytes: &[u8]) -> Result<Self> {
                $name::from_slice(bytes).map_err(|_| {
                    Error::StoreCorrupt(format!(
                        "a stored {} has {} bytes",
                        stringify!($name),
                        bytes.len()
                    ))
                })
            }
        }
    )+};
}

stored_id!(
    DeviceId, DocumentId, TeamId, EnvelopeId, AssetId, CommentId, RingBackId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text_and_reject_garbage() {
        let id = DocumentId::random();
        assert_eq!(id.to_string().len(), 32);
        assert_eq!(id.to_string().parse::<DocumentId>().unwrap(), id);
        assert!("not hex".parse::<DocumentId>().is_err());
        assert!("abcd".parse::<DocumentId>().is_err(), "wrong length");
        assert!(SessionId::from_slice(&[0; 9]).is_err());
        assert_ne!(DocumentId::random(), DocumentId::random());
    }
}

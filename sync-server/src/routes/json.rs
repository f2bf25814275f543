//! JSON bodies: the extractor whose rejections are [`ApiError`]s, and byte arrays as hex.

use std::fmt;

use axum::extract::FromRequest;

use crate::error::ApiError;

/// `axum::Json`, refusing a bad body with `400 bad_request` in the relay's error format.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// Exactly `N` bytes, as `2N` hex digits in JSON (public keys, signatures, challenges).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Hex<const N: usize>(pub [u8; N]);

impl<const N: usize> fmt::Debug for Hex<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl<const N: usize> serde::Serialize for Hex<N> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de, const N: usize> serde::Deserialize<'de> for Hex<N> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<const N: usize>;
        impl<const N: usize> serde::de::Visitor<'_> for Visitor<N> {
            type Value = Hex<N>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{} bytes as {} hex digits", N, 2 * N)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Hex<N>, E> {
                let mut out = [0u8; N];
                hex::decode_to_slice(v, &mut out).map_err(|_| {
                    E::custom(format_args!("expected {} bytes as {} hex digits", N, 2 * N))
                })?;
                Ok(Hex(out))
            }
        }
        d.deserialize_str(Visitor::<N>)
    }
}

/// Any number of bytes (up to what the body limit allows), as lowercase hex in JSON
/// (membership entries, key bundles).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct HexBytes(pub Vec<u8>);

impl fmt::Debug for HexBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HexBytes({} bytes)", self.0.len())
    }
}

impl serde::Serialize for HexBytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> serde::Deserialize<'de> for HexBytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = HexBytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes as hex digits")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<HexBytes, E> {
                hex::decode(v)
                    .map(HexBytes)
                    .map_err(|_| E::custom("expected bytes as hex digits"))
            }
        }
        d.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_wrong_lengths() {
        let h: Hex<4> = serde_json::from_str("\"0a0B0c0d\"").unwrap();
        assert_eq!(h.0, [10, 11, 12, 13]);
        assert_eq!(serde_json::to_string(&h).unwrap(), "\"0a0b0c0d\"");
        for bad in ["\"0a0b0c\"", "\"0a0b0c0d0e\"", "\"zz0b0c0d\"", "12"] {
            assert!(serde_json::from_str::<Hex<4>>(bad).is_err(), "{bad}");
        }
    }
}

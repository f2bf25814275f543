//! The device's answer to the relay's login challenge.
//!
//! The relay hands out a random 32-byte challenge; the device signs
//! `b"holdfast-auth-v1" || u16 origin length || origin || device id || challenge`.
//! Binding the relay's origin means an answer given to one relay (or to a phishing relay)
//! is worthless at another.

use ring::rand::SecureRandom;

use crate::error::{Error, Result};
use crate::ids::DeviceId;
use crate::keys::{DeviceSigningKey, PUBLIC_KEY_LEN, SIGNATURE_LEN, verify_signature};

/// Domain separation for the auth signature, so it can never pass for another message.
pub const AUTH_CONTEXT: &[u8; 16] = b"holdfast-auth-v1";
/// Length of the relay's challenge.
pub const CHALLENGE_LEN: usize = 32;
/// Longest relay origin: what a u16 length prefix can say.
pub const MAX_ORIGIN_LEN: usize = u16::MAX as usize;

/// Auth message bytes other than the origin: context, origin length, device id, challenge.
const AUTH_FIXED_LEN: usize = AUTH_CONTEXT.len() + 2 + 16 + CHALLENGE_LEN;

/// A fresh random challenge (the relay's side).
pub fn new_challenge(rng: &dyn SecureRandom) -> Result<[u8; CHALLENGE_LEN]> {
    let mut challenge = [0u8; CHALLENGE_LEN];
    rng.fill(&mut challenge).map_err(|_| Error::Random)?;
    Ok(challenge)
}

/// The exact bytes a device signs to answer `challenge` from the relay at `origin`
/// (for example `"http://127.0.0.1:8080"`; both sides must use the identical string).
pub fn auth_message(
    origin: &str,
    device: &DeviceId,
    challenge: &[u8; CHALLENGE_LEN],
) -> Result<Vec<u8>> {
    let origin = origin.as_bytes();
    let origin_len =
        u16::try_from(origin.len())
            .ok()
            .filter(|&n| n > 0)
            .ok_or(Error::BadOrigin {
                len: origin.len(),
                max: MAX_ORIGIN_LEN,
            })?;
    let mut message = Vec::with_capacity(origin.len().saturating_add(AUTH_FIXED_LEN));
    message.extend_from_slice(AUTH_CONTEXT);
    message.extend_from_slice(&origin_len.to_be_bytes());
    message.extend_from_slice(origin);
    message.extend_from_slice(&device.0);
    message.extend_from_slice(challenge);
    Ok(message)
}

/// The device's answer: its signature over [`auth_message`].
pub fn sign_auth(
    signer: &DeviceSigningKey,
    origin: &str,
    device: &DeviceId,
    challenge: &[u8; CHALLENGE_LEN],
) -> Result<[u8; SIGNATURE_LEN]> {
    Ok(signer.sign(&auth_message(origin, device, challenge)?))
}

/// Checks a device's answer with the public key registered for `device` (the relay's side;
/// the relay must also check that it issued `challenge`, recently, and only once).
pub fn verify_auth(
    public_key: &[u8; PUBLIC_KEY_LEN],
    origin: &str,
    device: &DeviceId,
    challenge: &[u8; CHALLENGE_LEN],
    signature: &[u8; SIGNATURE_LEN],
) -> Result<()> {
    verify_signature(
        public_key,
        &auth_message(origin, device, challenge)?,
        signature,
    )
}

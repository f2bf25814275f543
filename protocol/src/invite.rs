//! One-time invite codes: the short string a link worker's (or admin's) phone shows as a
//! QR code, and the keys derived from its secret.
//!
//! Layout of the code: `HF1-` then base64url (no padding) of: version byte 1 | relay URL
//! (u8 length + UTF-8) | team 16 | anchor 16 | role 1 | plan flag 1 (+ plan 16) |
//! expires_at_ms u64 | secret 32. About 150 characters for a short relay URL.
//!
//! The anchor is the first 16 bytes of the SHA-256 of the team's genesis entry
//! ([`crate::Entry::anchor`]): a redeeming device refuses a membership log whose genesis does
//! not match, so a relay cannot show a new device a team of its own making.
//!
//! From the secret: the invite id (SHA-256 of `"holdfast-invite-id" || secret`, first 16
//! bytes), the invite's one-time Ed25519 key and its HPKE key (HKDF-SHA256 of the secret
//! with distinct labels). The role, plan and expiry in the code are a convenience for the
//! redeeming device's screen: the Invite entry in the team's log is the authority, and a
//! redeeming device refuses a code whose fields differ from it (a tampered code).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hkdf;
use ring::rand::SecureRandom;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::ids::{DocumentId, InviteId, TeamId};
use crate::keys::DeviceSigningKey;
use crate::keywrap::HpkeKeyPair;
use crate::membership::Role;
use crate::wire::{Reader, to_array};

/// Every invite code starts with this.
pub const INVITE_PREFIX: &str = "HF1-";
const VERSION: u8 = 1;
const MAX_URL: usize = 200;

/// A decoded invite code.
#[derive(Clone, PartialEq, Eq)]
pub struct InviteCode {
    /// The relay's base URL.
    pub relay_url: String,
    /// The team.
    pub team: TeamId,
    /// The first 16 bytes of the SHA-256 of the team's genesis entry.
    pub anchor: [u8; 16],
    /// The role it grants.
    pub role: Role,
    /// The plan, for a patient.
    pub plan: Option<DocumentId>,
    /// Until when (ms since the Unix epoch).
    pub expires_at_ms: u64,
    secret: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for InviteCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InviteCode")
            .field("team", &self.team)
            .field("role", &self.role)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

fn derive(secret: &[u8; 32], label: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"holdfast-invite-v1").extract(secret);
    let info = [label];
    let okm = prk
        .expand(&info, hkdf::HKDF_SHA256)
        .map_err(|_| Error::KeyRejected)?;
    let mut out = Zeroizing::new([0u8; 32]);
    okm.fill(out.as_mut_slice())
        .map_err(|_| Error::KeyRejected)?;
    Ok(out)
}

impl InviteCode {
    /// A new invite with a fresh secret.
    pub fn generate(
        rng: &dyn SecureRandom,
        relay_url: &str,
        team: TeamId,
        anchor: [u8; 16],
        role: Role,
        plan: Option<DocumentId>,
        expires_at_ms: u64,
    ) -> Result<Self> {
        if relay_url.is_empty() || relay_url.len() > MAX_URL {
            return Err(Error::BadInviteCode("relay URL must be 1 to 200 bytes"));
        }
        let mut secret = Zeroizing::new([0u8; 32]);
        rng.fill(secret.as_mut_slice()).map_err(|_| Error::Random)?;
        Ok(InviteCode {
            relay_url: relay_url.to_owned(),
            team,
            anchor,
            role,
            plan,
            expires_at_ms,
            secret,
        })
    }

    /// An invite from all its parts, the secret included (test vectors, and a device that
    /// kept the parts). Prefer [`InviteCode::generate`], which draws a fresh secret.
    pub fn from_parts(
        relay_url: &str,
        team: TeamId,
        anchor: [u8; 16],
        role: Role,
        plan: Option<DocumentId>,
        expires_at_ms: u64,
        secret: [u8; 32],
    ) -> Result<Self> {
        if relay_url.is_empty() || relay_url.len() > MAX_URL {
            return Err(Error::BadInviteCode("relay URL must be 1 to 200 bytes"));
        }
        if (role == Role::Patient) != plan.is_some() {
            return Err(Error::BadInviteCode("a patient invite names one plan"));
        }
        Ok(InviteCode {
            relay_url: relay_url.to_owned(),
            team,
            anchor,
            role,
            plan,
            expires_at_ms,
            secret: Zeroizing::new(secret),
        })
    }

    /// The code to show (as text or a QR code).
    pub fn encode(&self) -> String {
        let mut b = Zeroizing::new(Vec::with_capacity(120));
        b.push(VERSION);
        // `generate` and `decode` bound the URL to 200 bytes.
        b.push(u8::try_from(self.relay_url.len()).unwrap_or(u8::MAX));
        b.extend_from_slice(self.relay_url.as_bytes());
        b.extend_from_slice(self.team.as_bytes());
        b.extend_from_slice(&self.anchor);
        b.push(self.role.as_byte());
        match &self.plan {
            Some(p) => {
                b.push(1);
                b.extend_from_slice(p.as_bytes());
            }
            None => b.push(0),
        }
        b.extend_from_slice(&self.expires_at_ms.to_be_bytes());
        b.extend_from_slice(self.secret.as_slice());
        format!("{INVITE_PREFIX}{}", URL_SAFE_NO_PAD.encode(b.as_slice()))
    }

    /// Decodes a code (surrounding white space ignored). Checks the format only: whether the
    /// invite exists, is unused and unexpired is the relay's and the log's answer.
    pub fn decode(code: &str) -> Result<Self> {
        let body = code
            .trim()
            .strip_prefix(INVITE_PREFIX)
            .ok_or(Error::BadInviteCode("it does not start with HF1-"))?;
        if body.len() > 512 {
            return Err(Error::BadInviteCode("too long"));
        }
        let bytes = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(body)
                .map_err(|_| Error::BadInviteCode("not base64url"))?,
        );
        let mut r = Reader::new(&bytes, "invite code");
        if r.u8()? != VERSION {
            return Err(Error::BadInviteCode("unknown version"));
        }
        let url_len = usize::from(r.u8()?);
        let relay_url = std::str::from_utf8(r.take(url_len)?)
            .map_err(|_| Error::BadInviteCode("relay URL is not UTF-8"))?
            .to_owned();
        if relay_url.is_empty() {
            return Err(Error::BadInviteCode("no relay URL"));
        }
        let team = TeamId(*r.array::<16>()?);
        let anchor = *r.array::<16>()?;
        let role = Role::from_byte(r.u8()?)?;
        let plan = match r.u8()? {
            0 => None,
            1 => Some(DocumentId(*r.array::<16>()?)),
            _ => return Err(Error::BadInviteCode("bad plan flag")),
        };
        let expires_at_ms = r.u64()?;
        let secret = Zeroizing::new(*r.array::<32>()?);
        r.finish()?;
        if (role == Role::Patient) != plan.is_some() {
            return Err(Error::BadInviteCode("a patient invite names one plan"));
        }
        Ok(InviteCode {
            relay_url,
            team,
            anchor,
            role,
            plan,
            expires_at_ms,
            secret,
        })
    }

    /// The invite id.
    pub fn id(&self) -> InviteId {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(b"holdfast-invite-id");
        ctx.update(self.secret.as_slice());
        InviteId(to_array(ctx.finish().as_ref()))
    }

    /// The invite's one-time Ed25519 key (signs the redeem entry).
    pub fn signing_key(&self) -> Result<DeviceSigningKey> {
        DeviceSigningKey::from_seed(*derive(&self.secret, b"sign")?)
    }

    /// The invite's HPKE key pair (the inviter wraps keys to it).
    pub fn hpke_key(&self) -> Result<HpkeKeyPair> {
        HpkeKeyPair::from_seed(*derive(&self.secret, b"hpke")?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    #[test]
    fn codes_round_trip_and_are_qr_sized() {
        let rng = SystemRandom::new();
        let plan = DocumentId([3; 16]);
        let code = InviteCode::generate(
            &rng,
            "https://relay.example.nhs.uk",
            TeamId([1; 16]),
            [2; 16],
            Role::Patient,
            Some(plan),
            1_800_000_000_000,
        )
        .unwrap();
        let text = code.encode();
        assert!(text.len() < 180, "{} chars", text.len());
        let back = InviteCode::decode(&format!("  {text}\n")).unwrap();
        assert_eq!(back, code);
        assert_eq!(back.id(), code.id());
        assert_eq!(
            back.hpke_key().unwrap().public_key(),
            code.hpke_key().unwrap().public_key()
        );
        let other = InviteCode::generate(
            &rng,
            "http://x",
            TeamId([1; 16]),
            [2; 16],
            Role::LinkWorker,
            None,
            1,
        )
        .unwrap();
        assert_ne!(other.id(), code.id());
        assert!(!format!("{code:?}").contains(&hex::encode(code.secret.as_slice())));
    }

    #[test]
    fn malformed_codes_are_refused() {
        for bad in ["", "HF1-", "HF2-AAAA", "HF1-!!!!", "HF1-AQ"] {
            assert!(InviteCode::decode(bad).is_err(), "{bad}");
        }
        let rng = SystemRandom::new();
        let code = InviteCode::generate(
            &rng,
            "http://x",
            TeamId([1; 16]),
            [2; 16],
            Role::LinkWorker,
            None,
            1,
        )
        .unwrap();
        let text = code.encode();
        assert!(InviteCode::decode(&text[..text.len() - 2]).is_err());
    }
}

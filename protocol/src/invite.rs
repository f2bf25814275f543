//! One-time invite codes: the short string a link worker's (or admin's) phone shows as a QR
//! code, and the keys derived from its secret.
//!
//! Layout of the code: `HF1-` then base64url (no padding) of: version byte | relay URL
//! (u8 length + UTF-8) | [version 2 only: relay CA pin 32] | team 16 | anchor 16 | role 1 |
//! plan flag 1 (+ plan 16) | expires_at_ms u64 | secret 32. About 150 characters for a short
//! relay URL, 43 more with a pin.
//!
//! Version 1 carries no pin: the device trusts the relay's certificate through the
//! platform's roots (a relay with a certificate from a public CA). Version 2 carries the
//! [`RelayPin`] of a self-hosted relay's own CA, so that scanning the code is all it takes to
//! trust a private relay. A code without a pin is still written as version 1, byte for byte
//! what earlier builds wrote and read; only a pinned code needs a build that knows
//! version 2 (an older one refuses it as "unknown version" rather than trusting the relay
//! some other way). The prefix stays `HF1-`: it says "a Holdfast invite", the byte after it
//! says which layout.
//!
//! The anchor is the first 16 bytes of the SHA-256 of the team's genesis entry
//! ([`crate::Entry::anchor`]): a redeeming device refuses a membership log whose genesis does
//! not match, so a relay cannot show a new device a team of its own making.
//!
//! From the secret: the invite id (SHA-256 of `"holdfast-invite-id" || secret`, first 16
//! bytes), the invite's one-time Ed25519 key and its HPKE key (HKDF-SHA256 of the secret,
//! salt `"holdfast-invite-v1"`, info `"sign"` and `"hpke"`: 32-byte seeds). The role, plan and expiry in the code are a convenience for the
//! redeeming device's screen: the Invite entry in the team's log is the authority, and a
//! redeeming device refuses a code whose fields differ from it (a tampered code). The relay
//! URL and the pin are not in the log: they are the inviter's word, checked the only way
//! they can be, by the relay answering for the team's anchor over a connection the pin (or
//! the platform's roots) vouched for.

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
use crate::relay_pin::RelayPin;
use crate::wire::{Reader, to_array};

/// Every invite code starts with this.
pub const INVITE_PREFIX: &str = "HF1-";
/// The layout without a relay pin.
const VERSION: u8 = 1;
/// The layout with a relay pin after the relay URL.
const VERSION_PINNED: u8 = 2;
const MAX_URL: usize = 200;

/// A decoded invite code.
#[derive(Clone, PartialEq, Eq)]
pub struct InviteCode {
    /// The relay's base URL.
    pub relay_url: String,
    /// The pin of the relay's own CA (a self-hosted relay), or `None`: trust the relay's
    /// certificate through the platform's roots.
    pub relay_pin: Option<RelayPin>,
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
            .field("relay_pin", &self.relay_pin)
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
            relay_pin: None,
            team,
            anchor,
            role,
            plan,
            expires_at_ms,
            secret,
        })
    }

    /// The same invite, for a relay whose certificate chains to the CA `pin` names (or,
    /// with `None`, to the platform's roots).
    #[must_use]
    pub fn with_relay_pin(mut self, pin: Option<RelayPin>) -> Self {
        self.relay_pin = pin;
        self
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
            relay_pin: None,
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
        let mut b = Zeroizing::new(Vec::with_capacity(160));
        b.push(if self.relay_pin.is_some() {
            VERSION_PINNED
        } else {
            VERSION
        });
        // `generate` and `decode` bound the URL to 200 bytes.
        b.push(u8::try_from(self.relay_url.len()).unwrap_or(u8::MAX));
        b.extend_from_slice(self.relay_url.as_bytes());
        if let Some(pin) = &self.relay_pin {
            b.extend_from_slice(pin.as_bytes());
        }
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
        let pinned = match r.u8()? {
            VERSION => false,
            VERSION_PINNED => true,
            _ => return Err(Error::BadInviteCode("unknown version")),
        };
        let url_len = usize::from(r.u8()?);
        let relay_url = std::str::from_utf8(r.take(url_len)?)
            .map_err(|_| Error::BadInviteCode("relay URL is not UTF-8"))?
            .to_owned();
        if relay_url.is_empty() {
            return Err(Error::BadInviteCode("no relay URL"));
        }
        let relay_pin = if pinned {
            Some(RelayPin(*r.array::<32>()?))
        } else {
            None
        };
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
            relay_pin,
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
    fn a_pinned_code_is_version_2_and_an_unpinned_one_stays_version_1() {
        let rng = SystemRandom::new();
        let plain = InviteCode::generate(
            &rng,
            "https://relay.example.nhs.uk",
            TeamId([1; 16]),
            [2; 16],
            Role::Patient,
            Some(DocumentId([3; 16])),
            1_800_000_000_000,
        )
        .unwrap();
        let pin = RelayPin([7; 32]);
        let pinned = plain.clone().with_relay_pin(Some(pin));
        let bytes = |c: &InviteCode| {
            URL_SAFE_NO_PAD
                .decode(c.encode().strip_prefix(INVITE_PREFIX).unwrap())
                .unwrap()
        };
        assert_eq!(bytes(&plain)[0], 1);
        assert_eq!(bytes(&pinned)[0], 2);
        // The pin follows the relay URL; everything after it is version 1's layout.
        let (p, q) = (bytes(&plain), bytes(&pinned));
        let url_end = 2 + usize::from(p[1]);
        assert_eq!(p[..url_end][1..], q[..url_end][1..]);
        assert_eq!(q[url_end..url_end + 32], [7; 32]);
        assert_eq!(p[url_end..], q[url_end + 32..]);

        let back = InviteCode::decode(&pinned.encode()).unwrap();
        assert_eq!(back.relay_pin, Some(pin));
        assert_eq!(back, pinned);
        assert_eq!(back.id(), plain.id(), "the pin does not change the invite");
        assert_eq!(InviteCode::decode(&plain.encode()).unwrap().relay_pin, None);
        // Still QR-sized with a pin: a patient's code for a short relay URL.
        assert!(pinned.encode().len() < 230, "{}", pinned.encode().len());
        // The longest relay URL with a pin still decodes.
        let long = InviteCode::generate(
            &rng,
            &format!("https://{}", "r".repeat(192)),
            TeamId([1; 16]),
            [2; 16],
            Role::Patient,
            Some(DocumentId([3; 16])),
            1,
        )
        .unwrap()
        .with_relay_pin(Some(pin));
        assert_eq!(InviteCode::decode(&long.encode()).unwrap(), long);
        // A pinned code cut short inside its pin is refused.
        let mut cut = bytes(&pinned);
        cut.truncate(url_end + 10);
        let cut = format!("{INVITE_PREFIX}{}", URL_SAFE_NO_PAD.encode(&cut));
        assert!(InviteCode::decode(&cut).is_err());
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

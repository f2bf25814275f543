//! Who is asking: login challenges, bearer tokens, and the extractors that turn a
//! request's `Authorization` header into a device and a team membership.
//!
//! **Login.** A device asks for a challenge (32 random bytes, single use, short-lived,
//! kept in memory), signs it with [`holdfast_protocol::sign_auth`] (bound to the relay's
//! origin) and trades the answer for a bearer token.
//!
//! **Tokens** are stateless: `hft1.` then base64url of `device id (16) || expiry (u64 ms,
//! big-endian) || HMAC-SHA256(key, "holdfast-token-v1" || device || expiry)`. Checking one
//! costs a microsecond and no database access. The key is random, kept in the data
//! directory (`token.key`, mode 0600) so tokens outlive a restart; deleting it logs every
//! device out. Tokens name a device, not a team: each team route checks membership
//! (the team's folded membership log, cached, see [`crate::membership`]), so revoking a
//! device takes effect at once.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::{FromRequestParts, Path as UrlPath};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;

use holdfast_protocol::{
    CHALLENGE_LEN, DeviceId, DocumentId, InviteId, SecureRandom, SharedClock, TeamId,
};
use ring::hmac;

use crate::address::AddressKey;
use crate::error::ApiError;
use crate::membership::TeamLog;
use crate::state::AppState;
use crate::storage::{PublicKey, Role, Storage};

/// The token key file inside the data directory.
pub const TOKEN_KEY_FILE: &str = "token.key";

const TOKEN_PREFIX: &str = "hft1.";
const TOKEN_CONTEXT: &[u8] = b"holdfast-token-v1";
const TOKEN_BODY_LEN: usize = 16 + 8;
const TOKEN_LEN: usize = TOKEN_BODY_LEN + 32;

/// The key that signs bearer tokens (HMAC-SHA256). Debug output never shows it.
pub struct TokenKey {
    key: hmac::Key,
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token this relay could have issued.
    #[error("malformed bearer token")]
    Malformed,
    /// The MAC does not match: forged, altered, or from another relay.
    #[error("invalid bearer token")]
    Invalid,
    /// It was valid, and has expired: log in again.
    #[error("bearer token expired")]
    Expired,
}

impl TokenKey {
    /// Length of the key in bytes.
    pub const LEN: usize = 32;

    /// A key from its bytes.
    pub fn from_bytes(bytes: &[u8; Self::LEN]) -> Self {
        TokenKey {
            key: hmac::Key::new(hmac::HMAC_SHA256, bytes),
        }
    }

    /// A fresh random key.
    pub fn generate(rng: &dyn SecureRandom) -> std::io::Result<Self> {
        let mut bytes = [0u8; Self::LEN];
        rng.fill(&mut bytes)
            .map_err(|_| std::io::Error::other("random number generator failed"))?;
        Ok(Self::from_bytes(&bytes))
    }

    /// Reads the key at `path`, or creates it there (mode 0600) if there is none.
    pub fn load_or_create(path: &Path, rng: &dyn SecureRandom) -> std::io::Result<Self> {
        match std::fs::File::open(path) {
            Ok(mut file) => {
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes)?;
                let bytes: [u8; Self::LEN] = bytes.try_into().map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{} is not a {}-byte key", path.display(), Self::LEN),
                    )
                })?;
                Ok(Self::from_bytes(&bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; Self::LEN];
                rng.fill(&mut bytes)
                    .map_err(|_| std::io::Error::other("random number generator failed"))?;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path)?;
                file.write_all(&bytes)?;
                file.sync_all()?;
                Ok(Self::from_bytes(&bytes))
            }
            Err(e) => Err(e),
        }
    }

    /// A token for `device`, valid until `expires_ms` (ms since the Unix epoch).
    pub fn issue(&self, device: DeviceId, expires_ms: u64) -> String {
        let mut raw = [0u8; TOKEN_LEN];
        let (body, mac) = raw.split_at_mut(TOKEN_BODY_LEN);
        body[..16].copy_from_slice(&device.0);
        body[16..].copy_from_slice(&expires_ms.to_be_bytes());
        mac.copy_from_slice(self.mac(body).as_ref());
        format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw))
    }

    /// The device a token was issued to, if it is genuine and not expired at `now_ms`.
    pub fn verify(&self, token: &str, now_ms: u64) -> Result<DeviceId, TokenError> {
        self.verify_until(token, now_ms).map(|(device, _)| device)
    }

    /// The device a token was issued to and when it expires (ms since the epoch), if it is
    /// genuine and not expired at `now_ms`.
    pub fn verify_until(&self, token: &str, now_ms: u64) -> Result<(DeviceId, u64), TokenError> {
        let encoded = token
            .strip_prefix(TOKEN_PREFIX)
            .ok_or(TokenError::Malformed)?;
        let mut raw = [0u8; TOKEN_LEN + 2];
        let len = URL_SAFE_NO_PAD
            .decode_slice(encoded, &mut raw)
            .map_err(|_| TokenError::Malformed)?;
        if len != TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let (body, rest) = raw.split_at(TOKEN_BODY_LEN);
        let mac = &rest[..32];
        hmac::verify(&self.key, &[TOKEN_CONTEXT, body].concat(), mac)
            .map_err(|_| TokenError::Invalid)?;
        let mut device = [0u8; 16];
        device.copy_from_slice(&body[..16]);
        let mut expiry = [0u8; 8];
        expiry.copy_from_slice(&body[16..]);
        let expires_ms = u64::from_be_bytes(expiry);
        if now_ms >= expires_ms {
            return Err(TokenError::Expired);
        }
        Ok((DeviceId(device), expires_ms))
    }

    fn mac(&self, body: &[u8]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(TOKEN_CONTEXT);
        ctx.update(body);
        ctx.sign()
    }
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

/// Outstanding login challenges: issued for one device, answered once, before expiry.
///
/// The table is bounded twice, so that a flood cannot fill it for everyone else: each
/// client address holds at most `per_address` challenges (a new one from an address at its
/// share replaces that address's oldest), and the whole table at most `capacity` (a new one
/// then replaces the oldest of all, which a flood reaches only by issuing `capacity`
/// challenges within one device's round trip). Expired challenges go first, oldest first,
/// as new ones come in.
#[derive(Debug)]
pub struct Challenges {
    table: Mutex<ChallengeTable>,
    ttl: Duration,
    capacity: usize,
    per_address: usize,
    clock: SharedClock,
}

#[derive(Debug, Default)]
struct ChallengeTable {
    pending: HashMap<[u8; CHALLENGE_LEN], Pending>,
    /// Every pending challenge by its serial number: oldest first.
    by_age: BTreeMap<u64, [u8; CHALLENGE_LEN]>,
    /// Each address's pending challenges' serial numbers, oldest first.
    by_address: HashMap<AddressKey, VecDeque<u64>>,
    next_serial: u64,
    /// Challenges replaced before they were answered or expired.
    evicted: u64,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    device: DeviceId,
    /// The client address it was issued to.
    address: AddressKey,
    serial: u64,
    /// When it was issued, in ms since the epoch.
    issued_ms: u64,
}

impl Pending {
    /// Whether it may still be answered at `now_ms`. A wall clock set back since the
    /// challenge was issued makes it expire rather than live longer.
    fn is_live(&self, now_ms: u64, ttl: Duration) -> bool {
        now_ms
            .checked_sub(self.issued_ms)
            .is_some_and(|age| u128::from(age) < ttl.as_millis())
    }
}

impl ChallengeTable {
    fn remove(&mut self, challenge: &[u8; CHALLENGE_LEN]) -> Option<Pending> {
        let pending = self.pending.remove(challenge)?;
        self.by_age.remove(&pending.serial);
        if let Some(serials) = self.by_address.get_mut(&pending.address) {
            serials.retain(|s| *s != pending.serial);
            if serials.is_empty() {
                self.by_address.remove(&pending.address);
            }
        }
        Some(pending)
    }

    fn remove_serial(&mut self, serial: u64) {
        if let Some(challenge) = self.by_age.get(&serial).copied() {
            self.remove(&challenge);
        }
    }

    /// Drops expired challenges, oldest first, stopping at the first live one.
    fn purge(&mut self, now_ms: u64, ttl: Duration) {
        while let Some((&serial, challenge)) = self.by_age.first_key_value() {
            let live = self
                .pending
                .get(challenge)
                .is_some_and(|p| p.is_live(now_ms, ttl));
            if live {
                break;
            }
            self.remove_serial(serial);
        }
    }
}

/// A challenge just issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Issued {
    /// The challenge.
    pub challenge: [u8; CHALLENGE_LEN],
    /// Whether it replaced an outstanding one (the address's share, or the table, was full).
    pub replaced: bool,
    /// The challenge it replaced, if any (no longer redeemable).
    pub replaced_challenge: Option<[u8; CHALLENGE_LEN]>,
}

/// Why no challenge could be issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// The random number generator failed.
    #[error("random number generator failed")]
    Random,
}

impl Challenges {
    /// Challenges valid for `ttl` by `clock`, at most `capacity` outstanding and at most
    /// `per_address` of them for one client address.
    pub fn new(ttl: Duration, capacity: usize, per_address: usize, clock: SharedClock) -> Self {
        Challenges {
            table: Mutex::new(ChallengeTable::default()),
            ttl,
            capacity: capacity.max(1),
            per_address: per_address.max(1),
            clock,
        }
    }

    /// A fresh challenge for `device`, asked from `address`.
    pub fn issue(
        &self,
        device: DeviceId,
        address: AddressKey,
        rng: &dyn SecureRandom,
    ) -> Result<Issued, ChallengeError> {
        let challenge =
            holdfast_protocol::new_challenge(rng).map_err(|_| ChallengeError::Random)?;
        let now_ms = self.clock.now_ms();
        let mut table = self.lock();
        table.purge(now_ms, self.ttl);
        let own = table.by_address.get(&address).map_or(0, VecDeque::len);
        let replaced = if own >= self.per_address {
            table
                .by_address
                .get(&address)
                .and_then(|s| s.front().copied())
        } else if table.pending.len() >= self.capacity {
            table.by_age.first_key_value().map(|(serial, _)| *serial)
        } else {
            None
        };
        let replaced_challenge = replaced.and_then(|serial| table.by_age.get(&serial).copied());
        if let Some(serial) = replaced {
            table.remove_serial(serial);
            table.evicted = table.evicted.saturating_add(1);
        }
        let replaced = replaced.is_some();
        let serial = table.next_serial;
        table.next_serial = serial.saturating_add(1);
        table.pending.insert(
            challenge,
            Pending {
                device,
                address,
                serial,
                issued_ms: now_ms,
            },
        );
        table.by_age.insert(serial, challenge);
        table
            .by_address
            .entry(address)
            .or_default()
            .push_back(serial);
        Ok(Issued {
            challenge,
            replaced,
            replaced_challenge,
        })
    }

    /// Uses up `challenge`: true if it was issued to `device` and has not expired. A
    /// challenge can be tried once, whatever the outcome.
    pub fn redeem(&self, challenge: &[u8; CHALLENGE_LEN], device: DeviceId) -> bool {
        let taken = self.lock().remove(challenge);
        taken.is_some_and(|p| p.device == device && p.is_live(self.clock.now_ms(), self.ttl))
    }

    /// Uses up `challenge` as a database shared by several relays recorded it (`recorded`:
    /// the device it was issued to, taken from the database, which hands it out once and
    /// only within its lifetime by the database's clock): true if it was issued to
    /// `device`. This relay's own copy, if it issued it, goes too.
    pub fn redeem_recorded(
        &self,
        challenge: &[u8; CHALLENGE_LEN],
        recorded: Option<DeviceId>,
        device: DeviceId,
    ) -> bool {
        self.lock().remove(challenge);
        recorded == Some(device)
    }

    /// The challenge lifetime.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Challenges outstanding (some may have expired and not been dropped yet).
    pub fn len(&self) -> usize {
        self.lock().pending.len()
    }

    /// Challenges replaced by newer ones before they were answered or expired.
    #[cfg(test)]
    fn evicted(&self) -> u64 {
        self.lock().evicted
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ChallengeTable> {
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The device a request's bearer token was issued to (`401 unauthorized` otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authenticated(pub DeviceId);

impl<S: Storage> FromRequestParts<AppState<S>> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState<S>) -> Result<Self, ApiError> {
        bearer(parts, state).map(|(device, _)| Authenticated(device))
    }
}

/// The device of the request's bearer token and when the token expires.
fn bearer<S: Storage>(parts: &Parts, state: &AppState<S>) -> Result<(DeviceId, u64), ApiError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer token"))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::unauthorized("Authorization must be `Bearer <token>`"))?;
    let (device, expires_ms) = state
        .tokens()
        .verify_until(token.trim(), state.now_ms())
        .map_err(|e| ApiError::unauthorized(e.to_string()))?;
    tracing::Span::current().record("device", tracing::field::display(device));
    Ok((device, expires_ms))
}

/// An authenticated, rate-limited, active member of the team named in the URL
/// (`401`, `429` or `403` otherwise, in that order), with the team's log as of this request.
#[derive(Debug, Clone)]
pub struct TeamMember {
    /// The team in the URL.
    pub team: TeamId,
    /// The device.
    pub device: DeviceId,
    /// Its role in the team.
    pub role: Role,
    /// Its public key (to check its push batches and key bundles with).
    pub public_key: PublicKey,
    /// For a patient: the one plan it may read and write.
    pub plan: Option<DocumentId>,
    /// The invite it redeemed (none for the team's creator).
    pub invite: Option<InviteId>,
    /// The team's membership log and its fold.
    pub log: Arc<TeamLog>,
    /// When the request's bearer token expires, in ms since the epoch (a live socket
    /// closes then).
    pub token_expires_ms: u64,
}

impl TeamMember {
    /// Admin, supervisor or link worker.
    pub fn is_staff(&self) -> bool {
        self.role.is_staff()
    }

    /// `403 not_allowed` unless the caller is staff.
    pub fn require_staff(&self, what: &str) -> Result<(), ApiError> {
        if self.is_staff() {
            Ok(())
        } else {
            Err(ApiError::not_allowed(format!(
                "a patient device cannot {what}"
            )))
        }
    }
}

impl<S: Storage> FromRequestParts<AppState<S>> for TeamMember {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState<S>) -> Result<Self, ApiError> {
        let (device, token_expires_ms) = bearer(parts, state)?;
        let UrlPath(params) =
            UrlPath::<HashMap<String, String>>::from_request_parts(parts, state).await?;
        let team: TeamId = params
            .get("team")
            .ok_or_else(|| ApiError::bad_request("no team in the path"))?
            .parse()
            .map_err(|e| ApiError::bad_request(format!("team: {e}")))?;
        state.rate_limit(device)?;
        let log = state.members().get(state.storage(), team).await?;
        let member = log.as_ref().and_then(|log| {
            log.state
                .active(&device)
                .map(|m| (m.role, m.sign_key, m.plan, m.invite))
        });
        match (member, log) {
            (Some((role, public_key, plan, invite)), Some(log)) => Ok(TeamMember {
                team,
                device,
                role,
                public_key,
                plan,
                invite,
                log,
                token_expires_ms,
            }),
            // A device the log shows as revoked is told so (it cannot pull the entry that
            // says it: every route refuses it); any other stranger, or a team this relay
            // does not know, gets the same plain refusal.
            (None, Some(log))
                if log
                    .state
                    .devices
                    .get(&device)
                    .is_some_and(|m| !m.is_active()) =>
            {
                Err(ApiError::revoked(format!(
                    "device {device} was revoked from team {team}"
                )))
            }
            _ => Err(ApiError::forbidden(format!(
                "device {device} is not an active member of team {team}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use holdfast_protocol::{ManualClock, SystemRandom};

    use super::*;

    #[test]
    fn tokens_verify_until_they_expire_and_not_after_tampering() {
        let key = TokenKey::from_bytes(&[7; 32]);
        let device = DeviceId([3; 16]);
        let token = key.issue(device, 10_000);
        assert_eq!(key.verify(&token, 9_999), Ok(device));
        assert_eq!(key.verify(&token, 10_000), Err(TokenError::Expired));

        // Flip one character of the encoded body: the MAC no longer matches.
        let mut chars: Vec<char> = token.chars().collect();
        let i = TOKEN_PREFIX.len() + 3;
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert_eq!(key.verify(&tampered, 0), Err(TokenError::Invalid));

        let other = TokenKey::from_bytes(&[8; 32]);
        assert_eq!(other.verify(&token, 0), Err(TokenError::Invalid));
        for junk in [
            "",
            "hft1.",
            "hft1.!!!!",
            "Bearer x",
            &token[..token.len() - 2],
        ] {
            assert!(key.verify(junk, 0).is_err(), "{junk:?}");
        }
        assert_eq!(format!("{key:?}"), "TokenKey(..)");
    }

    #[test]
    fn the_token_key_is_created_once_with_mode_0600_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TOKEN_KEY_FILE);
        let rng = SystemRandom::new();
        let first = TokenKey::load_or_create(&path, &rng).unwrap();
        let token = first.issue(DeviceId([1; 16]), u64::MAX);
        let again = TokenKey::load_or_create(&path, &rng).unwrap();
        assert_eq!(again.verify(&token, 0), Ok(DeviceId([1; 16])));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, b"short").unwrap();
        assert!(TokenKey::load_or_create(&path, &rng).is_err());
    }

    fn address(n: u8) -> AddressKey {
        AddressKey::of(std::net::IpAddr::from([192, 0, 2, n]))
    }

    #[test]
    fn a_challenge_is_for_one_device_and_one_use() {
        let rng = SystemRandom::new();
        let clock = ManualClock::at(1_000_000);
        let challenges = Challenges::new(Duration::from_secs(60), 2, 2, Arc::new(clock));
        let (a, b, here) = (DeviceId([1; 16]), DeviceId([2; 16]), address(1));
        let c1 = challenges.issue(a, here, &rng).unwrap().challenge;
        assert!(challenges.redeem(&c1, a));
        assert!(!challenges.redeem(&c1, a), "used twice");
        let c2 = challenges.issue(a, here, &rng).unwrap().challenge;
        assert!(!challenges.redeem(&c2, b), "another device");
        assert!(!challenges.redeem(&c2, a), "a failed try uses it up");
        assert_eq!(challenges.len(), 0);
        assert_eq!(challenges.evicted(), 0);
    }

    #[test]
    fn a_flood_from_one_address_replaces_only_its_own_challenges() {
        let rng = SystemRandom::new();
        let clock = ManualClock::at(1_000_000);
        let challenges = Challenges::new(Duration::from_secs(60), 100, 4, Arc::new(clock));
        let (alice, bob) = (DeviceId([1; 16]), DeviceId([2; 16]));
        let alices = challenges.issue(alice, address(1), &rng).unwrap().challenge;
        let flood: Vec<_> = (0..1_000u32)
            .map(|i| {
                let device = DeviceId([(i % 251) as u8; 16]);
                (
                    device,
                    challenges
                        .issue(device, address(2), &rng)
                        .unwrap()
                        .challenge,
                )
            })
            .collect();
        assert_eq!(challenges.len(), 1 + 4, "the flood keeps its share");
        assert_eq!(challenges.evicted(), 996);
        let bobs = challenges.issue(bob, address(3), &rng).unwrap().challenge;
        assert!(challenges.redeem(&alices, alice), "issued before the flood");
        assert!(challenges.redeem(&bobs, bob), "issued during it");
        // The flood's newest four are still answerable; its older ones are gone.
        let (oldest, newest) = (flood[0], flood[999]);
        assert!(!challenges.redeem(&oldest.1, oldest.0));
        assert!(challenges.redeem(&newest.1, newest.0));
    }

    #[test]
    fn a_full_table_replaces_its_oldest_challenge() {
        let rng = SystemRandom::new();
        let clock = ManualClock::at(1_000_000);
        let challenges = Challenges::new(Duration::from_secs(60), 3, 3, Arc::new(clock));
        let a = DeviceId([1; 16]);
        let first = challenges.issue(a, address(1), &rng).unwrap().challenge;
        let second = challenges.issue(a, address(2), &rng).unwrap().challenge;
        let third = challenges.issue(a, address(3), &rng).unwrap().challenge;
        let fourth = challenges.issue(a, address(4), &rng).unwrap().challenge;
        assert_eq!(challenges.len(), 3);
        assert!(!challenges.redeem(&first, a), "the oldest made room");
        for c in [second, third, fourth] {
            assert!(challenges.redeem(&c, a));
        }
    }

    #[test]
    fn a_challenge_expires_after_its_lifetime_by_the_clock() {
        let rng = SystemRandom::new();
        let clock = ManualClock::at(1_000_000);
        let challenges = Challenges::new(Duration::from_secs(60), 2, 2, Arc::new(clock.clone()));
        let (a, here) = (DeviceId([1; 16]), address(1));
        let in_time = challenges.issue(a, here, &rng).unwrap().challenge;
        let late = challenges.issue(a, here, &rng).unwrap().challenge;
        clock.advance(Duration::from_millis(59_999));
        assert!(challenges.redeem(&in_time, a), "answered just in time");
        clock.advance(Duration::from_millis(1));
        assert!(!challenges.redeem(&late, a), "answered a millisecond late");

        // Expired challenges are dropped as new ones come in, without counting as evicted.
        challenges.issue(a, here, &rng).unwrap();
        challenges.issue(a, here, &rng).unwrap();
        clock.advance(Duration::from_secs(60));
        let fresh = challenges.issue(a, here, &rng).unwrap().challenge;
        assert_eq!(challenges.len(), 1);
        assert_eq!(challenges.evicted(), 0);
        assert!(challenges.redeem(&fresh, a));

        // A wall clock set back makes a challenge expire rather than live longer.
        let set_back = challenges.issue(a, here, &rng).unwrap().challenge;
        clock.set(1_000_000);
        assert!(!challenges.redeem(&set_back, a));
    }
}

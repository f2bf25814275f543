//! Who may create teams on a relay: the operator's say.
//!
//! Creating a team needs no device token (the device is on no roster yet), so without a
//! rule anyone who reaches a relay could create teams, each a place to store what they
//! like. The operator chooses:
//!
//! - `open`: anyone who reaches the relay. For local development, and the default for a
//!   relay reached on a loopback address, so `cargo run -p holdfast-relay` needs nothing
//!   else.
//! - `token`: only a request carrying one of the operator's team-creation tokens
//!   (`--team-creation-token`, or `HOLDFAST_RELAY_TEAM_CREATION_TOKENS`, comma-separated).
//!   The default as soon as a token is set. A relay reached on any other address must say
//!   which it is, or it refuses to start.
//!
//! A token is a secret the operator makes (`openssl rand -hex 32`) and hands to a
//! practice's admin out of band (in person, or read out over the phone); the admin gives it
//! once, to `holdfast team create --creation-token`. It lets its holder create teams, and
//! nothing else: it reads nothing, and the teams it creates are as empty as any. One token
//! per practice lets the operator withdraw one practice's without touching the others
//! (remove it, restart). The relay keeps only each token's SHA-256.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use ring::digest;

/// Who may create teams (the `--team-creation` flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TeamCreation {
    /// Anyone who reaches the relay (local development).
    Open,
    /// Only with one of the operator's team-creation tokens.
    Token,
}

/// Shortest team-creation token accepted: 32 characters (`openssl rand -hex 16`, 128 bits).
pub const MIN_TOKEN_LEN: usize = 32;

/// A team-creation token, as the operator configured it. Debug output never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct CreationToken(String);

impl CreationToken {
    /// The token as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CreationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CreationToken(..)")
    }
}

impl FromStr for CreationToken {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.len() < MIN_TOKEN_LEN {
            return Err(format!(
                "a team-creation token must be at least {MIN_TOKEN_LEN} characters (make one with `openssl rand -hex 32`)"
            ));
        }
        if !s.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
            return Err(
                "a team-creation token is printable ASCII without spaces or commas".to_owned(),
            );
        }
        Ok(CreationToken(s.to_owned()))
    }
}

/// The rule in force, resolved from the configuration.
#[derive(Clone, PartialEq, Eq)]
pub enum TeamCreationPolicy {
    /// Anyone may create a team.
    Open,
    /// A team needs one of these tokens (their SHA-256).
    Token(HashSet<[u8; 32]>),
}

impl fmt::Debug for TeamCreationPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TeamCreationPolicy::Open => f.write_str("Open"),
            TeamCreationPolicy::Token(tokens) => write!(f, "Token({} tokens)", tokens.len()),
        }
    }
}

/// Why a team may not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CreationRefused {
    /// The relay needs a token and the request carries none.
    #[error(
        "this relay creates teams only with a team-creation token from its operator (`creation_token`)"
    )]
    Missing,
    /// The request carries a token the relay does not accept.
    #[error("the team-creation token is not one this relay accepts")]
    Wrong,
}

impl TeamCreationPolicy {
    /// The policy for `mode` and `tokens`, on a relay reached at `origin`; `Err` says why the
    /// configuration cannot stand (the relay refuses to start).
    pub fn resolve(
        mode: Option<TeamCreation>,
        tokens: &[CreationToken],
        origin: &str,
    ) -> Result<Self, String> {
        let hashed = || {
            tokens
                .iter()
                .map(|t| hash(t.as_str()))
                .collect::<HashSet<_>>()
        };
        match (mode, tokens.is_empty()) {
            (Some(TeamCreation::Open), true) => Ok(TeamCreationPolicy::Open),
            (Some(TeamCreation::Open), false) => Err(
                "--team-creation open and a --team-creation-token do not go together: drop one"
                    .to_owned(),
            ),
            (Some(TeamCreation::Token), true) => Err(
                "--team-creation token needs at least one --team-creation-token (or HOLDFAST_RELAY_TEAM_CREATION_TOKENS)"
                    .to_owned(),
            ),
            (Some(TeamCreation::Token) | None, false) => Ok(TeamCreationPolicy::Token(hashed())),
            (None, true) if is_loopback_origin(origin) => Ok(TeamCreationPolicy::Open),
            (None, true) => Err(format!(
                "this relay is reached at {origin}: say who may create teams on it, with \
                 --team-creation-token (or HOLDFAST_RELAY_TEAM_CREATION_TOKENS) for the tokens you \
                 give practices' admins, or --team-creation open to let anyone who reaches it"
            )),
        }
    }

    /// Whether a request with `token` (if any) may create a team.
    pub fn check(&self, token: Option<&str>) -> Result<(), CreationRefused> {
        match self {
            TeamCreationPolicy::Open => Ok(()),
            TeamCreationPolicy::Token(tokens) => {
                let token = token.ok_or(CreationRefused::Missing)?;
                if tokens.contains(&hash(token.trim())) {
                    Ok(())
                } else {
                    Err(CreationRefused::Wrong)
                }
            }
        }
    }

    /// How it reads in the start-up log.
    pub fn describe(&self) -> String {
        match self {
            TeamCreationPolicy::Open => "open (anyone who reaches the relay)".to_owned(),
            TeamCreationPolicy::Token(tokens) => {
                format!("with a team-creation token ({} configured)", tokens.len())
            }
        }
    }
}

/// SHA-256 of a token. Looking the hash up in a set leaks, through timing, at most which
/// hashes are near the presented one's: nothing about a token.
fn hash(token: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
    out
}

/// Whether `origin` (`http://host:port`) names this machine: `localhost`, 127/8 or `::1`.
pub fn is_loopback_origin(origin: &str) -> bool {
    let rest = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(s: &str) -> CreationToken {
        s.parse().unwrap()
    }

    const T1: &str = "0123456789abcdef0123456789abcdef";
    const T2: &str = "fedcba9876543210fedcba9876543210";

    #[test]
    fn loopback_origins_are_told_from_the_others() {
        for origin in [
            "http://127.0.0.1:7878",
            "http://127.0.0.2",
            "http://localhost:7878/",
            "http://[::1]:7878",
            "https://user@LOCALHOST",
        ] {
            assert!(is_loopback_origin(origin), "{origin}");
        }
        for origin in [
            "http://0.0.0.0:7878",
            "https://relay.example.org",
            "http://192.168.1.5:7878",
            "http://[2001:db8::1]:7878",
            "http://localhost.example.org",
        ] {
            assert!(!is_loopback_origin(origin), "{origin}");
        }
    }

    #[test]
    fn the_default_is_open_on_loopback_and_a_choice_elsewhere() {
        let local = "http://127.0.0.1:7878";
        let public = "https://relay.example.org";
        assert_eq!(
            TeamCreationPolicy::resolve(None, &[], local),
            Ok(TeamCreationPolicy::Open)
        );
        let err = TeamCreationPolicy::resolve(None, &[], public).unwrap_err();
        assert!(err.contains("--team-creation-token"), "{err}");
        assert_eq!(
            TeamCreationPolicy::resolve(Some(TeamCreation::Open), &[], public),
            Ok(TeamCreationPolicy::Open)
        );
        // A token alone means tokens, wherever the relay is.
        let policy = TeamCreationPolicy::resolve(None, &[token(T1)], local).unwrap();
        assert!(matches!(policy, TeamCreationPolicy::Token(_)));
        assert!(TeamCreationPolicy::resolve(Some(TeamCreation::Token), &[], local).is_err());
        assert!(
            TeamCreationPolicy::resolve(Some(TeamCreation::Open), &[token(T1)], local).is_err()
        );
    }

    #[test]
    fn only_a_configured_token_creates_a_team() {
        let policy = TeamCreationPolicy::resolve(
            Some(TeamCreation::Token),
            &[token(T1), token(T2)],
            "https://relay.example.org",
        )
        .unwrap();
        assert_eq!(policy.check(Some(T1)), Ok(()));
        assert_eq!(policy.check(Some(T2)), Ok(()));
        assert_eq!(policy.check(None), Err(CreationRefused::Missing));
        assert_eq!(policy.check(Some(&T1[..31])), Err(CreationRefused::Wrong));
        assert_eq!(TeamCreationPolicy::Open.check(None), Ok(()));
        assert_eq!(format!("{policy:?}"), "Token(2 tokens)");
        assert_eq!(format!("{:?}", token(T1)), "CreationToken(..)");
    }

    #[test]
    fn short_or_odd_tokens_are_refused() {
        assert!("short".parse::<CreationToken>().is_err());
        assert!(format!("{T1} x").parse::<CreationToken>().is_err());
        assert!(format!("{T1},x").parse::<CreationToken>().is_err());
        assert_eq!(format!(" {T1} ").parse::<CreationToken>(), Ok(token(T1)));
    }
}

//! The relay's settings: command-line flags, each with an environment variable.
//!
//! `holdfast-relay` with no arguments serves on 127.0.0.1:7878 with its data in
//! `./holdfast-data`. Every flag also reads `HOLDFAST_RELAY_<NAME>`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use holdfast_protocol::{
    MAX_BATCH, MAX_ENVELOPE, MAX_PAGE_BYTES, MAX_PUSH_BYTES, MIN_ENVELOPE, PAGE_HEADER_LEN,
    PAGE_ITEM_OVERHEAD, SharedClock, system_clock,
};

use crate::error::{Error, Result};
use crate::storage::TeamQuota;
use crate::team_creation::{CreationToken, TeamCreation, TeamCreationPolicy};

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./holdfast-data";

/// How log lines are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Everything the relay can be told at start-up.
///
/// Not `PartialEq`: the clock is a trait object. Compare [`Limits`] and the other fields.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "holdfast-relay",
    version,
    about = "The Holdfast relay: stores and forwards end-to-end encrypted envelopes it cannot read."
)]
pub struct Config {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "HOLDFAST_RELAY_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,

    /// Directory for the database and the token key (created with mode 0700).
    #[arg(long, env = "HOLDFAST_RELAY_DATA", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,

    /// Where the relay keeps its data: unset, the embedded SQLite file `relay.db` in
    /// --data-dir; a PostgreSQL URL (`postgres://user:password@host:5432/database`), which
    /// several relays may share. Prefer the environment variable: it keeps the password out
    /// of the process list.
    #[arg(
        long,
        env = "HOLDFAST_RELAY_DATABASE",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database: Option<DatabaseUrl>,

    /// The relay's public origin, as devices reach it (e.g. `https://relay.example.org`).
    /// Devices sign it into their login answers; defaults to `http://<listen address>`.
    #[arg(long, env = "HOLDFAST_RELAY_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Log format.
    #[arg(long, env = "HOLDFAST_RELAY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Who may create teams: `open` (anyone who reaches the relay) or `token` (only with a
    /// --team-creation-token). Default: `token` once a token is set; otherwise `open` for a
    /// relay reached on loopback, and a relay reached elsewhere refuses to start until you
    /// choose.
    #[arg(long, env = "HOLDFAST_RELAY_TEAM_CREATION", value_enum)]
    pub team_creation: Option<TeamCreation>,

    /// A team-creation token to hand a practice's admin (at least 32 characters:
    /// `openssl rand -hex 32`). Repeat the flag for several; the environment variable takes
    /// a comma-separated list, and keeps them out of the process list.
    #[arg(
        long = "team-creation-token",
        env = "HOLDFAST_RELAY_TEAM_CREATION_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub team_creation_tokens: Vec<CreationToken>,

    /// Serve HTTPS and WSS with this certificate chain (PEM, leaf first; for a CA of your
    /// own, end with the CA's certificate, which devices pin). With --tls-key. Reloaded on
    /// SIGHUP. Without both: plain HTTP (on loopback, or behind a TLS proxy).
    #[arg(long, env = "HOLDFAST_RELAY_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of the --tls-cert leaf (PEM). Reloaded on SIGHUP.
    #[arg(long, env = "HOLDFAST_RELAY_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Limits and timeouts.
    #[command(flatten)]
    pub limits: Limits,

    /// The clock the relay reads "now" from: token and login-challenge lifetimes, invite
    /// expiry, the freshness of signed timestamps, rate-limit refills, the membership
    /// cache's expiry. The system clock; tests and simulations set a
    /// [`ManualClock`](holdfast_protocol::ManualClock) to move time instead of sleeping.
    /// Not a flag.
    #[arg(skip = system_clock())]
    pub clock: SharedClock,
}

/// Limits and timeouts.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct Limits {
    /// Largest request body, in bytes (a push batch is at most 32 MiB).
    #[arg(long, env = "HOLDFAST_RELAY_MAX_BODY_BYTES", default_value_t = MAX_PUSH_BYTES)]
    pub max_body_bytes: usize,

    /// Most envelopes in one push batch (at most 1,000).
    #[arg(long, env = "HOLDFAST_RELAY_MAX_BATCH_ENVELOPES", default_value_t = MAX_BATCH)]
    pub max_batch_envelopes: usize,

    /// Largest envelope, in bytes (at most 4,194,449).
    #[arg(long, env = "HOLDFAST_RELAY_MAX_ENVELOPE_BYTES", default_value_t = MAX_ENVELOPE)]
    pub max_envelope_bytes: usize,

    /// Envelopes one team may hold (0: no limit). A push past it is refused whole with
    /// `413 team_quota_exceeded`; envelopes the team already holds do not count again.
    #[arg(
        long,
        env = "HOLDFAST_RELAY_TEAM_QUOTA_ENVELOPES",
        default_value_t = 10_000_000
    )]
    pub team_quota_envelopes: u64,

    /// Bytes of envelopes one team may hold (0: no limit), refused the same way.
    #[arg(long, env = "HOLDFAST_RELAY_TEAM_QUOTA_BYTES", default_value_t = 4 << 30)]
    pub team_quota_bytes: u64,

    /// Envelopes in a pull page when the request gives no `limit`.
    #[arg(
        long,
        env = "HOLDFAST_RELAY_DEFAULT_PULL_LIMIT",
        default_value_t = 1000
    )]
    pub default_pull_limit: usize,

    /// Most envelopes in one pull page (a larger `limit` is lowered to this).
    #[arg(long, env = "HOLDFAST_RELAY_MAX_PULL_LIMIT", default_value_t = 10_000)]
    pub max_pull_limit: usize,

    /// Largest pull page, in bytes (one envelope is always served, whatever its size).
    #[arg(long, env = "HOLDFAST_RELAY_MAX_PAGE_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub max_page_bytes: usize,

    /// Requests per second each device may make, on average (0: no limit). A device
    /// following its team live makes at most 100 light pushes a second however fast it
    /// edits, plus a pull for each announcement of others' pushes: 200 leaves it room.
    #[arg(long, env = "HOLDFAST_RELAY_RATE_LIMIT", default_value_t = 200.0)]
    pub rate_limit_per_second: f64,

    /// Requests a device may make in a burst above the average.
    #[arg(long, env = "HOLDFAST_RELAY_RATE_BURST", default_value_t = 400)]
    pub rate_limit_burst: u32,

    /// Requests per second one client address may make, on average, to the routes that
    /// need no token: login challenges and answers, invite lookups and redeems, team
    /// creation (0: no limit). An IPv6 address counts by its /64.
    #[arg(
        long,
        env = "HOLDFAST_RELAY_ADDRESS_RATE_LIMIT",
        default_value_t = 10.0
    )]
    pub address_rate_per_second: f64,

    /// Requests one client address may make to those routes in a burst above the average
    /// (a practice's devices behind one NAT logging in together).
    #[arg(long, env = "HOLDFAST_RELAY_ADDRESS_RATE_BURST", default_value_t = 200)]
    pub address_rate_burst: u32,

    /// Teams one client address may create per hour, in a burst of as many (0: no limit).
    /// Refused attempts count too.
    #[arg(
        long,
        env = "HOLDFAST_RELAY_TEAM_CREATIONS_PER_HOUR",
        default_value_t = 20
    )]
    pub team_creations_per_hour: u32,

    /// Reverse proxies (a TLS terminator) whose `X-Forwarded-For` is believed: requests
    /// from these addresses count under the client address the proxy names. Repeat the
    /// flag, or give a comma-separated list. Without it, every request behind a proxy
    /// counts under the proxy's address.
    #[arg(
        long = "trusted-proxy",
        env = "HOLDFAST_RELAY_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<IpAddr>,

    /// How long a bearer token is valid, in seconds.
    #[arg(long, env = "HOLDFAST_RELAY_TOKEN_TTL", default_value_t = 3600)]
    pub token_ttl_secs: u64,

    /// How long a login challenge may be answered, in seconds.
    #[arg(long, env = "HOLDFAST_RELAY_CHALLENGE_TTL", default_value_t = 60)]
    pub challenge_ttl_secs: u64,

    /// Login challenges outstanding at once, across all clients; past this a new one
    /// replaces the oldest.
    #[arg(long, env = "HOLDFAST_RELAY_MAX_CHALLENGES", default_value_t = 100_000)]
    pub max_challenges: usize,

    /// Login challenges one client address may have outstanding; past this its new one
    /// replaces its oldest (so a flood from one address cannot push out anyone else's).
    #[arg(
        long,
        env = "HOLDFAST_RELAY_MAX_CHALLENGES_PER_ADDRESS",
        default_value_t = 64
    )]
    pub max_challenges_per_address: usize,

    /// How far a signed timestamp (push batch, membership entry: team creation, redeem and
    /// every append) may be from the relay's clock, in seconds.
    #[arg(long, env = "HOLDFAST_RELAY_MAX_CLOCK_SKEW", default_value_t = 600)]
    pub max_clock_skew_secs: u64,

    /// Connections open at once (HTTP and live WebSockets); past this the relay stops
    /// accepting until one closes. Give the process a file-descriptor limit above it.
    #[arg(long, env = "HOLDFAST_RELAY_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Connections one client address may hold (an IPv6 /64 counts as one); one more is
    /// closed at once. Trusted proxies are exempt.
    #[arg(
        long,
        env = "HOLDFAST_RELAY_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 256
    )]
    pub max_connections_per_address: usize,

    /// Live WebSockets one device may hold at once (one per team it follows); one more is
    /// refused with `429 too_many_sockets`.
    #[arg(
        long,
        env = "HOLDFAST_RELAY_MAX_LIVE_SOCKETS_PER_DEVICE",
        default_value_t = 8
    )]
    pub max_live_sockets_per_device: usize,

    /// How long a client has to send a request's headers, in seconds; a kept-alive
    /// connection idle this long between requests is closed too.
    #[arg(long, env = "HOLDFAST_RELAY_HEADER_READ_TIMEOUT", default_value_t = 10)]
    pub header_read_timeout_secs: u64,

    /// How long one request may take, in seconds (WebSockets excepted).
    #[arg(long, env = "HOLDFAST_RELAY_REQUEST_TIMEOUT", default_value_t = 60)]
    pub request_timeout_secs: u64,

    /// On SIGTERM/SIGINT, how long in-flight requests get to finish, in seconds.
    #[arg(long, env = "HOLDFAST_RELAY_SHUTDOWN_TIMEOUT", default_value_t = 10)]
    pub shutdown_timeout_secs: u64,

    /// Read-only database connections (concurrent reads).
    #[arg(long, env = "HOLDFAST_RELAY_READ_CONNECTIONS", default_value_t = 4)]
    pub read_connections: usize,

    /// Connections to PostgreSQL (with --database postgres://…) in the pool: requests using
    /// the database at once. One more listens for other relays' commits. Keep the sum over
    /// every relay below the server's `max_connections`.
    #[arg(
        long,
        env = "HOLDFAST_RELAY_DATABASE_POOL_SIZE",
        default_value_t = crate::storage::postgres::DEFAULT_POOL_SIZE
    )]
    pub database_pool_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: MAX_PUSH_BYTES,
            max_batch_envelopes: MAX_BATCH,
            max_envelope_bytes: MAX_ENVELOPE,
            team_quota_envelopes: 10_000_000,
            team_quota_bytes: 4 << 30,
            default_pull_limit: 1000,
            max_pull_limit: 10_000,
            max_page_bytes: 8 * 1024 * 1024,
            rate_limit_per_second: 200.0,
            rate_limit_burst: 400,
            address_rate_per_second: 10.0,
            address_rate_burst: 200,
            team_creations_per_hour: 20,
            trusted_proxies: Vec::new(),
            token_ttl_secs: 3600,
            challenge_ttl_secs: 60,
            max_challenges: 100_000,
            max_challenges_per_address: 64,
            max_clock_skew_secs: 600,
            max_connections: 10_000,
            max_connections_per_address: 256,
            max_live_sockets_per_device: 8,
            header_read_timeout_secs: 10,
            request_timeout_secs: 60,
            shutdown_timeout_secs: 10,
            read_connections: 4,
            database_pool_size: crate::storage::postgres::DEFAULT_POOL_SIZE,
        }
    }
}

impl Config {
    /// The defaults, with data in `data_dir`, listening on a free loopback port (what
    /// tests and embedders want; the binary's defaults come from the flags).
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.into(),
            database: None,
            public_url: None,
            log_format: LogFormat::Text,
            team_creation: None,
            team_creation_tokens: Vec::new(),
            tls_cert: None,
            tls_key: None,
            limits: Limits::default(),
            clock: system_clock(),
        }
    }

    /// Checks every setting is in range.
    pub fn validate(&self) -> Result<()> {
        let l = &self.limits;
        let check = |ok: bool, what: &str| {
            if ok {
                Ok(())
            } else {
                Err(Error::Config(what.to_owned()))
            }
        };
        check(
            (1..=MAX_BATCH).contains(&l.max_batch_envelopes),
            "--max-batch-envelopes must be 1..=1000",
        )?;
        check(
            (MIN_ENVELOPE..=MAX_ENVELOPE).contains(&l.max_envelope_bytes),
            "--max-envelope-bytes must be 161..=4194449",
        )?;
        check(l.max_body_bytes >= 1, "--max-body-bytes must be at least 1")?;
        check(
            l.default_pull_limit >= 1 && l.default_pull_limit <= l.max_pull_limit,
            "--default-pull-limit must be 1..=--max-pull-limit",
        )?;
        check(
            (PAGE_HEADER_LEN + PAGE_ITEM_OVERHEAD + MIN_ENVELOPE..=MAX_PAGE_BYTES)
                .contains(&l.max_page_bytes),
            "--max-page-bytes must be 190..=33554432",
        )?;
        check(
            l.rate_limit_per_second.is_finite() && l.rate_limit_per_second >= 0.0,
            "--rate-limit-per-second must be 0 or more",
        )?;
        check(
            l.rate_limit_per_second == 0.0 || l.rate_limit_burst >= 1,
            "--rate-limit-burst must be at least 1",
        )?;
        check(
            l.address_rate_per_second.is_finite() && l.address_rate_per_second >= 0.0,
            "--address-rate-per-second must be 0 or more",
        )?;
        check(
            l.address_rate_per_second == 0.0 || l.address_rate_burst >= 1,
            "--address-rate-burst must be at least 1",
        )?;
        check(l.token_ttl_secs >= 1, "--token-ttl-secs must be at least 1")?;
        check(
            l.challenge_ttl_secs >= 1,
            "--challenge-ttl-secs must be at least 1",
        )?;
        check(
            l.max_challenges >= 1 && l.max_challenges_per_address >= 1,
            "--max-challenges and --max-challenges-per-address must be at least 1",
        )?;
        check(
            l.max_connections >= 1 && l.max_connections_per_address >= 1,
            "--max-connections and --max-connections-per-address must be at least 1",
        )?;
        check(
            l.max_live_sockets_per_device >= 1,
            "--max-live-sockets-per-device must be at least 1",
        )?;
        check(
            l.header_read_timeout_secs >= 1,
            "--header-read-timeout-secs must be at least 1",
        )?;
        check(
            l.request_timeout_secs >= 1,
            "--request-timeout-secs must be at least 1",
        )?;
        check(
            l.read_connections >= 1,
            "--read-connections must be at least 1",
        )?;
        check(
            l.database_pool_size >= 1,
            "--database-pool-size must be at least 1",
        )?;
        check(
            self.tls_cert.is_some() == self.tls_key.is_some(),
            "--tls-cert and --tls-key go together",
        )?;
        if let Some(url) = &self.public_url {
            check(
                !url.is_empty() && url.len() <= holdfast_protocol::MAX_ORIGIN_LEN,
                "--public-url must be 1 to 65,535 bytes",
            )?;
            check_origin(url)?;
        }
        self.team_creation_policy()?;
        Ok(())
    }

    /// Who may create teams, from `--team-creation` and the tokens (see
    /// [`crate::team_creation`]); judged on the public URL, or the listen address.
    pub fn team_creation_policy(&self) -> Result<TeamCreationPolicy> {
        let origin = self
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen));
        TeamCreationPolicy::resolve(self.team_creation, &self.team_creation_tokens, &origin)
            .map_err(Error::Config)
    }
}

/// A PostgreSQL URL (`postgres://` or `postgresql://`), for `--database`. Its `Debug` and
/// `Display` hide the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL, password included: for connecting, never for printing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = Error;

    fn from_str(url: &str) -> Result<Self> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Error::Config(
                "--database must be a PostgreSQL URL (postgres://user:password@host:5432/database); \
                 leave it unset for the embedded SQLite database in --data-dir"
                    .into(),
            ));
        }
        url.parse::<tokio_postgres::Config>()
            .map_err(|e| Error::Config(format!("--database is not a valid PostgreSQL URL: {e}")))?;
        Ok(DatabaseUrl(url.to_owned()))
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `scheme://user:password@host…`: the password is what lies between the first ':'
        // after the scheme and the last '@' of the authority.
        let (scheme, rest) = self.0.split_once("://").unwrap_or(("", &self.0));
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        match authority.rsplit_once('@') {
            Some((user_info, host)) if user_info.contains(':') => {
                let user = user_info.split(':').next().unwrap_or_default();
                write!(f, "{scheme}://{user}:***@{host}{}", redact_query(tail))
            }
            _ => write!(f, "{scheme}://{authority}{}", redact_query(tail)),
        }
    }
}

/// A URL's path and query with the value of a `password=` parameter hidden.
fn redact_query(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => param.to_owned(),
        })
        .collect();
    format!("{path}?{}", params.join("&"))
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// Devices sign the origin of the relay URL they were given, serialised as a browser would
/// (`https://relay.example.org`, lowercase, no default port, no path): logins answered for
/// any other spelling of it fail with 401 for every device. So `--public-url` must be
/// exactly that.
fn check_origin(url: &str) -> Result<()> {
    let parsed = url::Url::parse(url)
        .map_err(|e| Error::Config(format!("--public-url {url:?} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::Config(format!(
            "--public-url {url:?}: the scheme must be https (or http)"
        )));
    }
    let origin = parsed.origin().ascii_serialization();
    if origin != url {
        return Err(Error::Config(format!(
            "--public-url {url:?} is not written as devices write it: give {origin:?} \
             (scheme, host and port only; no path, no trailing slash, no default port)"
        )));
    }
    Ok(())
}

impl Config {
    /// The TLS files, when the relay terminates TLS itself.
    pub fn tls_files(&self) -> Option<crate::tls::TlsFiles> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(crate::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        }
    }
}

impl Limits {
    /// What each team may store.
    pub fn team_quota(&self) -> TeamQuota {
        TeamQuota {
            envelopes: self.team_quota_envelopes,
            bytes: self.team_quota_bytes,
        }
    }

    /// The token lifetime.
    pub fn token_ttl(&self) -> Duration {
        Duration::from_secs(self.token_ttl_secs)
    }

    /// The challenge lifetime.
    pub fn challenge_ttl(&self) -> Duration {
        Duration::from_secs(self.challenge_ttl_secs)
    }

    /// The accepted clock skew.
    pub fn max_clock_skew(&self) -> Duration {
        Duration::from_secs(self.max_clock_skew_secs)
    }

    /// The header-read timeout.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }

    /// The request timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// The shutdown drain timeout.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn no_arguments_means_port_7878_and_holdfast_data() {
        // Environment variables would change the defaults; none are set in tests.
        let config = Config::try_parse_from(["holdfast-relay"]).unwrap();
        assert_eq!(config.listen, DEFAULT_LISTEN.parse().unwrap());
        assert_eq!(config.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(config.limits, Limits::default());
        assert_eq!(config.log_format, LogFormat::Text);
        assert!(
            config.clock.now_ms() > 1_700_000_000_000,
            "the system clock"
        );
        config.validate().unwrap();
        Config::new("x").validate().unwrap();
    }

    #[test]
    fn flags_set_limits_and_bad_values_are_refused() {
        let config = Config::try_parse_from([
            "holdfast-relay",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--max-batch-envelopes",
            "5000",
        ])
        .unwrap();
        assert_eq!(config.log_format, LogFormat::Json);
        assert!(matches!(config.validate(), Err(Error::Config(m)) if m.contains("batch")));
    }

    #[test]
    fn a_relay_off_loopback_must_say_who_may_create_teams() {
        let public = [
            "holdfast-relay",
            "--public-url",
            "https://relay.example.org",
        ];
        let config = Config::try_parse_from(public).unwrap();
        assert!(
            matches!(config.validate(), Err(Error::Config(m)) if m.contains("--team-creation-token"))
        );
        let token = "0123456789abcdef0123456789abcdef";
        let config = Config::try_parse_from(
            public
                .iter()
                .copied()
                .chain(["--team-creation-token", token]),
        )
        .unwrap();
        config.validate().unwrap();
        assert!(matches!(
            config.team_creation_policy().unwrap(),
            TeamCreationPolicy::Token(t) if t.len() == 1
        ));
        assert!(!format!("{config:?}").contains(token), "tokens never print");
        let config =
            Config::try_parse_from(public.iter().copied().chain(["--team-creation", "open"]))
                .unwrap();
        assert_eq!(
            config.team_creation_policy().unwrap(),
            TeamCreationPolicy::Open
        );
        let listen_all = ["holdfast-relay", "--listen", "0.0.0.0:7878"];
        assert!(
            Config::try_parse_from(listen_all)
                .unwrap()
                .validate()
                .is_err()
        );
        assert!(
            Config::try_parse_from(["holdfast-relay", "--team-creation-token", "short"]).is_err()
        );
    }

    #[test]
    fn the_public_url_must_be_an_origin_as_devices_write_it() {
        let with = |url: &str| {
            let mut config = Config::new("x");
            config.public_url = Some(url.into());
            config.team_creation = Some(TeamCreation::Open);
            config.validate()
        };
        for good in [
            "https://relay.example.org",
            "https://relay.example.org:8443",
            "http://127.0.0.1:7878",
        ] {
            with(good).unwrap();
        }
        for (bad, hint) in [
            (
                "https://relay.example.org/",
                "\"https://relay.example.org\"",
            ),
            ("https://Relay.Example.org", "\"https://relay.example.org\""),
            (
                "https://relay.example.org:443",
                "\"https://relay.example.org\"",
            ),
            (
                "https://relay.example.org/holdfast",
                "\"https://relay.example.org\"",
            ),
            ("relay.example.org", "not a URL"),
            ("ftp://relay.example.org", "scheme"),
        ] {
            let err = with(bad).unwrap_err().to_string();
            assert!(err.contains(hint), "{bad}: {err}");
        }
    }

    #[test]
    fn the_database_is_sqlite_unless_a_postgres_url_is_given() {
        let config = Config::try_parse_from(["holdfast-relay"]).unwrap();
        assert_eq!(config.database, None);
        assert_eq!(config.limits.database_pool_size, 16);
        let url = "postgres://relay:s3cret@db.example.org:5432/holdfast?sslmode=disable";
        let config = Config::try_parse_from([
            "holdfast-relay",
            "--database",
            url,
            "--database-pool-size",
            "32",
        ])
        .unwrap();
        config.validate().unwrap();
        let database = config.database.as_ref().unwrap();
        assert_eq!(database.expose(), url);
        assert_eq!(config.limits.database_pool_size, 32);
        for printed in [format!("{config:?}"), database.to_string()] {
            assert!(!printed.contains("s3cret"), "{printed}");
            assert!(
                printed.contains("relay:***@db.example.org:5432/holdfast"),
                "{printed}"
            );
        }
        let in_query: DatabaseUrl = "postgresql://relay@db/holdfast?password=s3cret&user=relay"
            .parse()
            .unwrap();
        assert_eq!(
            in_query.to_string(),
            "postgresql://relay@db/holdfast?password=***&user=relay"
        );
        for bad in ["sqlite:relay.db", "mysql://db/holdfast", "relay.db", ""] {
            let err = Config::try_parse_from(["holdfast-relay", "--database", bad])
                .unwrap_err()
                .to_string();
            assert!(err.contains("PostgreSQL URL"), "{bad}: {err}");
        }
        let err = Config::try_parse_from(["holdfast-relay", "--database", "postgres://db:x/h"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a valid PostgreSQL URL"), "{err}");
        let mut none = Config::new("x");
        none.limits.database_pool_size = 0;
        assert!(matches!(none.validate(), Err(Error::Config(m)) if m.contains("pool")));
    }

    #[test]
    fn tls_needs_both_a_certificate_and_a_key() {
        let config = Config::try_parse_from([
            "holdfast-relay",
            "--tls-cert",
            "/etc/holdfast/chain.pem",
            "--tls-key",
            "/etc/holdfast/key.pem",
        ])
        .unwrap();
        let files = config.tls_files().unwrap();
        assert_eq!(files.cert, PathBuf::from("/etc/holdfast/chain.pem"));
        assert_eq!(files.key, PathBuf::from("/etc/holdfast/key.pem"));
        assert!(Config::try_parse_from(["holdfast-relay", "--tls-cert", "c.pem"]).is_err());
        assert!(Config::try_parse_from(["holdfast-relay", "--tls-key", "k.pem"]).is_err());
        assert!(
            Config::try_parse_from(["holdfast-relay"])
                .unwrap()
                .tls_files()
                .is_none()
        );
        let mut half = Config::new("x");
        half.tls_cert = Some("c.pem".into());
        assert!(matches!(half.validate(), Err(Error::Config(m)) if m.contains("--tls-key")));
    }
}

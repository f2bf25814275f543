//! Teams on the device: which teams it belongs to, at which relay, how far it has pulled,
//! and how its last sync went ([`SyncStatus`]: what the app shows, including a
//! relay-confirmed "everything uploaded"). Keys are in `team_keys` (see [`super::access`]).

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::Store;
use holdfast_protocol::{RelayPin, Role};

use crate::model::ids::StoredId;
use crate::model::ids::{DocumentId, TeamId};
use crate::{Error, Result};

/// A team this device belongs to and how its sync stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamInfo {
    /// The team.
    pub team: TeamId,
    /// The relay's base URL (`https://host`, or `http://127.0.0.1:port` for a relay on
    /// this computer).
    pub relay_url: String,
    /// The pin of the relay's own CA (a self-hosted relay): the sync client trusts that CA,
    /// and only it, for this relay. `None`: the platform's roots.
    pub relay_pin: Option<RelayPin>,
    /// This device created the team (and so registers it with the relay).
    pub created_here: bool,
    /// The relay knows the team.
    pub registered: bool,
    /// Highest relay sequence number applied (or refused): pulls continue after it.
    pub cursor: u64,
    /// Highest relay sequence number this device has heard of.
    pub head_seen: u64,
    /// Last successful push (ms since the epoch).
    pub last_push_at: Option<i64>,
    /// Last successful pull (ms since the epoch).
    pub last_pull_at: Option<i64>,
    /// The last sync error, if the last attempt failed (no patient data: codes and ids).
    pub last_error: Option<String>,
    /// The last attempt could not reach the relay.
    pub offline: bool,
}

/// The sync state of one team on this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    /// The team.
    pub team: TeamId,
    /// Local changes not yet acknowledged by the relay.
    pub pending_outbox: u64,
    /// Envelopes sealed (changes and snapshots) and not yet acknowledged.
    pub unacknowledged_envelopes: u64,
    /// True only when the outbox is empty and the relay has acknowledged every envelope:
    /// nothing written on this device exists only here.
    pub everything_uploaded: bool,
    /// Last push the relay acknowledged (ms since the epoch).
    pub last_push_at: Option<i64>,
    /// Last successful pull (ms since the epoch).
    pub last_pull_at: Option<i64>,
    /// The last sync error, if the last attempt failed.
    pub last_error: Option<String>,
    /// The last attempt could not reach the relay.
    pub offline: bool,
    /// Highest relay sequence number applied.
    pub cursor: u64,
    /// Highest relay sequence number heard of.
    pub head_seen: u64,
    /// Envelopes refused on receipt (bad signature, unknown author, …), and this device's
    /// own withdrawn from its outbox undelivered (private notes it may no longer write).
    pub refused_envelopes: u64,
}

const TEAM_COLUMNS: &str = "id, relay_url, created_here, registered, cursor, head_seen,
    last_push_at, last_pull_at, last_error, offline, relay_pin";

fn team_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Vec<u8>, TeamInfo)> {
    let id: Vec<u8> = r.get(0)?;
    Ok((
        id,
        TeamInfo {
            team: TeamId([0; 16]),
            relay_url: r.get(1)?,
            created_here: r.get(2)?,
            registered: r.get(3)?,
            cursor: u64::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
            head_seen: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
            last_push_at: r.get(6)?,
            last_pull_at: r.get(7)?,
            last_error: r.get(8)?,
            offline: r.get(9)?,
            relay_pin: pin_from_column(r.get(10)?),
        },
    ))
}

/// A stored pin (a column of 32 bytes, or NULL). A damaged column (another length) reads
/// as a pin that matches no certificate: the relay is refused, never trusted through the
/// platform's roots instead.
fn pin_from_column(bytes: Option<Vec<u8>>) -> Option<RelayPin> {
    bytes.map(|b| RelayPin(<[u8; 32]>::try_from(b.as_slice()).unwrap_or([0; 32])))
}

fn finish((id, mut info): (Vec<u8>, TeamInfo)) -> Result<TeamInfo> {
    info.team = TeamId::from_stored(&id)?;
    Ok(info)
}

/// Whether a relay may be reached over plain `http://`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlainHttp {
    /// Only a relay on this computer (127.0.0.0/8, ::1, `localhost`): traffic that never
    /// leaves the machine. The default.
    #[default]
    LoopbackOnly,
    /// Any host, in clear text: for a development network only
    /// (`SyncConfig::insecure_http_to_any_host`, `holdfast --insecure-http-to-any-host`).
    AnyHost,
}

/// Whether `url` names this computer: an address in 127.0.0.0/8, ::1 (or ::ffff:127.x),
/// or the name `localhost`.
fn is_loopback(url: &reqwest::Url) -> bool {
    use std::net::IpAddr;
    let Some(host) = url.host_str() else {
        return false;
    };
    // The URL parser has already written an IPv4 address in its usual form (127.1 is
    // 127.0.0.1) and an IPv6 one in brackets.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => host.eq_ignore_ascii_case("localhost") || host.eq_ignore_ascii_case("localhost."),
    }
}

/// Checks a relay URL: `https://`, or `http://` to a host on this computer (any host only
/// with [`PlainHttp::AnyHost`]), a host, nothing after the path. Returns it without a
/// trailing slash.
///
/// Plain http to another host would put bearer tokens, metadata and the invite's key
/// bundle on the network in clear text (docs/SECURITY.md, 2.3): refused unless a developer
/// asked for it by name.
pub(crate) fn check_relay_url(url: &str, plain_http: PlainHttp) -> Result<String> {
    let bad = |reason: &str| Error::InvalidInput {
        field: "relay URL",
        reason: reason.into(),
    };
    let parsed = reqwest::Url::parse(url.trim()).map_err(|_| bad("not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad(
            "must start with https:// (or http:// to this computer)",
        ));
    }
    if parsed.host_str().is_none() {
        return Err(bad("has no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() || !parsed.username().is_empty() {
        return Err(bad("must not carry a query, fragment or user name"));
    }
    if parsed.scheme() == "http" && !is_loopback(&parsed) {
        if plain_http == PlainHttp::LoopbackOnly {
            return Err(bad(
                "http:// is only for a relay on this computer (127.0.0.1, ::1, localhost): \
                 use the relay's https:// address (on a development network only, \
                 insecure_http_to_any_host allows http:// to any host)",
            ));
        }
        tracing::warn!(
            host = parsed.host_str().unwrap_or(""),
            "INSECURE: a relay over plain http:// to another host (insecure_http_to_any_host): \
             bearer tokens and metadata cross the network in clear text"
        );
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// Reads the current team.
pub(super) fn load_current_team(conn: &Connection) -> Result<Option<TeamId>> {
    let current: Option<Vec<u8>> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'current_team'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    current.map(|b| TeamId::from_stored(&b)).transpose()
}

/// A team row to insert: a team this device founded or joined.
pub(super) struct NewTeamRow<'a> {
    pub team: TeamId,
    pub relay_url: &'a str,
    /// The pin of the relay's CA (a self-hosted relay).
    pub relay_pin: Option<RelayPin>,
    pub created_here: bool,
    pub role: Role,
    /// For a patient: its plan.
    pub plan: Option<DocumentId>,
    /// The invite this device redeemed to join.
    pub invite: Option<[u8; 16]>,
    pub joined_at: i64,
}

/// Inserts a team row. Refused when another team of this device is at the same relay URL
/// under another trust (another pin, or a pin against none): the client keeps one trust per
/// relay, and a second one for the same address could only be a mistake or a trick.
pub(super) fn insert_team_row(tx: &Connection, row: &NewTeamRow<'_>) -> Result<()> {
    if let Some(known) = relay_pin_of(tx, row.relay_url)?
        && known != row.relay_pin
    {
        return Err(Error::NotAllowed(format!(
            "this device already reaches the relay at {} trusting {}: a team there with {} is \
             refused (one relay address has one certificate pin on a device)",
            row.relay_url,
            trust_words(known),
            trust_words(row.relay_pin)
        )));
    }
    tx.execute(
        "INSERT INTO teams (id, relay_url, created_here, joined_at, role, plan_id, invite_id,
             relay_pin)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            row.team.as_bytes().as_slice(),
            row.relay_url,
            row.created_here,
            row.joined_at,
            row.role.as_str(),
            row.plan.map(|p| p.as_bytes().to_vec()),
            row.invite.map(|i| i.to_vec()),
            row.relay_pin.map(|p| p.0.to_vec()),
        ],
    )?;
    Ok(())
}

/// How a trust reads in a message.
fn trust_words(pin: Option<RelayPin>) -> String {
    match pin {
        Some(pin) => format!("the certificate authority pinned as {pin}"),
        None => "the platform's certificate authorities".into(),
    }
}

/// The pin this device holds for the relay at `url`: `None` when no team is there,
/// `Some(None)` for the platform's roots.
fn relay_pin_of(conn: &Connection, url: &str) -> Result<Option<Option<RelayPin>>> {
    let pin: Option<Option<Vec<u8>>> = conn
        .query_row(
            "SELECT relay_pin FROM teams WHERE relay_url = ?1 ORDER BY joined_at LIMIT 1",
            [url],
            |r| r.get(0),
        )
        .optional()?;
    Ok(pin.map(pin_from_column))
}

/// When the device had no team yet, `team` becomes its current team and takes every
/// document made before. Returns whether it became current.
pub(super) fn take_unassigned(
    tx: &Connection,
    current: Option<TeamId>,
    team: TeamId,
) -> Result<bool> {
    if current.is_some() {
        return Ok(false);
    }
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('current_team', ?1)",
        [team.as_bytes().as_slice()],
    )?;
    let assigned = tx.execute(
        "UPDATE documents SET team_id = ?1 WHERE team_id IS NULL",
        [team.as_bytes().as_slice()],
    )?;
    tracing::info!(team = %team, documents = assigned, "documents assigned to the team");
    Ok(true)
}

impl Store {
    /// The team new documents are shared in.
    pub fn current_team(&self) -> Option<TeamId> {
        self.current_team
    }

    /// Shares new documents in `team` from now on (documents keep the team they have).
    pub fn set_current_team(&mut self, team: TeamId) -> Result<()> {
        self.team(team)?;
        self.conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('current_team', ?1)",
            [team.as_bytes().as_slice()],
        )?;
        self.current_team = Some(team);
        // Lists scoped to the current team (queue, load, worklist) read differently now.
        let _ = self.events.send(super::StoreEvent::CaseloadChanged);
        Ok(())
    }

    /// Every team this device belongs to.
    pub fn teams(&self) -> Result<Vec<TeamInfo>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {TEAM_COLUMNS} FROM teams ORDER BY joined_at"
        ))?;
        let rows = stmt.query_map([], team_row)?;
        rows.map(|r| finish(r?)).collect()
    }

    /// One team this device belongs to.
    pub fn team(&self, team: TeamId) -> Result<TeamInfo> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT {TEAM_COLUMNS} FROM teams WHERE id = ?1"),
                [team.as_bytes().as_slice()],
                team_row,
            )
            .optional()?
            .ok_or(Error::NotFound {
                kind: "team",
                id: team.to_string(),
            })?;
        finish(row)
    }

    /// The team a document is shared in (`None` before the device joins any team).
    pub fn document_team(&self, id: crate::model::ids::DocumentId) -> Result<Option<TeamId>> {
        let team: Option<Option<Vec<u8>>> = self
            .conn
            .query_row(
                "SELECT team_id FROM documents WHERE id = ?1",
                [id.as_bytes().as_slice()],
                |r| r.get(0),
            )
            .optional()?;
        let team = team.ok_or(Error::NotFound {
            kind: "document",
            id: id.to_string(),
        })?;
        team.map(|b| TeamId::from_stored(&b)).transpose()
    }

    /// The trust this device holds for the relay at `url` (a team's `relay_url`): `None`
    /// when none of its teams is there, `Some(None)` for the platform's roots, `Some(pin)`
    /// for a self-hosted relay's CA.
    pub(crate) fn relay_pin_for(&self, url: &str) -> Result<Option<Option<RelayPin>>> {
        relay_pin_of(&self.conn, url)
    }

    /// The device's Ed25519 public key, which the team's admin registers with the relay.
    pub fn device_public_key(&self) -> [u8; 32] {
        self.identity.signer.public_key()
    }

    /// The device's signing key, shared with the sync client (never leaves the process).
    pub(crate) fn signer(&self) -> std::sync::Arc<holdfast_protocol::DeviceSigningKey> {
        self.identity.signer.clone()
    }

    /// Notes that the relay knows the team.
    pub(crate) fn mark_registered(&mut self, team: TeamId) -> Result<()> {
        self.conn.execute(
            "UPDATE teams SET registered = 1 WHERE id = ?1",
            [team.as_bytes().as_slice()],
        )?;
        Ok(())
    }

    /// Notes the highest sequence number the relay has announced. A head below what this
    /// device has already pulled is not possible from an honest relay that kept its data
    /// (a restore from an old backup, or a relay that lies): the device then pulls the team
    /// again from the start, keeping everything it holds (applying what it has is a no-op),
    /// so nothing the relay holds again is skipped. Returns whether it did.
    pub(crate) fn note_head(&mut self, team: TeamId, head: u64) -> Result<bool> {
        let head_i = i64::try_from(head).unwrap_or(i64::MAX);
        let t = team.as_bytes().as_slice();
        let rewound = self.conn.execute(
            "UPDATE teams SET cursor = 0, head_seen = ?2 WHERE id = ?1 AND cursor > ?2",
            params![t, head_i],
        )? > 0;
        if rewound {
            // Pulled again from the start, a revoked device's envelopes can no longer be
            // told from ones that arrive now: none of them is taken from here on (what they
            // held is already here, or in its revoker's snapshots).
            self.conn.execute(
                "UPDATE revocations_folded SET cursor = 0 WHERE team_id = ?1",
                [t],
            )?;
            if let Some(a) = self.access.get_mut(&team) {
                a.refused_after.values_mut().for_each(|c| *c = 0);
            }
            tracing::warn!(team = %team, head, "the relay's head is behind this device: pulling the team again from the start");
            self.emit_sync(team);
            return Ok(true);
        }
        self.conn.execute(
            // Only when it grows: an unchanged row is not rewritten, so no WAL frame and no
            // fsync for the many announcements that change nothing.
            "UPDATE teams SET head_seen = ?2 WHERE id = ?1 AND head_seen < ?2",
            params![t, head_i],
        )?;
        Ok(false)
    }

    /// Records how a sync attempt ended: `None` clears the error; `Some((message, offline))`
    /// records it. Messages carry codes and ids only, never patient data.
    pub(crate) fn record_sync_outcome(
        &mut self,
        team: TeamId,
        error: Option<(&str, bool)>,
    ) -> Result<()> {
        let (message, offline) = match error {
            Some((m, offline)) => (Some(m), offline),
            None => (None, false),
        };
        self.conn.execute(
            // Only when the outcome differs: a sync that went as the last one did writes
            // nothing (no WAL frame, no fsync on every quiet sync).
            "UPDATE teams SET last_error = ?2, offline = ?3
             WHERE id = ?1 AND (last_error IS NOT ?2 OR offline IS NOT ?3)",
            params![team.as_bytes().as_slice(), message, offline],
        )?;
        self.emit_sync(team);
        let _ = self.events.send(super::StoreEvent::SyncEnded { team });
        Ok(())
    }

    /// What the app shows about a team's sync.
    pub fn sync_status(&self, team: TeamId) -> Result<SyncStatus> {
        let info = self.team(team)?;
        let t = team.as_bytes().as_slice();
        // Every outbox row counts, sealed or not, and so does any document not yet in a team:
        // "everything uploaded" must never be claimed while an edit is still only here.
        let pending_outbox: i64 = self.conn.query_row(
            "SELECT count(*) FROM outbox o JOIN documents d ON d.id = o.doc_id
             WHERE o.team_id = ?1 OR (o.team_id IS NULL AND (d.team_id = ?1 OR d.team_id IS NULL))",
            [t],
            |r| r.get(0),
        )?;
        let unacknowledged: i64 =
            self.conn
                .query_row("SELECT count(*) FROM sealed WHERE team_id = ?1", [t], |r| {
                    r.get(0)
                })?;
        let refused: i64 = self.conn.query_row(
            "SELECT count(*) FROM refused WHERE team_id = ?1",
            [t],
            |r| r.get(0),
        )?;
        let pending_outbox = u64::try_from(pending_outbox).unwrap_or(0);
        let unacknowledged = u64::try_from(unacknowledged).unwrap_or(0);
        Ok(SyncStatus {
            team,
            pending_outbox,
            unacknowledged_envelopes: unacknowledged,
            everything_uploaded: pending_outbox == 0 && unacknowledged == 0,
            last_push_at: info.last_push_at,
            last_pull_at: info.last_pull_at,
            last_error: info.last_error,
            offline: info.offline,
            cursor: info.cursor,
            head_seen: info.head_seen,
            refused_envelopes: u64::try_from(refused).unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::MemoryKeyStore;
    use crate::store::StoreConfig;

    #[test]
    fn relay_urls_are_checked_and_a_created_team_has_its_admin() {
        use PlainHttp::{AnyHost, LoopbackOnly};
        assert_eq!(
            check_relay_url(" https://relay.example.org/ ", LoopbackOnly).unwrap(),
            "https://relay.example.org"
        );
        for bad in [
            "ftp://x",
            "not a url",
            "https://x/?a=1",
            "https://u@x",
            "https://x#f",
        ] {
            assert!(check_relay_url(bad, AnyHost).is_err(), "{bad}");
        }
        // Plain http only to this computer, unless a developer says otherwise.
        for loopback in [
            "http://127.0.0.1:7878",
            "http://127.8.9.10",
            "http://127.1:80",
            "http://[::1]:7878",
            "http://[::ffff:127.0.0.1]:7878",
            "http://localhost:7878/",
            "http://LOCALHOST",
        ] {
            check_relay_url(loopback, LoopbackOnly).unwrap_or_else(|e| panic!("{loopback}: {e}"));
        }
        for remote in [
            "http://relay.example.org",
            "http://192.168.1.20:7878",
            "http://10.0.2.2:7878",
            "http://[::2]",
            "http://128.0.0.1",
            "http://localhost.example.org",
            "http://127.0.0.1.example.org",
        ] {
            let err = check_relay_url(remote, LoopbackOnly).unwrap_err();
            assert!(
                err.to_string()
                    .contains("http:// is only for a relay on this computer"),
                "{remote}: {err}"
            );
            assert_eq!(check_relay_url(remote, AnyHost).unwrap(), remote);
        }

        let dir = tempfile::tempdir().unwrap();
        let keys = MemoryKeyStore::default();
        let mut store = Store::create(&StoreConfig::new(dir.path(), "Sam"), &keys).unwrap();
        assert!(store.create_team("gopher://x").is_err());
        assert!(store.create_team("http://relay.example.org").is_err());
        assert!(
            store.teams().unwrap().is_empty(),
            "a refused team leaves nothing"
        );
        let team = store.create_team("http://127.0.0.1:1").unwrap();
        let info = store.team(team).unwrap();
        assert!(info.created_here && !info.registered);
        assert_eq!(store.role(team).unwrap(), Some(Role::Admin));
        assert_eq!(store.epoch(team).unwrap(), 1);
        assert_eq!(store.devices(team).unwrap().len(), 1);
        assert_eq!(store.current_team(), Some(team));
        assert!(store.set_current_team(TeamId::random()).is_err());
        assert_eq!(info.relay_pin, None);
    }

    #[test]
    fn a_relay_address_has_one_pin_on_a_device() {
        let dir = tempfile::tempdir().unwrap();
        let keys = MemoryKeyStore::default();
        let mut store = Store::create(&StoreConfig::new(dir.path(), "Sam"), &keys).unwrap();
        let pin = RelayPin([9; 32]);
        let url = "https://relay.example.org";
        let team = store
            .create_team_with(url, Some(pin), PlainHttp::LoopbackOnly)
            .unwrap();
        assert_eq!(store.team(team).unwrap().relay_pin, Some(pin));
        assert_eq!(store.relay_pin_for(url).unwrap(), Some(Some(pin)));
        assert_eq!(store.relay_pin_for("https://other.example").unwrap(), None);
        // A second team at the same address under another trust is refused, and leaves
        // nothing; under the same pin it is fine.
        for other in [None, Some(RelayPin([8; 32]))] {
            let err = store
                .create_team_with(url, other, PlainHttp::LoopbackOnly)
                .unwrap_err();
            assert!(
                matches!(&err, Error::NotAllowed(m) if m.contains("one certificate pin")),
                "{err}"
            );
        }
        assert_eq!(store.teams().unwrap().len(), 1);
        store
            .create_team_with(url, Some(pin), PlainHttp::LoopbackOnly)
            .unwrap();
        // Plain http to another host only when the caller allows it.
        assert!(
            store
                .create_team_with("http://192.168.1.20:7878", None, PlainHttp::LoopbackOnly)
                .is_err()
        );
        store
            .create_team_with("http://192.168.1.20:7878", None, PlainHttp::AnyHost)
            .unwrap();
        assert_eq!(store.teams().unwrap().len(), 3);
    }
}

//! Derived indexes, kept current in the same transaction as every change: the caseload
//! list and directory search. Lists come from here, never from loading every document.
//! Everything here can be rebuilt from the documents.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use time::Date;

use crate::model::case_file::{CaseFile, CaseHeader, CaseStatus};
use crate::model::directory::{self, Asset, AssetStatus, Capacity};
use crate::model::doc;
use crate::model::ids::StoredId;
use crate::model::ids::{AssetId, DocumentId, TeamId};
use crate::model::nhs_number::NhsNumber;
use crate::model::postcode;
use crate::{Error, Result};

/// One row of the caseload list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseloadEntry {
    /// The case file.
    pub case_id: DocumentId,
    /// The patient's action plan.
    pub plan_id: Option<DocumentId>,
    /// Patient name.
    pub patient_name: String,
    /// NHS number, if recorded.
    pub nhs_number: Option<String>,
    /// GP practice.
    pub practice: Option<String>,
    /// Status (Automerge's pick when conflicted: see `status_conflicted`).
    pub status: CaseStatus,
    /// Devices disagree on the status: the case file shows every claim.
    pub status_conflicted: bool,
    /// Last attended session (ms since the epoch).
    pub last_contact: Option<i64>,
    /// Follow-up date of the latest session.
    pub next_follow_up: Option<Date>,
    /// Safeguarding concerns not closed.
    pub open_safeguarding: u32,
    /// Number of sessions.
    pub session_count: u32,
}

/// Which cases to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseloadFilter {
    /// Only cases in this status.
    pub status: Option<CaseStatus>,
    /// Only patients of this practice.
    pub practice: Option<String>,
    /// Only cases whose follow-up is due on or before this day.
    pub follow_up_by: Option<Date>,
    /// Only cases with an open safeguarding concern.
    pub safeguarding_only: bool,
    /// Only cases of this team (a link worker in two teams keeps two caseloads).
    pub team: Option<crate::model::ids::TeamId>,
}

/// A directory search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryQuery {
    /// Words to find in name, description and categories (prefix match).
    pub text: Option<String>,
    /// Only assets in this category.
    pub category: Option<String>,
    /// Only assets in this postcode district ("LS6"; a full postcode works too).
    pub district: Option<String>,
    /// Only assets with this capacity.
    pub capacity: Option<Capacity>,
    /// Only assets with this status.
    pub status: Option<AssetStatus>,
    /// At most this many results.
    pub limit: u32,
}

impl Default for DirectoryQuery {
    fn default() -> Self {
        DirectoryQuery {
            text: None,
            category: None,
            district: None,
            capacity: None,
            status: None,
            limit: 50,
        }
    }
}

/// One directory search result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetHit {
    /// The directory document.
    pub directory_id: DocumentId,
    /// The asset.
    pub asset_id: AssetId,
    /// Its name.
    pub name: String,
    /// Who runs it.
    pub organisation: Option<String>,
    /// Postcode district.
    pub postcode_district: Option<String>,
    /// Capacity.
    pub capacity: Capacity,
    /// Status.
    pub status: AssetStatus,
}

/// Rewrites the caseload row of one case file.
pub fn update_case(
    tx: &Transaction<'_>,
    case_id: DocumentId,
    case: &CaseFile,
    now: i64,
) -> Result<()> {
    let status = case
        .status
        .provisional()
        .copied()
        .unwrap_or(CaseStatus::Referred);
    tx.execute(
        // An upsert, not a replace: the row keeps its rowid, so "the first case indexed with
        // this NHS number" stays the same one however often the case is reindexed.
        "INSERT INTO caseload (case_id, plan_id, patient_name, nhs_number, practice, status,
             status_conflicted, last_contact, next_follow_up, open_safeguarding, session_count, updated_at,
             last_session_start)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (case_id) DO UPDATE SET plan_id = excluded.plan_id,
             patient_name = excluded.patient_name, nhs_number = excluded.nhs_number,
             practice = excluded.practice, status = excluded.status,
             status_conflicted = excluded.status_conflicted, last_contact = excluded.last_contact,
             next_follow_up = excluded.next_follow_up,
             open_safeguarding = excluded.open_safeguarding,
             session_count = excluded.session_count, updated_at = excluded.updated_at,
             last_session_start = excluded.last_session_start",
        params![
            case_id.as_bytes().as_slice(),
            case.action_plan.map(|p| p.as_bytes().to_vec()),
            case.patient.name,
            case.patient.nhs_number.as_ref().map(|n| n.as_str().to_owned()),
            case.patient.practice,
            status.as_str(),
            case.status.is_conflicted(),
            case.last_contact(),
            case.next_follow_up().map(doc::format_date),
            case.open_safeguarding() as i64,
            case.sessions.len() as i64,
            now,
            case.sessions.iter().map(|s| s.start).max(),
        ],
    )?;
    Ok(())
}

/// Rewrites what the caseload shows of a case's header (patient, status, safeguarding),
/// leaving the session aggregates alone.
pub fn update_case_header(
    tx: &Transaction<'_>,
    case_id: DocumentId,
    header: &CaseHeader,
    now: i64,
) -> Result<()> {
    let status = header
        .status
        .provisional()
        .copied()
        .unwrap_or(CaseStatus::Referred);
    let changed = tx.execute(
        "UPDATE caseload SET plan_id = ?2, patient_name = ?3, nhs_number = ?4, practice = ?5, status = ?6,
             status_conflicted = ?7, open_safeguarding = ?8, updated_at = ?9
         WHERE case_id = ?1",
        params![
            case_id.as_bytes().as_slice(),
            header.action_plan.map(|p| p.as_bytes().to_vec()),
            header.patient.name,
            header.patient.nhs_number.as_ref().map(|n| n.as_str().to_owned()),
            header.patient.practice,
            status.as_str(),
            header.status.is_conflicted(),
            header.open_safeguarding as i64,
            now,
        ],
    )?;
    if changed != 1 {
        return Err(Error::NotFound {
            kind: "caseload row",
            id: case_id.to_string(),
        });
    }
    Ok(())
}

/// Folds one newly recorded session into the caseload row, without reading the others.
/// Gives the same result as a full rebuild whatever order sessions arrive in.
pub fn add_session(
    tx: &Transaction<'_>,
    case_id: DocumentId,
    start: i64,
    attended: bool,
    follow_up: Option<Date>,
    now: i64,
) -> Result<()> {
    let changed = tx.execute(
        "UPDATE caseload SET
             session_count = session_count + 1,
             last_contact = CASE WHEN ?3 AND (last_contact IS NULL OR ?2 > last_contact) THEN ?2 ELSE last_contact END,
             next_follow_up = CASE
                 WHEN last_session_start IS NULL OR ?2 > last_session_start THEN ?4
                 WHEN ?2 = last_session_start AND ?4 IS NOT NULL AND (next_follow_up IS NULL OR ?4 > next_follow_up) THEN ?4
                 ELSE next_follow_up END,
             last_session_start = CASE WHEN last_session_start IS NULL OR ?2 > last_session_start THEN ?2
                                       ELSE last_session_start END,
             updated_at = ?5
         WHERE case_id = ?1",
        params![case_id.as_bytes().as_slice(), start, attended, follow_up.map(doc::format_date), now],
    )?;
    if changed != 1 {
        return Err(Error::NotFound {
            kind: "caseload row",
            id: case_id.to_string(),
        });
    }
    Ok(())
}

/// Lists the whole caseload from the index, in list order (see [`caseload_page`]).
pub fn caseload(conn: &Connection, filter: &CaseloadFilter) -> Result<Vec<CaseloadEntry>> {
    caseload_page(conn, filter, None, None)
}

/// The caseload's list order, exactly as the index `caseload_in_list_order` (schema
/// version 15) has it, so SQLite reads pages from it: a case without a follow-up sorts
/// after every day ('~' after any digit).
const LIST_ORDER: &str = "coalesce(next_follow_up, '~'), patient_name, case_id";

/// The place of `entry` in [`LIST_ORDER`].
fn list_key(entry: &CaseloadEntry) -> (String, &str, &[u8]) {
    (
        entry
            .next_follow_up
            .map_or_else(|| "~".to_owned(), doc::format_date),
        &entry.patient_name,
        entry.case_id.as_bytes().as_slice(),
    )
}

/// Lists the caseload from the index in list order: follow-ups due first (soonest first),
/// then cases with none; by patient name within a day, then by case id, so the order is
/// total and a page ends at an exact place. With `limit`, at most that many rows; with
/// `after` (the last row of the previous page), only rows after its place, so pages do not
/// skip or repeat a case when rows before them change. The index on the list order
/// (schema version 15) makes a page cost the page, not the caseload.
pub fn caseload_page(
    conn: &Connection,
    filter: &CaseloadFilter,
    limit: Option<u32>,
    after: Option<&CaseloadEntry>,
) -> Result<Vec<CaseloadEntry>> {
    let mut sql = String::from(
        "SELECT case_id, plan_id, patient_name, nhs_number, practice, status, status_conflicted,
                last_contact, next_follow_up, open_safeguarding, session_count
         FROM caseload WHERE 1 = 1",
    );
    let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
    if let Some(s) = filter.status {
        sql.push_str(" AND status = ?");
        args.push(Box::new(s.as_str()));
    }
    if let Some(p) = &filter.practice {
        sql.push_str(" AND practice = ? COLLATE NOCASE");
        args.push(Box::new(p.clone()));
    }
    if let Some(d) = filter.follow_up_by {
        sql.push_str(" AND next_follow_up IS NOT NULL AND next_follow_up <= ?");
        args.push(Box::new(doc::format_date(d)));
    }
    if filter.safeguarding_only {
        sql.push_str(" AND open_safeguarding > 0");
    }
    if let Some(t) = filter.team {
        // One probe of (team, document) per row read, not the set of every document of
        // the team built first: a page stops reading after its rows.
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM documents d WHERE d.team_id = ? AND d.id = caseload.case_id)",
        );
        args.push(Box::new(t.as_bytes().to_vec()));
    }
    if let Some(entry) = after {
        let (follow_up, name, id) = list_key(entry);
        sql.push_str(&format!(" AND ({LIST_ORDER}) > (?, ?, ?)"));
        args.push(Box::new(follow_up));
        args.push(Box::new(name.to_owned()));
        args.push(Box::new(id.to_vec()));
    }
    sql.push_str(&format!(" ORDER BY {LIST_ORDER}"));
    if let Some(limit) = limit {
        sql.push_str(" LIMIT ?");
        args.push(Box::new(i64::from(limit)));
    }
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, Option<Vec<u8>>>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, bool>(6)?,
            r.get::<_, Option<i64>>(7)?,
            r.get::<_, Option<String>>(8)?,
            r.get::<_, i64>(9)?,
            r.get::<_, i64>(10)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (
            case_id,
            plan_id,
            name,
            nhs,
            practice,
            status,
            conflicted,
            last,
            follow,
            safeguarding,
            sessions,
        ) = row?;
        out.push(CaseloadEntry {
            case_id: DocumentId::from_stored(&case_id)?,
            plan_id: plan_id.map(|p| DocumentId::from_stored(&p)).transpose()?,
            patient_name: name,
            nhs_number: nhs,
            practice,
            status: status.parse()?,
            status_conflicted: conflicted,
            last_contact: last,
            next_follow_up: follow.map(|f| doc::parse_date(&f)).transpose()?,
            open_safeguarding: u32::try_from(safeguarding).unwrap_or(0),
            session_count: u32::try_from(sessions).unwrap_or(0),
        });
    }
    Ok(out)
}

/// The NHS number the caseload shows for `case`, if any.
pub fn nhs_number_of(conn: &Connection, case: DocumentId) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT nhs_number FROM caseload WHERE case_id = ?1",
            [case.as_bytes().as_slice()],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
}

/// The case of `team` (or of no team, before the device joins one) whose patient has
/// `number`, other than `except`: the first one indexed on this device when there are
/// several (rows keep their rowid when reindexed, so it stays the same one).
pub fn case_by_nhs_number(
    conn: &Connection,
    number: &NhsNumber,
    team: Option<TeamId>,
    except: Option<DocumentId>,
) -> Result<Option<DocumentId>> {
    let found: Option<Vec<u8>> = conn
        .prepare_cached(
            "SELECT c.case_id FROM caseload c JOIN documents d ON d.id = c.case_id
             WHERE c.nhs_number = ?1 AND d.team_id IS ?2 AND c.case_id IS NOT ?3
             ORDER BY c.rowid LIMIT 1",
        )?
        .query_row(
            params![
                number.as_str(),
                team.map(|t| t.as_bytes().to_vec()),
                except.map(|c| c.as_bytes().to_vec())
            ],
            |r| r.get(0),
        )
        .optional()?;
    found.map(|id| DocumentId::from_stored(&id)).transpose()
}

fn categories_key(c: &str) -> String {
    c.trim().to_lowercase()
}

/// Removes one asset from the indexes.
fn remove_asset(tx: &Transaction<'_>, directory_id: DocumentId, asset_id: AssetId) -> Result<()> {
    let rowid: Option<i64> = tx
        .query_row(
            "SELECT rowid FROM assets WHERE directory_id = ?1 AND asset_id = ?2",
            params![
                directory_id.as_bytes().as_slice(),
                asset_id.as_bytes().as_slice()
            ],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(rowid) = rowid {
        tx.execute("DELETE FROM assets_fts WHERE rowid = ?1", [rowid])?;
        tx.execute(
            "DELETE FROM asset_categories WHERE asset_rowid = ?1",
            [rowid],
        )?;
        tx.execute("DELETE FROM assets WHERE rowid = ?1", [rowid])?;
    }
    Ok(())
}

/// Rewrites the index rows of some assets of a directory.
pub fn update_assets(
    tx: &Transaction<'_>,
    directory_id: DocumentId,
    assets: &[Asset],
) -> Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO assets (directory_id, asset_id, name, organisation, postcode_district, capacity, status)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let mut fts = tx.prepare_cached(
        "INSERT INTO assets_fts (rowid, name, description, categories) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut cat = tx.prepare_cached(
        "INSERT OR IGNORE INTO asset_categories (asset_rowid, category, name) VALUES (?1, ?2, ?3)",
    )?;
    for asset in assets {
        remove_asset(tx, directory_id, asset.id)?;
        let f = &asset.fields;
        insert.execute(params![
            directory_id.as_bytes().as_slice(),
            asset.id.as_bytes().as_slice(),
            f.name,
            f.organisation,
            f.postcode.as_ref().map(|p| p.district().to_owned()),
            directory::capacity_str(f.capacity),
            directory::status_str(f.status),
        ])?;
        let rowid = tx.last_insert_rowid();
        fts.execute(params![
            rowid,
            f.name,
            f.description,
            f.categories.join(" ")
        ])?;
        for c in &f.categories {
            cat.execute(params![rowid, categories_key(c), f.name])?;
        }
    }
    Ok(())
}

/// Drops every index row of a directory (before a full rebuild).
pub fn clear_directory(tx: &Transaction<'_>, directory_id: DocumentId) -> Result<()> {
    let ids = {
        let mut stmt = tx.prepare("SELECT asset_id FROM assets WHERE directory_id = ?1")?;
        let rows = stmt.query_map([directory_id.as_bytes().as_slice()], |r| {
            r.get::<_, Vec<u8>>(0)
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    for id in ids {
        remove_asset(tx, directory_id, AssetId::from_stored(&id)?)?;
    }
    Ok(())
}

/// Turns what a person typed into an FTS5 query that cannot be malformed: each word becomes
/// a quoted prefix term, and all must match.
fn fts_query(text: &str) -> Option<String> {
    let terms: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| format!("\"{}\"*", w.to_lowercase()))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// Searches the directory index. Each shape of query reads only what its answer needs:
///
/// - words alone: the best `limit` matches are ranked inside the full-text index, and only
///   they are looked up in `assets`;
/// - a category without words: the category's entries are read in name order (the index
///   keeps each asset's name beside its categories) and reading stops at `limit`, instead
///   of reading every asset and sorting them;
/// - anything else: every match of the most selective part, filtered, then ranked.
pub fn search(conn: &Connection, q: &DirectoryQuery) -> Result<Vec<AssetHit>> {
    const COLUMNS: &str = "a.directory_id, a.asset_id, a.name, a.organisation, a.postcode_district, a.capacity, a.status";
    const RANK: &str = "bm25(assets_fts, 10.0, 1.0, 4.0)";
    let text = q.text.as_deref().and_then(fts_query);
    let district = q
        .district
        .as_deref()
        .map(|d| {
            postcode::district_of(d).ok_or(Error::InvalidInput {
                field: "postcode district",
                reason: "not a UK postcode or district".into(),
            })
        })
        .transpose()?;
    let limit = i64::from(q.limit.clamp(1, 1000));
    let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
    // Conditions on the asset's own row.
    let mut on_asset = String::new();
    let mut asset_args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
    if let Some(d) = district {
        on_asset.push_str(" AND a.postcode_district = ?");
        asset_args.push(Box::new(d));
    }
    if let Some(c) = q.capacity {
        on_asset.push_str(" AND a.capacity = ?");
        asset_args.push(Box::new(directory::capacity_str(c)));
    }
    if let Some(s) = q.status {
        on_asset.push_str(" AND a.status = ?");
        asset_args.push(Box::new(directory::status_str(s)));
    }
    let sql = match (&text, &q.category) {
        (Some(t), None) if on_asset.is_empty() => {
            args.push(Box::new(t.clone()));
            args.push(Box::new(limit));
            format!(
                "SELECT {COLUMNS} FROM (SELECT rowid, {RANK} AS score FROM assets_fts
                     WHERE assets_fts MATCH ? ORDER BY score LIMIT ?) f
                 JOIN assets a ON a.rowid = f.rowid ORDER BY f.score"
            )
        }
        (Some(t), Some(c)) => {
            // The words' matches drive, each probed for the category in
            // `asset_categories_by_category` (category, asset). Driving from the category
            // instead runs the whole text query once per asset.
            args.push(Box::new(t.clone()));
            args.push(Box::new(categories_key(c)));
            args.append(&mut asset_args);
            args.push(Box::new(limit));
            format!(
                "SELECT {COLUMNS} FROM assets_fts CROSS JOIN assets a ON a.rowid = assets_fts.rowid
                 WHERE assets_fts MATCH ?
                   AND EXISTS (SELECT 1 FROM asset_categories c INDEXED BY asset_categories_by_category
                               WHERE c.category = ? AND c.asset_rowid = a.rowid){on_asset}
                 ORDER BY {RANK} LIMIT ?"
            )
        }
        (Some(t), None) => {
            // Words and conditions on the asset's row: SQLite picks which drives (a
            // district's few assets, or the words' matches).
            args.push(Box::new(t.clone()));
            args.append(&mut asset_args);
            args.push(Box::new(limit));
            format!(
                "SELECT {COLUMNS} FROM assets_fts JOIN assets a ON a.rowid = assets_fts.rowid
                 WHERE assets_fts MATCH ?{on_asset} ORDER BY {RANK} LIMIT ?"
            )
        }
        (None, Some(c)) => {
            args.push(Box::new(categories_key(c)));
            args.append(&mut asset_args);
            args.push(Box::new(limit));
            // CROSS JOIN keeps the category's name-ordered entries as the outer loop.
            format!(
                "SELECT {COLUMNS} FROM asset_categories c CROSS JOIN assets a ON a.rowid = c.asset_rowid
                 WHERE c.category = ?{on_asset} ORDER BY c.name, c.asset_rowid LIMIT ?"
            )
        }
        (None, None) => {
            args.append(&mut asset_args);
            args.push(Box::new(limit));
            format!("SELECT {COLUMNS} FROM assets a WHERE 1 = 1{on_asset} ORDER BY a.name LIMIT ?")
        }
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, Vec<u8>>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, String>(6)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (dir, asset, name, organisation, district, capacity, status) = row?;
        out.push(AssetHit {
            directory_id: DocumentId::from_stored(&dir)?,
            asset_id: AssetId::from_stored(&asset)?,
            name,
            organisation,
            postcode_district: district,
            capacity: directory::parse_capacity(&capacity)?,
            status: directory::parse_status(&status)?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_search_text_cannot_inject_fts_syntax() {
        assert_eq!(
            fts_query("walking group").as_deref(),
            Some("\"walking\"* \"group\"*")
        );
        assert_eq!(
            fts_query("\"a\" OR b*)(").as_deref(),
            Some("\"a\"* \"or\"* \"b\"*")
        );
        assert_eq!(fts_query("  -- "), None);
    }
    use crate::keystore::MemoryKeyStore;
    use crate::model::case_file::NewPatient;
    use crate::store::{IfDuplicate, Store, StoreConfig};

    /// Pages walked to the end list the caseload once each, in its order (follow-ups due
    /// first, then by name, then by case id, so patients of the same name never straddle a
    /// page boundary twice), with and without a team; an edit between two pages moves a
    /// case without the pages skipping or repeating the others.
    #[test]
    fn pages_walk_the_caseload_in_order_once_each() {
        let dir = tempfile::tempdir().unwrap();
        let keys = MemoryKeyStore::default();
        let mut store = Store::create(&StoreConfig::new(dir.path(), "Sam"), &keys).unwrap();
        let team = TeamId::random();
        // The team's documents without the team's row (joining one takes a relay).
        store
            .conn
            .pragma_update(None, "foreign_keys", "OFF")
            .unwrap();
        let follow_ups = [
            None,
            Some("2026-11-03"),
            Some("2026-11-02"),
            None,
            Some("2026-11-02"),
        ];
        let mut cases = Vec::new();
        for i in 0..11 {
            let name = if i % 3 == 0 {
                "Sam Lee".to_owned()
            } else {
                format!("Patient {}", i % 4)
            };
            let case = store
                .create_case_file(NewPatient::named(&name))
                .unwrap()
                .case_id;
            store
                .conn
                .execute(
                    "UPDATE caseload SET next_follow_up = ?2 WHERE case_id = ?1",
                    params![case.as_bytes().as_slice(), follow_ups[i % follow_ups.len()]],
                )
                .unwrap();
            if i % 2 == 0 {
                store
                    .conn
                    .execute(
                        "UPDATE documents SET team_id = ?2 WHERE id = ?1",
                        params![case.as_bytes().as_slice(), team.as_bytes().as_slice()],
                    )
                    .unwrap();
            }
            cases.push(case);
        }
        let walk = |store: &Store, filter: &CaseloadFilter, size: u32| {
            let mut all: Vec<CaseloadEntry> = Vec::new();
            loop {
                let page = store.caseload_page(filter, size, all.last()).unwrap();
                assert!(page.len() <= size as usize);
                if page.is_empty() {
                    return all;
                }
                all.extend(page);
            }
        };
        for filter in [
            CaseloadFilter::default(),
            CaseloadFilter {
                team: Some(team),
                ..Default::default()
            },
        ] {
            let listed = store.caseload(&filter).unwrap();
            let mut expected = listed.clone();
            expected.sort_by(|a, b| {
                (
                    a.next_follow_up.is_none(),
                    a.next_follow_up,
                    &a.patient_name,
                    a.case_id.as_bytes(),
                )
                    .cmp(&(
                        b.next_follow_up.is_none(),
                        b.next_follow_up,
                        &b.patient_name,
                        b.case_id.as_bytes(),
                    ))
            });
            assert_eq!(listed, expected, "the list order");
            assert_eq!(listed.len(), if filter.team.is_some() { 6 } else { 11 });
            for size in [1, 2, 5, 50] {
                assert_eq!(walk(&store, &filter, size), listed, "pages of {size}");
            }
        }
        // A case edited between two pages: its follow-up moves it before the first page's
        // end; the next page continues from where the first ended.
        let filter = CaseloadFilter::default();
        let first = store.caseload_page(&filter, 4, None).unwrap();
        let listed = store.caseload(&filter).unwrap();
        let moved = listed[8].case_id;
        store
            .conn
            .execute(
                "UPDATE caseload SET next_follow_up = '2026-01-01' WHERE case_id = ?1",
                [moved.as_bytes().as_slice()],
            )
            .unwrap();
        let second = store.caseload_page(&filter, 4, first.last()).unwrap();
        assert_eq!(
            second.iter().map(|e| e.case_id).collect::<Vec<_>>(),
            listed[4..8].iter().map(|e| e.case_id).collect::<Vec<_>>()
        );
        assert!(store.caseload_page(&filter, 0, None).unwrap().is_empty());
        let _ = cases;
    }

    /// A pulled page reindexes a case whole; the row keeps its place, so the case named
    /// for an NHS number does not change when another device edits it.
    #[test]
    fn a_case_reindexed_whole_stays_the_first_for_its_nhs_number() {
        let dir = tempfile::tempdir().unwrap();
        let keys = MemoryKeyStore::default();
        let mut store = Store::create(&StoreConfig::new(dir.path(), "Sam"), &keys).unwrap();
        let number: NhsNumber = "9434765919".parse().unwrap();
        let mut patient = NewPatient::named("Ada Lovelace");
        patient.nhs_number = Some(number.clone());
        let first = store.create_case_file(patient.clone()).unwrap().case_id;
        let second = store
            .create_case_file_with(patient, IfDuplicate::Create)
            .unwrap()
            .case_id;
        for case in [first, second, first] {
            let view = store.case_file(case).unwrap();
            let tx = store.conn.transaction().unwrap();
            update_case(&tx, case, &view, 1).unwrap();
            tx.commit().unwrap();
            assert_eq!(
                case_by_nhs_number(&store.conn, &number, None, None).unwrap(),
                Some(first)
            );
        }
        assert_eq!(
            case_by_nhs_number(&store.conn, &number, None, Some(first)).unwrap(),
            Some(second),
            "other than itself"
        );
        assert_eq!(store.caseload(&Default::default()).unwrap().len(), 2);
    }
}

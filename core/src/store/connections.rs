//! Connections to community assets: each plan step linked to an asset keeps where the
//! person's connection to it stands (`model::action_plan::ConnectionStatus`), and the index
//! keeps the latest of each in `asset_connections`, so each asset's demand (people
//! connected, attending, waiting) is one query, never a walk over the plans.

use rusqlite::{Transaction, params};
use serde::{Deserialize, Serialize};

use super::Store;
use super::oversight::count;
use crate::Result;
use crate::model::action_plan::{ActionPlan, ConnectionStatus};
use crate::model::doc;
use crate::model::ids::{AssetId, DocumentId, StoredId};

/// Demand for one community asset, from the plans on this device: each person (plan)
/// counted once, at where their latest connection to it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetDemand {
    /// The directory.
    pub directory: DocumentId,
    /// The asset.
    pub asset: AssetId,
    /// Its name, when the directory is on this device.
    pub name: Option<String>,
    /// People connected to it in any way.
    pub people: u32,
    /// Suggested, not yet contacted.
    pub suggested: u32,
    /// Contacted.
    pub contacted: u32,
    /// Attended, or still going.
    pub attending: u32,
    /// On its waiting list.
    pub waiting_list: u32,
    /// Declined it.
    pub declined: u32,
    /// Found it not suitable.
    pub not_suitable: u32,
    /// Were connected when it closed.
    pub service_closed: u32,
}

/// Replaces `plan`'s rows: the latest connection of each of its steps that links an asset.
pub(super) fn update_connections(
    tx: &Transaction<'_>,
    plan_id: DocumentId,
    plan: &ActionPlan,
) -> Result<()> {
    tx.prepare_cached("DELETE FROM asset_connections WHERE plan_id = ?1")?
        .execute([plan_id.as_bytes().as_slice()])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO asset_connections (plan_id, step_id, directory_id, asset_id, status, since, ord)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for step in &plan.steps {
        let (Some(asset), Some(latest)) = (step.asset, step.connection_status()) else {
            continue;
        };
        let since = doc::format_date(latest.on);
        insert.execute(params![
            plan_id.as_bytes().as_slice(),
            step.id.as_bytes().as_slice(),
            asset.directory.as_bytes().as_slice(),
            asset.asset.as_bytes().as_slice(),
            latest.status.as_str(),
            since,
            // Latest recorded first, as `Step::connection_status` picks.
            format!(
                "{:020} {} {}",
                latest.at.max(0),
                u8::from(latest.status != ConnectionStatus::Suggested),
                latest.id
            ),
        ])?;
    }
    Ok(())
}

impl Store {
    /// Demand for each community asset (of `directory`, or every directory) from the plans
    /// on this device: people connected, and where each person's latest connection stands.
    /// Most demanded first.
    pub fn asset_demand(&self, directory: Option<DocumentId>) -> Result<Vec<AssetDemand>> {
        let mut stmt = self.conn.prepare_cached(
            "WITH latest AS (
                 SELECT plan_id, directory_id, asset_id, status, MAX(ord)
                 FROM asset_connections
                 WHERE ?1 IS NULL OR directory_id = ?1
                 GROUP BY plan_id, directory_id, asset_id
             )
             SELECT l.directory_id, l.asset_id, a.name, COUNT(*),
                 SUM(l.status = 'suggested'), SUM(l.status = 'contacted'),
                 SUM(l.status IN ('attended', 'still_going')), SUM(l.status = 'waiting_list'),
                 SUM(l.status = 'declined'), SUM(l.status = 'not_suitable'),
                 SUM(l.status = 'service_closed')
             FROM latest l
             LEFT JOIN assets a ON a.directory_id = l.directory_id AND a.asset_id = l.asset_id
             GROUP BY l.directory_id, l.asset_id
             ORDER BY COUNT(*) DESC, a.name, l.asset_id",
        )?;
        let rows = stmt.query_map([directory.map(|d| d.as_bytes().to_vec())], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Option<String>>(2)?,
                [
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, i64>(7)?,
                    r.get::<_, i64>(8)?,
                    r.get::<_, i64>(9)?,
                    r.get::<_, i64>(10)?,
                ],
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (dir, asset, name, n) = row?;
            out.push(AssetDemand {
                directory: DocumentId::from_stored(&dir)?,
                asset: AssetId::from_stored(&asset)?,
                name,
                people: count(n[0]),
                suggested: count(n[1]),
                contacted: count(n[2]),
                attending: count(n[3]),
                waiting_list: count(n[4]),
                declined: count(n[5]),
                not_suitable: count(n[6]),
                service_closed: count(n[7]),
            });
        }
        Ok(out)
    }
}

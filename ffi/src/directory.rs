//! The community asset directory: create one, add or update assets, import Open Referral
//! UK JSON, search (from the device's index, offline), read one asset, and share a
//! directory into another team.

use holdfast_core::TeamId;
use holdfast_core::import::open_referral;
use holdfast_core::model::directory::{
    Asset, AssetInput as CoreInput, AssetStatus as CoreStatus, Capacity as CoreCapacity,
    ReferralRoute as CoreRoute,
};
use holdfast_core::model::doc::DocKind;
use holdfast_core::model::ids::{AssetId, DocumentId};
use holdfast_core::model::postcode::Postcode;
use holdfast_core::store::{AssetHit as CoreHit, DirectoryQuery as CoreQuery};

use crate::device::{HoldfastDevice, parse_id, parse_item_id};
use crate::error::Result;

/// How a link worker gets someone into an asset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, uniffi::Enum)]
pub enum ReferralRoute {
    /// Tell the person about it; they go themselves.
    #[default]
    SignpostOnly,
    /// The asset takes referrals from the link worker.
    DirectReferral,
}

impl From<ReferralRoute> for CoreRoute {
    fn from(r: ReferralRoute) -> Self {
        match r {
            ReferralRoute::SignpostOnly => CoreRoute::SignpostOnly,
            ReferralRoute::DirectReferral => CoreRoute::DirectReferral,
        }
    }
}

impl From<CoreRoute> for ReferralRoute {
    fn from(r: CoreRoute) -> Self {
        match r {
            CoreRoute::SignpostOnly => ReferralRoute::SignpostOnly,
            CoreRoute::DirectReferral => ReferralRoute::DirectReferral,
        }
    }
}

/// Whether an asset can take someone now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, uniffi::Enum)]
pub enum Capacity {
    /// Taking people now.
    #[default]
    Open,
    /// Taking names for a waiting list.
    WaitingList,
    /// Not taking anyone.
    Closed,
}

impl From<Capacity> for CoreCapacity {
    fn from(c: Capacity) -> Self {
        match c {
            Capacity::Open => CoreCapacity::Open,
            Capacity::WaitingList => CoreCapacity::WaitingList,
            Capacity::Closed => CoreCapacity::Closed,
        }
    }
}

impl From<CoreCapacity> for Capacity {
    fn from(c: CoreCapacity) -> Self {
        match c {
            CoreCapacity::Open => Capacity::Open,
            CoreCapacity::WaitingList => Capacity::WaitingList,
            CoreCapacity::Closed => Capacity::Closed,
        }
    }
}

/// Whether an asset is running (Open Referral UK `service.status`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, uniffi::Enum)]
pub enum AssetStatus {
    /// Running.
    #[default]
    Active,
    /// Not running, may return.
    Inactive,
    /// Gone for good.
    Defunct,
    /// Paused for a while (building works, summer break).
    TemporarilyClosed,
}

impl From<AssetStatus> for CoreStatus {
    fn from(s: AssetStatus) -> Self {
        match s {
            AssetStatus::Active => CoreStatus::Active,
            AssetStatus::Inactive => CoreStatus::Inactive,
            AssetStatus::Defunct => CoreStatus::Defunct,
            AssetStatus::TemporarilyClosed => CoreStatus::TemporarilyClosed,
        }
    }
}

impl From<CoreStatus> for AssetStatus {
    fn from(s: CoreStatus) -> Self {
        match s {
            CoreStatus::Active => AssetStatus::Active,
            CoreStatus::Inactive => AssetStatus::Inactive,
            CoreStatus::Defunct => AssetStatus::Defunct,
            CoreStatus::TemporarilyClosed => AssetStatus::TemporarilyClosed,
        }
    }
}

/// An asset's fields: what a person types (the name is required; route, capacity and status
/// have no default in the bindings, as uniffi's proc-macros cannot give an enum field one)
/// and what `asset` returns, so an edit is read, change, `upsert_asset`.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct AssetInput {
    /// The asset's name ("Tuesday Walking Group").
    pub name: String,
    /// The organisation that runs it.
    #[uniffi(default)]
    pub organisation: Option<String>,
    /// What happens there, in plain words.
    #[uniffi(default)]
    pub description: String,
    /// Categories ("physical activity", "loneliness", "money advice").
    #[uniffi(default)]
    pub categories: Vec<String>,
    /// Contact phone.
    #[uniffi(default)]
    pub phone: Option<String>,
    /// Contact email.
    #[uniffi(default)]
    pub email: Option<String>,
    /// Web page.
    #[uniffi(default)]
    pub url: Option<String>,
    /// Street address, one line.
    #[uniffi(default)]
    pub address: Option<String>,
    /// Postcode of where it meets (checked).
    #[uniffi(default)]
    pub postcode: Option<String>,
    /// When it runs, as people say it ("Tuesdays 10:00-12:00").
    #[uniffi(default)]
    pub schedule: Option<String>,
    /// Who it is for, in words.
    #[uniffi(default)]
    pub eligibility: Option<String>,
    /// Youngest age it takes.
    #[uniffi(default)]
    pub min_age: Option<u8>,
    /// Oldest age it takes.
    #[uniffi(default)]
    pub max_age: Option<u8>,
    /// What it costs ("Free", "£2 a session").
    #[uniffi(default)]
    pub cost: Option<String>,
    /// How people get in.
    pub referral_route: ReferralRoute,
    /// Access notes (step-free, hearing loop).
    #[uniffi(default)]
    pub accessibility: Option<String>,
    /// Languages spoken.
    #[uniffi(default)]
    pub languages: Vec<String>,
    /// Whether it can take people now.
    pub capacity: Capacity,
    /// Whether it is running.
    pub status: AssetStatus,
    /// When the entry was last checked with the provider (YYYY-MM-DD).
    #[uniffi(default)]
    pub assured_date: Option<String>,
    /// Who checked it.
    #[uniffi(default)]
    pub assured_by: Option<String>,
    /// The id in the source directory, so a re-import updates instead of duplicating.
    #[uniffi(default)]
    pub external_id: Option<String>,
}

impl AssetInput {
    fn into_core(self) -> Result<CoreInput> {
        let postcode = self
            .postcode
            .map(|c| Postcode::parse(&c))
            .transpose()
            .map_err(holdfast_core::Error::from)?;
        Ok(CoreInput {
            name: self.name,
            organisation: self.organisation,
            description: self.description,
            categories: self.categories,
            phone: self.phone,
            email: self.email,
            url: self.url,
            address: self.address,
            postcode,
            schedule: self.schedule,
            eligibility: self.eligibility,
            min_age: self.min_age,
            max_age: self.max_age,
            cost: self.cost,
            referral_route: self.referral_route.into(),
            accessibility: self.accessibility,
            languages: self.languages,
            capacity: self.capacity.into(),
            status: self.status.into(),
            assured_date: self.assured_date,
            assured_by: self.assured_by,
            external_id: self.external_id,
        })
    }

    fn from_core(a: CoreInput) -> Self {
        AssetInput {
            name: a.name,
            organisation: a.organisation,
            description: a.description,
            categories: a.categories,
            phone: a.phone,
            email: a.email,
            url: a.url,
            address: a.address,
            postcode: a.postcode.map(|p| p.to_string()),
            schedule: a.schedule,
            eligibility: a.eligibility,
            min_age: a.min_age,
            max_age: a.max_age,
            cost: a.cost,
            referral_route: a.referral_route.into(),
            accessibility: a.accessibility,
            languages: a.languages,
            capacity: a.capacity.into(),
            status: a.status.into(),
            assured_date: a.assured_date,
            assured_by: a.assured_by,
            external_id: a.external_id,
        }
    }
}

/// An asset as stored.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AssetView {
    /// The directory it is in.
    pub directory_id: String,
    /// Its id in the directory.
    pub asset_id: String,
    /// Its fields.
    pub details: AssetInput,
}

/// A directory search: every field narrows it (the default lists the first 50 by name).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DirectoryQuery {
    /// Words to find in name, description and categories (prefix match, every word).
    #[uniffi(default)]
    pub text: Option<String>,
    /// Only assets in this category.
    #[uniffi(default)]
    pub category: Option<String>,
    /// Only assets in this postcode district ("LS6"; a full postcode works too).
    #[uniffi(default)]
    pub district: Option<String>,
    /// Only assets with this capacity.
    #[uniffi(default)]
    pub capacity: Option<Capacity>,
    /// Only assets with this status.
    #[uniffi(default)]
    pub status: Option<AssetStatus>,
    /// At most this many results (1 to 1,000).
    #[uniffi(default = 50)]
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

/// One search result (read the whole asset with `asset`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AssetHit {
    /// The directory it is in.
    pub directory_id: String,
    /// The asset.
    pub asset_id: String,
    /// Its name.
    pub name: String,
    /// Who runs it.
    pub organisation: Option<String>,
    /// Its postcode district ("LS6").
    pub district: Option<String>,
    /// Whether it can take people now.
    pub capacity: Capacity,
    /// Whether it is running.
    pub status: AssetStatus,
}

impl From<CoreHit> for AssetHit {
    fn from(h: CoreHit) -> Self {
        AssetHit {
            directory_id: h.directory_id.to_string(),
            asset_id: h.asset_id.to_string(),
            name: h.name,
            organisation: h.organisation,
            district: h.postcode_district,
            capacity: h.capacity.into(),
            status: h.status.into(),
        }
    }
}

/// What an Open Referral import did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ImportOutcome {
    /// One asset per service, in the document's order (existing ones updated by their
    /// external id).
    pub asset_ids: Vec<String>,
    /// Fields dropped or read with a guess ("service 3: postcode ... left blank").
    pub warnings: Vec<String>,
}

fn asset_view(directory_id: String, a: Asset) -> AssetView {
    AssetView {
        directory_id,
        asset_id: a.id.to_string(),
        details: AssetInput::from_core(a.fields),
    }
}

#[uniffi::export]
impl HoldfastDevice {
    /// Creates an empty directory for an area ("Leeds North") in the current team.
    pub fn create_directory(&self, area: String) -> Result<String> {
        Ok(self.store()?.create_directory(&area)?.to_string())
    }

    /// The directories on this device.
    pub fn directories(&self) -> Result<Vec<String>> {
        Ok(self
            .store()?
            .document_ids(DocKind::Directory)?
            .into_iter()
            .map(|d| d.to_string())
            .collect())
    }

    /// Adds an asset (`asset_id` null) or replaces an existing one's fields; returns its id.
    pub fn upsert_asset(
        &self,
        directory_id: String,
        asset_id: Option<String>,
        asset: AssetInput,
    ) -> Result<String> {
        let dir: DocumentId = parse_id("directory", &directory_id)?;
        let id: Option<AssetId> = asset_id.map(|a| parse_item_id("asset", &a)).transpose()?;
        let input = asset.into_core()?;
        Ok(self.store()?.upsert_asset(dir, id, &input)?.to_string())
    }

    /// Imports Open Referral UK services (1.0 or 3.0 JSON: one service, an array, or an API
    /// page) into the directory, in one change. All or nothing: a document that is not
    /// services, or a service without a name, is `InvalidInput` and imports nothing.
    pub fn import_open_referral(
        &self,
        directory_id: String,
        json: String,
    ) -> Result<ImportOutcome> {
        let dir: DocumentId = parse_id("directory", &directory_id)?;
        // Parse before taking the store: a large file should not hold up other calls.
        let report =
            open_referral::parse_services(json.as_bytes()).map_err(holdfast_core::Error::from)?;
        let ids = self.store()?.import_assets(dir, &report.assets)?;
        Ok(ImportOutcome {
            asset_ids: ids.into_iter().map(|a| a.to_string()).collect(),
            warnings: report.warnings.iter().map(|w| w.to_string()).collect(),
        })
    }

    /// The directory as Open Referral UK 3.0 JSON: one page of services (`contents`) that
    /// `import_open_referral` reads back as the same assets. The same directory gives the
    /// same text. A bad id is `InvalidInput`, an id not on this device `NotFound`, and a
    /// document that is not a directory `NotAllowed`.
    pub fn export_open_referral(&self, directory_id: String) -> Result<String> {
        let dir: DocumentId = parse_id("directory", &directory_id)?;
        let assets = self.store()?.directory_assets(dir)?;
        // Written after the store is let go: a large directory should not hold up other calls.
        Ok(open_referral::export_services(&assets)?)
    }

    /// Searches every directory on the device (offline, from the index), best first.
    pub fn search_directory(&self, query: DirectoryQuery) -> Result<Vec<AssetHit>> {
        let q = CoreQuery {
            text: query.text,
            category: query.category,
            district: query.district,
            capacity: query.capacity.map(Into::into),
            status: query.status.map(Into::into),
            limit: query.limit,
        };
        Ok(self
            .store()?
            .search_directory(&q)?
            .into_iter()
            .map(AssetHit::from)
            .collect())
    }

    /// One asset, with every field.
    pub fn asset(&self, directory_id: String, asset_id: String) -> Result<AssetView> {
        let dir: DocumentId = parse_id("directory", &directory_id)?;
        let id: AssetId = parse_item_id("asset", &asset_id)?;
        let asset = self.store()?.asset(dir, id)?;
        Ok(asset_view(directory_id, asset))
    }

    /// Shares a directory into another team this device is staff in (a link worker in two
    /// teams): its changes go to both from now on. Case files and plans are never shared
    /// across teams (`NotAllowed`). Returns how many changes were queued for that team.
    pub fn share_directory(&self, directory_id: String, team_id: String) -> Result<u64> {
        let dir: DocumentId = parse_id("directory", &directory_id)?;
        let team: TeamId = parse_id("team", &team_id)?;
        let queued = self.store()?.share_document(dir, team)?;
        Ok(u64::try_from(queued).unwrap_or(u64::MAX))
    }
}

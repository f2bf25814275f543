//! The community asset directory: one Automerge document per area or team, holding assets
//! whose fields follow Open Referral UK where the two overlap.

use std::collections::HashMap;

use automerge::{AutoCommit, ObjId, ObjType, ROOT, ReadDoc, transaction::Transactable};
use serde::{Deserialize, Serialize};

use super::doc::{self, Author, DocKind};
use super::ids::AssetId;
use super::postcode::Postcode;
use crate::{Error, Result};

/// How a link worker gets someone into an asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReferralRoute {
    /// Tell the person about it; they go themselves.
    #[default]
    SignpostOnly,
    /// The asset takes referrals from the link worker.
    DirectReferral,
}

/// Whether an asset can take someone now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Capacity {
    /// Taking people now.
    #[default]
    Open,
    /// Taking names for a waiting list.
    WaitingList,
    /// Not taking anyone.
    Closed,
}

/// An asset's operating status (Open Referral UK `service.status`, plus a temporary closure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
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

/// Everything a person types or an import supplies for one asset.
///
/// Open Referral UK mapping: `name`, `description`, `url`, `email`, `status` ← service;
/// `organisation` ← organization.name; `phone` ← `phones[0].number`; `address`, `postcode`
/// ← the first location's physical address; `schedule` ← regular_schedules / schedules
/// (as a readable line); `eligibility`, `min_age`, `max_age` ← eligibilitys;
/// `cost` ← cost_options / fees; `categories` ← taxonomy terms; `languages` ← languages;
/// `accessibility` ← accessibility_for_disabilities.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AssetInput {
    /// The asset's name ("Tuesday Walking Group").
    pub name: String,
    /// The organisation that runs it.
    pub organisation: Option<String>,
    /// What happens there, in plain words.
    pub description: String,
    /// Categories ("physical activity", "loneliness", "money advice").
    pub categories: Vec<String>,
    /// Contact phone.
    pub phone: Option<String>,
    /// Contact email.
    pub email: Option<String>,
    /// Web page.
    pub url: Option<String>,
    /// Street address, one line.
    pub address: Option<String>,
    /// Postcode of where it meets.
    pub postcode: Option<Postcode>,
    /// When it runs, as people say it ("Tuesdays 10:00-12:00").
    pub schedule: Option<String>,
    /// Who it is for, in words.
    pub eligibility: Option<String>,
    /// Youngest age it takes.
    pub min_age: Option<u8>,
    /// Oldest age it takes.
    pub max_age: Option<u8>,
    /// What it costs ("Free", "£2 a session").
    pub cost: Option<String>,
    /// How people get in.
    pub referral_route: ReferralRoute,
    /// Access notes (step-free, hearing loop).
    pub accessibility: Option<String>,
    /// Languages spoken.
    pub languages: Vec<String>,
    /// Whether it can take people now.
    pub capacity: Capacity,
    /// Whether it is running.
    pub status: AssetStatus,
    /// When the entry was last checked with the provider (YYYY-MM-DD).
    pub assured_date: Option<String>,
    /// Who checked it.
    pub assured_by: Option<String>,
    /// The id in the source directory, kept so a re-import updates instead of duplicating.
    pub external_id: Option<String>,
}

const MAX_FIELD: usize = 4 * 1024;

impl AssetInput {
    /// Checks the fields a directory relies on.
    pub fn validate(&self) -> Result<()> {
        doc::require_text("asset name", &self.name, 300)?;
        if let (Some(min), Some(max)) = (self.min_age, self.max_age)
            && min > max
        {
            return Err(Error::InvalidInput {
                field: "age range",
                reason: "minimum age above maximum".into(),
            });
        }
        let long = [&self.description]
            .into_iter()
            .chain(self.categories.iter())
            .chain(self.languages.iter())
            .chain(
                [
                    &self.organisation,
                    &self.phone,
                    &self.email,
                    &self.url,
                    &self.address,
                    &self.schedule,
                ]
                .into_iter()
                .chain([
                    &self.eligibility,
                    &self.cost,
                    &self.accessibility,
                    &self.assured_by,
                    &self.external_id,
                ])
                .flatten(),
            )
            .any(|s| s.len() > MAX_FIELD);
        if long {
            return Err(Error::InvalidInput {
                field: "asset",
                reason: format!("a field is longer than {MAX_FIELD} bytes"),
            });
        }
        if let Some(d) = &self.assured_date {
            doc::parse_date(d)?;
        }
        Ok(())
    }
}

/// An asset as stored: its id plus everything in [`AssetInput`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    /// Its id in the directory.
    pub id: AssetId,
    /// Its fields.
    #[serde(flatten)]
    pub fields: AssetInput,
}

/// Creates an empty directory for an area ("Leeds North").
pub fn create(author: &Author, area: &str) -> Result<AutoCommit> {
    let area = doc::require_text("directory area", area, 200)?;
    let mut doc = doc::new_document(DocKind::Directory, author)?;
    doc.put(ROOT, "area", area)?;
    doc.put_object(ROOT, "assets", ObjType::Map)?;
    Ok(doc)
}

/// The directory's area name.
pub fn area(doc: &AutoCommit) -> Result<String> {
    decode_area(doc).map_err(doc::as_damage)
}

fn decode_area(doc: &AutoCommit) -> Result<String> {
    doc::expect_kind(doc, DocKind::Directory)?;
    Ok(doc::get_string(doc, &ROOT, "area")?.unwrap_or_default())
}

fn write_asset(doc: &mut AutoCommit, a: &ObjId, input: &AssetInput) -> Result<()> {
    doc::put_string_if_changed(doc, a, "name", input.name.trim())?;
    doc::put_opt_string(doc, a, "organisation", input.organisation.as_deref())?;
    doc::put_string_if_changed(doc, a, "description", input.description.trim())?;
    doc::put_string_list(doc, a, "categories", &input.categories)?;
    doc::put_opt_string(doc, a, "phone", input.phone.as_deref())?;
    doc::put_opt_string(doc, a, "email", input.email.as_deref())?;
    doc::put_opt_string(doc, a, "url", input.url.as_deref())?;
    doc::put_opt_string(doc, a, "address", input.address.as_deref())?;
    let postcode = input.postcode.as_ref().map(|p| p.to_string());
    doc::put_opt_string(doc, a, "postcode", postcode.as_deref())?;
    doc::put_opt_string(doc, a, "schedule", input.schedule.as_deref())?;
    doc::put_opt_string(doc, a, "eligibility", input.eligibility.as_deref())?;
    let min = input.min_age.map(|v| v.to_string());
    doc::put_opt_string(doc, a, "min_age", min.as_deref())?;
    let max = input.max_age.map(|v| v.to_string());
    doc::put_opt_string(doc, a, "max_age", max.as_deref())?;
    doc::put_opt_string(doc, a, "cost", input.cost.as_deref())?;
    doc::put_string_if_changed(doc, a, "referral_route", route_str(input.referral_route))?;
    doc::put_opt_string(doc, a, "accessibility", input.accessibility.as_deref())?;
    doc::put_string_list(doc, a, "languages", &input.languages)?;
    doc::put_string_if_changed(doc, a, "capacity", capacity_str(input.capacity))?;
    doc::put_string_if_changed(doc, a, "status", status_str(input.status))?;
    doc::put_opt_string(doc, a, "assured_date", input.assured_date.as_deref())?;
    doc::put_opt_string(doc, a, "assured_by", input.assured_by.as_deref())?;
    doc::put_opt_string(doc, a, "external_id", input.external_id.as_deref())?;
    Ok(())
}

/// The stable stored name of a referral route.
pub fn route_str(r: ReferralRoute) -> &'static str {
    match r {
        ReferralRoute::SignpostOnly => "signpost_only",
        ReferralRoute::DirectReferral => "direct_referral",
    }
}

/// The stable stored name of a capacity.
pub fn capacity_str(c: Capacity) -> &'static str {
    match c {
        Capacity::Open => "open",
        Capacity::WaitingList => "waiting_list",
        Capacity::Closed => "closed",
    }
}

/// The stable stored name of an asset status.
pub fn status_str(s: AssetStatus) -> &'static str {
    match s {
        AssetStatus::Active => "active",
        AssetStatus::Inactive => "inactive",
        AssetStatus::Defunct => "defunct",
        AssetStatus::TemporarilyClosed => "temporarily_closed",
    }
}

/// Parses a stored or typed capacity name.
pub fn parse_capacity(s: &str) -> Result<Capacity> {
    match s
        .trim()
        .to_ascii_lowercase()
        .replace(['-', ' '], "_")
        .as_str()
    {
        "open" => Ok(Capacity::Open),
        "waiting_list" => Ok(Capacity::WaitingList),
        "closed" => Ok(Capacity::Closed),
        _ => Err(Error::InvalidInput {
            field: "capacity",
            reason: "expected open, waiting_list or closed".into(),
        }),
    }
}

/// Parses a stored or typed asset status name.
pub fn parse_status(s: &str) -> Result<AssetStatus> {
    match s
        .trim()
        .to_ascii_lowercase()
        .replace(['-', ' '], "_")
        .as_str()
    {
        "active" => Ok(AssetStatus::Active),
        "inactive" => Ok(AssetStatus::Inactive),
        "defunct" => Ok(AssetStatus::Defunct),
        "temporarily_closed" => Ok(AssetStatus::TemporarilyClosed),
        _ => Err(Error::InvalidInput {
            field: "asset status",
            reason: "expected active, inactive, defunct or temporarily_closed".into(),
        }),
    }
}

fn parse_route(s: &str) -> Result<ReferralRoute> {
    match s {
        "signpost_only" => Ok(ReferralRoute::SignpostOnly),
        "direct_referral" => Ok(ReferralRoute::DirectReferral),
        _ => Err(Error::Malformed("unknown referral route".into())),
    }
}

/// Adds an asset, or updates it when `id` names an existing one.
pub fn upsert_asset(
    doc: &mut AutoCommit,
    id: Option<AssetId>,
    input: &AssetInput,
) -> Result<AssetId> {
    doc::expect_kind(doc, DocKind::Directory)?;
    input.validate()?;
    let assets = doc::ensure_map(doc, &ROOT, "assets")?;
    let id = id.unwrap_or_else(AssetId::random);
    let a = doc::ensure_map(doc, &assets, &id.to_string())?;
    write_asset(doc, &a, input)?;
    Ok(id)
}

/// Imports many assets at once: an asset whose `external_id` is already in the directory is
/// updated, the rest are added. All are validated before anything is written.
pub fn import_assets(doc: &mut AutoCommit, inputs: &[AssetInput]) -> Result<Vec<AssetId>> {
    doc::expect_kind(doc, DocKind::Directory)?;
    for input in inputs {
        input.validate()?;
    }
    let assets = doc::ensure_map(doc, &ROOT, "assets")?;
    let mut by_external: HashMap<String, AssetId> = HashMap::new();
    for k in doc::map_keys(doc, &assets) {
        if let Some(a) = doc::get_obj(doc, &assets, &k)?
            && let Some(ext) = doc::get_string(doc, &a, "external_id")?
        {
            by_external.insert(ext, k.parse()?);
        }
    }
    let mut ids = Vec::with_capacity(inputs.len());
    for input in inputs {
        let existing = input
            .external_id
            .as_ref()
            .and_then(|e| by_external.get(e).copied());
        let id = existing.unwrap_or_else(AssetId::random);
        let a = doc::ensure_map(doc, &assets, &id.to_string())?;
        write_asset(doc, &a, input)?;
        if let Some(ext) = &input.external_id {
            by_external.insert(ext.clone(), id);
        }
        ids.push(id);
    }
    Ok(ids)
}

fn read_asset_obj(doc: &AutoCommit, id: AssetId, a: &ObjId) -> Result<Asset> {
    // Every field in one pass over the asset (`doc::Fields`): a directory holds thousands.
    let f = doc::Fields::of(doc, a)?;
    let age = |key: &str| -> Result<Option<u8>> {
        f.string(key)?
            .map(|s| {
                s.parse::<u8>()
                    .map_err(|_| Error::Malformed("asset age".into()))
            })
            .transpose()
    };
    Ok(Asset {
        id,
        fields: AssetInput {
            name: f.string("name")?.unwrap_or_default(),
            organisation: f.string("organisation")?,
            description: f.string("description")?.unwrap_or_default(),
            categories: f.string_list("categories")?,
            phone: f.string("phone")?,
            email: f.string("email")?,
            url: f.string("url")?,
            address: f.string("address")?,
            postcode: f
                .string("postcode")?
                .map(|p| Postcode::parse(&p))
                .transpose()?,
            schedule: f.string("schedule")?,
            eligibility: f.string("eligibility")?,
            min_age: age("min_age")?,
            max_age: age("max_age")?,
            cost: f.string("cost")?,
            referral_route: parse_route(&f.string("referral_route")?.unwrap_or_default())
                .unwrap_or_default(),
            accessibility: f.string("accessibility")?,
            languages: f.string_list("languages")?,
            capacity: parse_capacity(&f.string("capacity")?.unwrap_or_default())
                .unwrap_or_default(),
            status: parse_status(&f.string("status")?.unwrap_or_default()).unwrap_or_default(),
            assured_date: f.string("assured_date")?,
            assured_by: f.string("assured_by")?,
            external_id: f.string("external_id")?,
        },
    })
}

/// Reads one asset.
pub fn read_asset(doc: &AutoCommit, id: AssetId) -> Result<Asset> {
    decode_asset(doc, id).map_err(doc::as_damage)
}

fn decode_asset(doc: &AutoCommit, id: AssetId) -> Result<Asset> {
    doc::expect_kind(doc, DocKind::Directory)?;
    let assets = doc::require_obj(doc, &ROOT, "assets")?;
    let a = doc::get_obj(doc, &assets, &id.to_string())?.ok_or(Error::NotFound {
        kind: "asset",
        id: id.to_string(),
    })?;
    read_asset_obj(doc, id, &a)
}

/// Reads every asset, in id order.
pub fn read_all(doc: &AutoCommit) -> Result<Vec<Asset>> {
    decode_assets(doc).map_err(doc::as_damage)
}

fn decode_assets(doc: &AutoCommit) -> Result<Vec<Asset>> {
    doc::expect_kind(doc, DocKind::Directory)?;
    let Some(assets) = doc::get_obj(doc, &ROOT, "assets")? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(doc.length(&assets));
    for (k, a) in doc::map_objs(doc, &assets)? {
        out.push(read_asset_obj(doc, k.parse()?, &a)?);
    }
    Ok(out)
}

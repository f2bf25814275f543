//! A device's handling of a pull page from a hostile relay: `holdfast_core::access::open_page`
//! (team, author, signature, decryption) and `Store::apply_page` (the opened Automerge bytes
//! into the encrypted store), as the sync client chains them, without HTTP. Included by
//! path (it needs `holdfast-core`) by the `device_page` target and by
//! `core/tests/fuzz_corpus.rs`.
//!
//! One store per process (SQLCipher in a temporary folder, in `/dev/shm` where there is one,
//! on a `ManualClock`): it founds a team locally, invites a link worker and folds that
//! device's redeem, so the team has a member other than this device whose keys the target
//! holds. The team's epoch key comes out of the invite's key bundle, opened with the invite
//! code's HPKE key, as the invited device would open it; with it the target seals envelopes
//! exactly as that member would. Their plaintext is drawn from real Automerge documents
//! that member wrote (a directory and a second one: single changes, runs of changes, whole
//! saves) or is raw bytes; envelopes are then sealed with the wrong key, changed after
//! signing, sealed for another team, by this device, by a device not in the team, at an
//! epoch whose key it does not hold, repeated, and numbered as a relay pleases.
//!
//! Checks:
//! - no panic;
//! - `open_page` fails the whole page only for an envelope of another team or one that does
//!   not decode, and opens nothing that was altered after signing, not signed by its
//!   author, from this device, or from a device not in the team; what it opens is exactly
//!   the plaintext sealed;
//! - nothing that fails verification changes the store: a page `apply_page` refuses leaves
//!   every document and the cursor as they were, and documents with nothing opened keep
//!   their heads;
//! - a valid envelope is applied once, however often it is repeated: the same page again,
//!   and the opened envelopes again at new numbers, change no document.

use std::sync::{Mutex, OnceLock};

use arbitrary::Arbitrary;
use automerge::AutoCommit;
use holdfast_core::access::{OpenedPage, Roster, open_page};
use holdfast_core::crypto::TeamKeys;
use holdfast_core::model::directory::{self, AssetInput};
use holdfast_core::model::doc::{Author, commit};
use holdfast_core::model::ids::AssetId;
use holdfast_core::store::Durability;
use holdfast_core::{ManualClock, MemoryKeyStore, Store, StoreConfig};
use holdfast_protocol::{
    DeviceId, DeviceSigningKey, DocumentId, EnvelopeRef, Header, InviteCode, KeyBundle, Kind, Op,
    PullPage, Role, TeamId, WrappedKey, redeem_proof_message, seal,
};

/// 2026-01-01T00:00:00Z: the store's clock.
const START_MS: u64 = 1_767_225_600_000;
/// The most envelopes in one page.
const MAX_ITEMS: usize = 16;
/// The most raw plaintext bytes.
const MAX_RAW: usize = 2048;
/// The member whose keys the target holds.
const MEMBER: DeviceId = DeviceId([0xB0; 16]);
const MEMBER_SEED: u8 = 0xB0;
/// A device in no team.
const STRANGER: DeviceId = DeviceId([0xEE; 16]);
/// The documents the member wrote.
const DOCS: [DocumentId; 2] = [DocumentId([0xD1; 16]), DocumentId([0xD2; 16])];
/// Another document id (nothing was written to it).
const OTHER_DOC: DocumentId = DocumentId([0xD3; 16]);

/// Who an envelope claims to be from, and who signs it.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Signer {
    /// The member, honestly.
    Member,
    /// Claims the member, signed by another key.
    Forged,
    /// This device (its own envelopes are skipped).
    Me,
    /// A device the team never had.
    Stranger,
}

/// What an envelope carries.
#[derive(Arbitrary, Debug, Clone)]
pub enum Plain {
    /// One change of one of the member's documents.
    Change {
        doc: u8,
        index: u8,
    },
    /// A run of its changes, concatenated.
    Changes {
        doc: u8,
        from: u8,
        to: u8,
    },
    /// The whole document, saved.
    Save {
        doc: u8,
    },
    /// One of the above with one byte changed before sealing.
    Damaged {
        doc: u8,
        index: u8,
        at: u16,
        xor: u8,
    },
    Raw(Vec<u8>),
}

/// One envelope of the page.
#[derive(Arbitrary, Debug, Clone)]
pub struct Item {
    /// Added to the previous item's number (at least 1).
    gap: u8,
    signer: Signer,
    /// The document its header names: 0–1 the member's documents, 2 another, 3 the one its
    /// plaintext came from, whatever the others say.
    doc: u8,
    kind: u8,
    /// `0`: the epoch held; otherwise one ahead (its key not held).
    epoch_ahead: bool,
    covers: u8,
    salt: u16,
    plain: Plain,
    other_team: bool,
    /// Bytes changed after sealing (the signature no longer holds).
    tamper: Option<(u16, u8)>,
    /// Instead of all this: the previous item's envelope again.
    repeat: bool,
}

/// A page from the relay.
#[derive(Arbitrary, Debug, Clone)]
pub struct Page {
    /// The first item's number: this far below the cursor (an old page replayed) or above.
    back: u8,
    items: Vec<Item>,
    /// What the page says comes next: after its last item, plus this.
    next_gap: i8,
    more: bool,
    bootstrap: bool,
}

struct Device {
    store: Mutex<Store>,
    team: TeamId,
    me: DeviceId,
    keys: TeamKeys,
    roster: Roster,
    /// For each of [`DOCS`]: its changes, one chunk each, and its save.
    changes: Vec<Vec<Vec<u8>>>,
    saves: Vec<Vec<u8>>,
    epoch: u32,
    _dir: tempfile::TempDir,
}

fn signing_key(seed: u8) -> DeviceSigningKey {
    DeviceSigningKey::from_seed([seed; 32]).expect("a 32-byte seed is a valid Ed25519 seed")
}

fn device() -> &'static Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE.get_or_init(start)
}

/// A document the member writes: a directory with a few assets, one change each.
fn written(area: &str, assets: u8) -> AutoCommit {
    let author = Author {
        device: MEMBER,
        person: "Bea".into(),
    };
    let mut doc = directory::create(&author, area).expect("a directory");
    commit(&mut doc, &author, "created", START_MS as i64);
    for n in 0..assets {
        let input = AssetInput {
            name: format!("Asset {n} of {area}"),
            description: "Tea and a chat".into(),
            categories: vec!["loneliness".into()],
            ..AssetInput::default()
        };
        directory::upsert_asset(&mut doc, Some(AssetId([n; 8])), &input).expect("an asset");
        commit(&mut doc, &author, "asset", START_MS as i64 + i64::from(n));
    }
    doc
}

fn start() -> Device {
    let dir = match std::fs::metadata("/dev/shm") {
        Ok(m) if m.is_dir() => tempfile::Builder::new()
            .prefix("holdfast-fuzz-device")
            .tempdir_in("/dev/shm"),
        _ => tempfile::Builder::new()
            .prefix("holdfast-fuzz-device")
            .tempdir(),
    }
    .expect("a temporary folder for the store");
    let clock = ManualClock::at(START_MS);
    let mut config = StoreConfig::new(dir.path(), "Sam");
    config.durability = Durability::Relaxed;
    config.clock = std::sync::Arc::new(clock);
    let mut store = Store::create(&config, &MemoryKeyStore::default()).expect("a store");
    let team = store
        .create_team("https://relay.fuzz.invalid")
        .expect("a team founded here");
    let me = store.author().device;

    // Invite a link worker; its bundle carries the team's key, which the invite code opens.
    let invite = store
        .prepare_invite(team, Role::LinkWorker, None, 7 * 24 * 3_600_000)
        .expect("an invite");
    let code: &InviteCode = &invite.code;
    let my_key = store.access(team).expect("the team").membership.devices[&me].sign_key;
    let opened = KeyBundle::decode(&invite.bundle)
        .and_then(|b| b.open(&my_key, &code.hpke_key().expect("the invite's HPKE key")))
        .expect("the invite's bundle opens with its code");
    let (epoch, key) = opened
        .into_iter()
        .find_map(|k| match k {
            WrappedKey::Epoch { epoch, key } => Some((epoch, key)),
            _ => None,
        })
        .expect("the invite's bundle carries the team's key");
    let mut keys = TeamKeys::new(team);
    keys.insert_epoch(epoch, key);

    // The member redeems it.
    let member_key = signing_key(MEMBER_SEED);
    let hpke = holdfast_protocol::HpkeKeyPair::from_seed([MEMBER_SEED; 32])
        .expect("an HPKE key")
        .public_key()
        .clone();
    let proof = redeem_proof_message(&team, &code.id(), &MEMBER, &member_key.public_key(), &hpke);
    let op = Op::Redeem {
        invite: code.id(),
        device: MEMBER,
        sign_key: member_key.public_key(),
        hpke_key: hpke,
        device_signature: member_key.sign(&proof),
    };
    let redeem = holdfast_protocol::Entry::sign(
        team,
        START_MS + 1000,
        code.id().0,
        op,
        &code.signing_key().expect("the invite's signing key"),
    )
    .expect("a redeem entry");
    store
        .apply_membership(
            team,
            &[(1, invite.entry.clone()), (2, redeem.as_bytes().to_vec())],
            3,
        )
        .expect("the device folds the invite and the redeem");
    let roster = Roster::from_access(store.access(team).expect("the team"));

    let docs = [written("Leeds North", 3), written("Leeds South", 2)];
    let mut changes = Vec::new();
    let mut saves = Vec::new();
    for mut doc in docs {
        changes.push(
            doc.get_changes(&[])
                .iter()
                .map(|c| c.raw_bytes().to_vec())
                .collect(),
        );
        saves.push(doc.save());
    }
    Device {
        store: Mutex::new(store),
        team,
        me,
        keys,
        roster,
        changes,
        saves,
        epoch,
        _dir: dir,
    }
}

impl Device {
    fn plaintext(&self, plain: &Plain) -> (usize, Vec<u8>) {
        let pick = |doc: u8| usize::from(doc) % DOCS.len();
        let change = |d: usize, index: u8| {
            let list = &self.changes[d];
            list[usize::from(index) % list.len()].clone()
        };
        match plain {
            Plain::Change { doc, index } => (pick(*doc), change(pick(*doc), *index)),
            Plain::Changes { doc, from, to } => {
                let d = pick(*doc);
                let list = &self.changes[d];
                let from = usize::from(*from) % list.len();
                let to = (usize::from(*to) % list.len()).max(from);
                (d, list[from..=to].concat())
            }
            Plain::Save { doc } => (pick(*doc), self.saves[pick(*doc)].clone()),
            Plain::Damaged {
                doc,
                index,
                at,
                xor,
            } => {
                let d = pick(*doc);
                let mut bytes = change(d, *index);
                let len = bytes.len();
                bytes[usize::from(*at) % len] ^= xor;
                (d, bytes)
            }
            Plain::Raw(bytes) => (2, bytes[..bytes.len().min(MAX_RAW)].to_vec()),
        }
    }

    /// The page's envelopes; for each, whether the target sealed it so that it must open
    /// (`Some(plaintext)`) or must not.
    fn page(&self, spec: &Page, cursor: u64) -> (PullPage, Vec<Option<Vec<u8>>>) {
        let mut seq = cursor.saturating_sub(u64::from(spec.back % 4));
        let mut items: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut valid: Vec<Option<Vec<u8>>> = Vec::new();
        for item in spec.items.iter().take(MAX_ITEMS) {
            seq = seq.saturating_add(u64::from(item.gap % 4) + 1);
            if item.repeat
                && let (Some((_, last)), Some(was)) = (items.last(), valid.last())
            {
                let (last, was) = (last.clone(), was.clone());
                items.push((seq, last));
                valid.push(was);
                continue;
            }
            let (from, plaintext) = self.plaintext(&item.plain);
            let document = match item.doc % 4 {
                0 => DOCS[0],
                1 => DOCS[1],
                2 => OTHER_DOC,
                _ => DOCS.get(from).copied().unwrap_or(OTHER_DOC),
            };
            let (author, seed) = match item.signer {
                Signer::Member => (MEMBER, MEMBER_SEED),
                Signer::Forged => (MEMBER, MEMBER_SEED ^ 1),
                // This device's key is in the key store; its envelopes are skipped unopened
                // whoever signed them.
                Signer::Me => (self.me, MEMBER_SEED),
                Signer::Stranger => (STRANGER, 0xEE),
            };
            let kind = match item.kind % 3 {
                0 => Kind::ChangeBatch,
                1 => Kind::Snapshot,
                _ => Kind::KeyMaterial,
            };
            let epoch = self.epoch + u32::from(item.epoch_ahead);
            let team = if item.other_team {
                TeamId([0x11; 16])
            } else {
                self.team
            };
            let mut nonce = [0u8; 12];
            nonce[10..].copy_from_slice(&item.salt.to_be_bytes());
            let header = Header {
                kind,
                team,
                document,
                epoch,
                author,
                covers: u64::from(item.covers),
                nonce,
            };
            // The key a member would use (for an epoch not held, any key: it cannot open).
            let key = self
                .keys
                .key_for(document, self.epoch)
                .expect("the held epoch's key");
            let Ok(mut sealed) = seal(&header, &key, &plaintext, &signing_key(seed)) else {
                continue;
            };
            let mut opens = matches!(item.signer, Signer::Member)
                && !item.epoch_ahead
                && !item.other_team
                && kind != Kind::KeyMaterial;
            if let Some((at, xor)) = item.tamper
                && xor != 0
            {
                let len = sealed.len();
                sealed[usize::from(at) % len] ^= xor;
                opens = false;
            }
            items.push((seq, sealed));
            valid.push(opens.then_some(plaintext));
        }
        let last = items.last().map_or(cursor, |(s, _)| *s);
        let page = PullPage {
            items,
            next: last.saturating_add_signed(i64::from(spec.next_gap)),
            more: spec.more,
        };
        (page, valid)
    }
}

/// The heads of every document the member wrote, and the cursor.
fn snapshot(store: &mut Store, team: TeamId) -> (Vec<Option<Vec<String>>>, u64) {
    let heads = DOCS
        .iter()
        .chain([&OTHER_DOC])
        .map(|d| store.heads(*d).ok())
        .collect();
    let cursor = store.team(team).expect("the team").cursor;
    (heads, cursor)
}

pub fn check_device_page(spec: &Page) {
    let device = device();
    let mut store = device.store.lock().unwrap_or_else(|e| e.into_inner());
    let team = device.team;
    let cursor = store.team(team).expect("the team").cursor;
    let (page, valid) = device.page(spec, cursor);
    // What the client does with the body: decode it. A page that does not encode or decode
    // (numbers not rising, an envelope cut short) is one no relay can get a device to open.
    let Ok(bytes) = page.encode() else {
        return;
    };
    let Ok(page) = PullPage::decode(&bytes) else {
        return;
    };

    let opened = match open_page(team, &device.keys, &device.roster, device.me, cursor, &page) {
        Ok(opened) => opened,
        Err(_) => {
            // Only an envelope of another team (or one that does not decode) past the
            // cursor refuses the whole page.
            assert!(
                page.items.iter().any(|(seq, bytes)| *seq > cursor
                    && !EnvelopeRef::decode(bytes).is_ok_and(|e| e.header.team == team)),
                "a page refused whole without an envelope of another team"
            );
            return;
        }
    };
    check_opened(&page, &valid, &opened, cursor);

    let before = snapshot(&mut store, team);
    let touched: Vec<DocumentId> = opened.items.iter().map(|i| i.doc).collect();
    let result = store.apply_page(team, opened.clone(), spec.bootstrap);
    let after = snapshot(&mut store, team);
    if std::env::var_os("HOLDFAST_FUZZ_TRACE").is_some() {
        eprintln!(
            "[device_page] opened {} refused {} own {} blocked {} -> {:?}",
            opened.items.len(),
            opened.refused.len(),
            opened.own,
            opened.blocked.is_some(),
            result
                .as_ref()
                .map(|o| (o.applied, o.refused, o.new_documents)),
        );
    }
    match &result {
        Err(_) => assert_eq!(after, before, "a page the store refuses changes nothing"),
        Ok(outcome) => {
            assert!(outcome.cursor >= cursor, "the cursor never goes back");
            assert_eq!(after.1, outcome.cursor, "the cursor the outcome reports");
            for (n, doc) in DOCS.iter().chain([&OTHER_DOC]).enumerate() {
                if !touched.contains(doc) {
                    assert_eq!(
                        after.0[n], before.0[n],
                        "a document with nothing opened keeps its heads"
                    );
                }
            }
        }
    }
    if result.is_err() {
        return;
    }

    // The same page again: everything in it is at or below the cursor now, or was refused.
    let cursor = after.1;
    if let Ok(again) = open_page(team, &device.keys, &device.roster, device.me, cursor, &page) {
        let _ = store.apply_page(team, again, spec.bootstrap);
        assert_eq!(
            snapshot(&mut store, team).0,
            after.0,
            "the same page again changes no document"
        );
    }
    // The opened envelopes again, at new numbers (a relay that stores them twice).
    let cursor = store.team(team).expect("the team").cursor;
    let mut seq = cursor;
    let repeated = PullPage {
        items: page
            .items
            .iter()
            .filter(|(s, _)| opened.items.iter().any(|o| o.seq == *s))
            .map(|(_, bytes)| {
                seq += 1;
                (seq, bytes.clone())
            })
            .collect(),
        next: seq,
        more: false,
    };
    if repeated.items.is_empty() {
        return;
    }
    let again = open_page(
        team,
        &device.keys,
        &device.roster,
        device.me,
        cursor,
        &repeated,
    )
    .expect("envelopes that opened open again");
    assert_eq!(again.items.len(), repeated.items.len(), "they open again");
    let before = snapshot(&mut store, team);
    let outcome = store
        .apply_page(team, again, false)
        .expect("envelopes applied once apply again");
    let after = snapshot(&mut store, team);
    assert_eq!(
        after.0, before.0,
        "a valid envelope applied again changes nothing ({outcome:?})"
    );
}

/// What `open_page` opened is exactly what the target sealed to open.
fn check_opened(page: &PullPage, valid: &[Option<Vec<u8>>], opened: &OpenedPage, cursor: u64) {
    assert!(opened.next >= cursor, "the cursor never goes back");
    for item in &opened.items {
        assert!(
            item.seq > cursor,
            "nothing at or below the cursor is opened"
        );
        let index = page
            .items
            .iter()
            .position(|(s, _)| *s == item.seq)
            .expect("an opened envelope is on the page");
        let expected = valid[index]
            .as_ref()
            .unwrap_or_else(|| panic!("envelope {} opened, but it was sealed not to", item.seq));
        assert_eq!(&item.plaintext, expected, "it opens to what was sealed");
        assert_eq!(item.author, MEMBER);
        assert!(
            !opened.refused.iter().any(|r| r.seq == item.seq),
            "opened and refused"
        );
    }
}

//! Writes one valid input of each kind into `fuzz/corpus/TARGET/seed-*`, so the fuzzers
//! start from encodings that decode (and whose signatures check with the keys the checks
//! use) instead of having to discover every magic number and length first.
//!
//! `cd fuzz && cargo +nightly run --example seed_corpus`.

use std::path::Path;

use holdfast_fuzz::{TEAM, document_key, hpke_key, signing_key};
use holdfast_protocol::{
    BundleHeader, DeviceId, DocumentId, Entry, EpochKey, Header, InviteCode, InviteId, KeyBundle,
    Kind, Membership, Op, PullPage, PushBatch, RelayPin, Role, WrappedKey, epoch_key_commitment,
    seal,
};

const AT_MS: u64 = 1_767_225_600_000;

fn write(target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(format!("seed-{name}")), bytes)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let author = DeviceId([0x30; 16]);
    let signer = signing_key(1);
    let header = |kind, covers, nonce: u8| Header {
        kind,
        team: TEAM,
        document: DocumentId([0x20; 16]),
        epoch: 1,
        author,
        covers,
        nonce: [nonce; 12],
    };
    let change = seal(
        &header(Kind::ChangeBatch, 0, 1),
        &document_key(),
        b"a change",
        &signer,
    )?;
    let snapshot = seal(
        &header(Kind::Snapshot, 7, 2),
        &document_key(),
        b"a snapshot",
        &signer,
    )?;
    write("envelope", "change", &change)?;
    write("envelope", "snapshot", &snapshot)?;

    let batch = PushBatch::encode(&TEAM, &author, &signer, AT_MS, &[&change, &snapshot])?;
    write("push_batch", "two", &batch)?;

    let page = PullPage {
        items: vec![(1, change.clone()), (2, snapshot.clone())],
        next: 2,
        more: true,
    };
    write("pull_page", "two", &page.encode()?)?;

    let admin = DeviceId([0x40; 16]);
    let genesis = Entry::sign(
        TEAM,
        AT_MS,
        admin.0,
        Op::Genesis {
            device: admin,
            sign_key: signing_key(0x40).public_key(),
            hpke_key: hpke_key(0x40).public_key().clone(),
            key_commitment: epoch_key_commitment(&TEAM, 1, &EpochKey::from_bytes([1; 32])),
        },
        &signing_key(0x40),
    )?;
    let invite = Entry::sign(
        TEAM,
        AT_MS,
        admin.0,
        Op::Invite {
            invite: InviteId([0x80; 16]),
            sign_key: signing_key(0x80).public_key(),
            hpke_key: hpke_key(0x80).public_key().clone(),
            role: Role::Patient,
            plan: Some(DocumentId([0xC0; 16])),
            expires_at_ms: AT_MS + 60_000,
        },
        &signing_key(0x40),
    )?;
    write("membership_entry", "genesis", genesis.as_bytes())?;
    write("membership_entry", "invite", invite.as_bytes())?;
    let mut state = Membership::new(TEAM);
    state.apply(&genesis)?;
    state.apply(&invite)?;
    write(
        "membership_snapshot",
        "genesis-invite",
        &state.to_snapshot(),
    )?;

    let bundle = KeyBundle::seal(
        BundleHeader {
            team: TEAM,
            recipient: [0x02; 16],
            sender: author,
            at_ms: AT_MS,
        },
        hpke_key(2).public_key(),
        &[WrappedKey::Epoch {
            epoch: 1,
            key: EpochKey::from_bytes([1; 32]),
        }],
        &signer,
    )?;
    write("key_bundle", "epoch", &bundle)?;

    let code = InviteCode::from_parts(
        "https://relay.example",
        TEAM,
        [0x90; 16],
        Role::Patient,
        Some(DocumentId([0xC0; 16])),
        AT_MS,
        [0x91; 32],
    )?
    .with_relay_pin(Some(RelayPin([0xD0; 32])));
    write("invite_code", "patient-pinned", code.encode().as_bytes())?;
    Ok(())
}

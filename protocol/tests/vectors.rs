//! Test vectors: docs/PROTOCOL.md carries the exact bytes of envelopes, a push batch, a pull
//! page and an auth answer built from fixed inputs. This test reads them from the document
//! and checks, byte for byte, that encoding the inputs gives them and that they decode,
//! verify and open back to the inputs. Ed25519 signing and AES-GCM are deterministic given
//! key, nonce and message, so the bytes can never drift without this test failing.

mod common;

use std::collections::BTreeMap;

use common::*;
use holdfast_protocol::{
    DocumentId, Entry, EnvelopeId, EnvelopeRef, EpochKey, InviteCode, Op, PullPage, PushBatch,
    PushBatchRef, RelayPin, Role, auth_message, derive_document_key, epoch_key_commitment,
    sign_auth, verify_auth,
};

/// Epoch key 0x60..=0x7F.
fn epoch_key() -> EpochKey {
    EpochKey::from_bytes(counting(0x60))
}

/// A Revoke of device 0x30.. in team 0x10.., new epoch 8, signed by the vector signer.
fn revoke_entry() -> Entry {
    Entry::sign(
        team(),
        TIMESTAMP_MS,
        author().0,
        Op::Revoke {
            device: holdfast_protocol::DeviceId(counting(0x80)),
            epoch: 8,
            key_commitment: epoch_key_commitment(&team(), 8, &epoch_key()),
        },
        &signer(),
    )
    .unwrap()
}

/// A patient invite for document 0x20.., secret 0x90..=0xAF, anchor 0xC0..=0xCF.
fn invite() -> InviteCode {
    InviteCode::from_parts(
        "https://relay.example",
        team(),
        counting(0xC0),
        Role::Patient,
        Some(document()),
        TIMESTAMP_MS + 15 * 60 * 1000,
        counting(0x90),
    )
    .unwrap()
}

/// The same invite for a self-hosted relay: its CA pinned as `d0 d1 … ef` (a version-2
/// code).
fn pinned_invite() -> InviteCode {
    invite().with_relay_pin(Some(RelayPin(counting(0xD0))))
}

const PROTOCOL_MD: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/PROTOCOL.md"));

/// Every fenced block opened with ```` ```hex vector-NAME ````, as bytes, by name.
fn vectors_in(markdown: &str) -> BTreeMap<String, Vec<u8>> {
    let mut vectors = BTreeMap::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.trim().strip_prefix("```hex ") else {
            continue;
        };
        let name = name.trim().to_owned();
        assert!(
            name.starts_with("vector-"),
            "hex block {name:?} is not named vector-…"
        );
        let mut hex_text = String::new();
        for body in lines.by_ref() {
            if body.trim() == "```" {
                break;
            }
            hex_text.extend(body.chars().filter(|c| !c.is_whitespace()));
        }
        let bytes = hex::decode(&hex_text).unwrap_or_else(|e| panic!("{name}: bad hex: {e}"));
        assert!(
            vectors.insert(name.clone(), bytes).is_none(),
            "{name} appears twice"
        );
    }
    vectors
}

/// The vectors as this crate encodes them from the fixed inputs.
fn expected() -> BTreeMap<String, Vec<u8>> {
    let envelope = envelope_1();
    let snapshot = snapshot_1();
    let batch =
        PushBatch::encode(&team(), &author(), &signer(), TIMESTAMP_MS, &[&envelope]).unwrap();
    let page = PullPage {
        items: vec![(1, envelope.clone()), (2, snapshot.clone())],
        next: 2,
        more: false,
    };
    let auth = sign_auth(&signer(), ORIGIN, &author(), &challenge()).unwrap();
    [
        ("vector-signer-public-key", signer().public_key().to_vec()),
        ("vector-envelope-1-id", EnvelopeId::of(&envelope).0.to_vec()),
        ("vector-envelope-1", envelope),
        ("vector-snapshot-1-id", EnvelopeId::of(&snapshot).0.to_vec()),
        ("vector-snapshot-1", snapshot),
        ("vector-push-batch-1", batch),
        ("vector-pull-page-1", page.encode().unwrap()),
        (
            "vector-auth-message-1",
            auth_message(ORIGIN, &author(), &challenge()).unwrap(),
        ),
        ("vector-auth-signature-1", auth.to_vec()),
        (
            "vector-document-key-1",
            derive_document_key(&team(), &epoch_key(), &document(), 7)
                .unwrap()
                .as_bytes()
                .to_vec(),
        ),
        ("vector-revoke-entry-1", revoke_entry().as_bytes().to_vec()),
        ("vector-invite-code-1", invite().encode().into_bytes()),
        ("vector-invite-id-1", invite().id().0.to_vec()),
        (
            "vector-invite-code-2",
            pinned_invite().encode().into_bytes(),
        ),
    ]
    .into_iter()
    .map(|(name, bytes)| (name.to_owned(), bytes))
    .collect()
}

#[test]
fn documented_vectors_are_exactly_what_we_encode() {
    let documented = vectors_in(PROTOCOL_MD);
    let expected = expected();
    let documented_names: Vec<_> = documented.keys().collect();
    let expected_names: Vec<_> = expected.keys().collect();
    assert_eq!(
        documented_names, expected_names,
        "docs/PROTOCOL.md has other vectors than this test checks"
    );
    for (name, bytes) in &expected {
        assert_eq!(
            hex::encode(&documented[name]),
            hex::encode(bytes),
            "{name} differs from docs/PROTOCOL.md"
        );
    }
}

#[test]
fn documented_vectors_decode_verify_and_open_to_their_inputs() {
    let v = vectors_in(PROTOCOL_MD);
    let public: [u8; 32] = v["vector-signer-public-key"].as_slice().try_into().unwrap();
    assert_eq!(public, signer().public_key());

    for (name, header, plaintext) in [
        ("vector-envelope-1", header_1(), PLAINTEXT_1),
        (
            "vector-snapshot-1",
            snapshot_header_1(),
            SNAPSHOT_PLAINTEXT_1,
        ),
    ] {
        let envelope = EnvelopeRef::decode(&v[name]).unwrap();
        assert_eq!(envelope.header, header, "{name}");
        assert_eq!(
            envelope.id().0.as_slice(),
            v[&format!("{name}-id")].as_slice(),
            "{name}"
        );
        envelope.verify(&public).unwrap();
        assert_eq!(
            envelope.open(&public, &document_key()).unwrap(),
            plaintext,
            "{name}"
        );
    }

    let batch = PushBatchRef::decode(&v["vector-push-batch-1"]).unwrap();
    assert_eq!(
        (batch.team(), batch.pusher(), batch.timestamp_ms()),
        (team(), author(), TIMESTAMP_MS)
    );
    assert_eq!(batch.envelopes().len(), 1);
    assert_eq!(
        batch.envelopes()[0].as_bytes(),
        v["vector-envelope-1"].as_slice()
    );
    assert_eq!(
        batch.ids()[0].0.as_slice(),
        v["vector-envelope-1-id"].as_slice()
    );
    batch.verify(&public).unwrap();
    batch.check_authorship().unwrap();

    let page = PullPage::decode(&v["vector-pull-page-1"]).unwrap();
    assert_eq!((page.next, page.more), (2, false));
    assert_eq!(
        page.items,
        vec![
            (1, v["vector-envelope-1"].clone()),
            (2, v["vector-snapshot-1"].clone())
        ]
    );

    assert_eq!(
        v["vector-auth-message-1"],
        auth_message(ORIGIN, &author(), &challenge()).unwrap()
    );
    let signature: [u8; 64] = v["vector-auth-signature-1"].as_slice().try_into().unwrap();
    verify_auth(&public, ORIGIN, &author(), &challenge(), &signature).unwrap();
}

#[test]
fn documented_access_vectors_decode_to_their_inputs() {
    let v = vectors_in(PROTOCOL_MD);
    let entry = Entry::decode(&v["vector-revoke-entry-1"]).unwrap();
    assert_eq!(entry, revoke_entry());
    assert_eq!(
        entry.op,
        Op::Revoke {
            device: holdfast_protocol::DeviceId(counting(0x80)),
            epoch: 8,
            key_commitment: epoch_key_commitment(&team(), 8, &epoch_key()),
        }
    );
    assert_eq!(
        (entry.team, entry.at_ms, entry.signer),
        (team(), TIMESTAMP_MS, author().0)
    );
    let text = std::str::from_utf8(&v["vector-invite-code-1"]).unwrap();
    let code = InviteCode::decode(text).unwrap();
    assert_eq!(code, invite());
    assert_eq!(code.id().0.as_slice(), v["vector-invite-id-1"].as_slice());
    assert_eq!(code.plan, Some(DocumentId(counting(0x20))));
    assert_eq!((code.role, code.anchor), (Role::Patient, counting(0xC0)));
    assert_eq!(code.relay_pin, None, "a version-1 code pins nothing");
    let text = std::str::from_utf8(&v["vector-invite-code-2"]).unwrap();
    let pinned = InviteCode::decode(text).unwrap();
    assert_eq!(pinned, pinned_invite());
    assert_eq!(pinned.relay_pin, Some(RelayPin(counting(0xD0))));
    assert_eq!(
        pinned.id(),
        code.id(),
        "the pin is not part of the invite's identity"
    );
}

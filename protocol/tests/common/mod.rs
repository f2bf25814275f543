//! Fixed inputs shared by the integration tests: the test-vector inputs of docs/PROTOCOL.md
//! and small helpers.
#![allow(dead_code)]

use holdfast_protocol::{
    DeviceId, DeviceSigningKey, DocumentId, DocumentKey, Header, Kind, TeamId, seal,
};

/// `start, start+1, …` as an array: the fixed byte patterns of the vectors.
pub fn counting<const N: usize>(start: u8) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, b) in out.iter_mut().enumerate() {
        *b = start.wrapping_add(i as u8);
    }
    out
}

/// Signing-key seed 0x01..=0x20.
pub fn signer() -> DeviceSigningKey {
    DeviceSigningKey::from_seed(counting(0x01)).expect("seed")
}

/// Another device's key, for wrong-signer tests.
pub fn other_signer() -> DeviceSigningKey {
    DeviceSigningKey::from_seed([0x55; 32]).expect("seed")
}

/// Document key 0xA0..=0xBF.
pub fn document_key() -> DocumentKey {
    DocumentKey::from_bytes(counting(0xA0))
}

/// Team 0x10..=0x1F.
pub fn team() -> TeamId {
    TeamId(counting(0x10))
}

/// Document 0x20..=0x2F.
pub fn document() -> DocumentId {
    DocumentId(counting(0x20))
}

/// Author (and pusher) 0x30..=0x3F.
pub fn author() -> DeviceId {
    DeviceId(counting(0x30))
}

/// The vector timestamp: 2026-01-01T00:00:00Z in ms.
pub const TIMESTAMP_MS: u64 = 1_767_225_600_000;

/// The relay origin of the auth vector.
pub const ORIGIN: &str = "http://127.0.0.1:8080";

/// Challenge 0x40..=0x5F.
pub fn challenge() -> [u8; 32] {
    counting(0x40)
}

/// Plaintext of envelope vector 1.
pub const PLAINTEXT_1: &[u8] = b"holdfast test vector 1";
/// Plaintext of the snapshot vector.
pub const SNAPSHOT_PLAINTEXT_1: &[u8] = b"holdfast snapshot vector 1";

/// Header of envelope vector 1: change batch, epoch 7, nonce 0x00..=0x0B.
pub fn header_1() -> Header {
    Header {
        kind: Kind::ChangeBatch,
        team: team(),
        document: document(),
        epoch: 7,
        author: author(),
        covers: 0,
        nonce: counting(0x00),
    }
}

/// Header of the snapshot vector: covers 1234, nonce 0x0C..=0x17 (never reuse a nonce).
pub fn snapshot_header_1() -> Header {
    Header {
        kind: Kind::Snapshot,
        covers: 1234,
        nonce: counting(0x0C),
        ..header_1()
    }
}

/// Envelope vector 1.
pub fn envelope_1() -> Vec<u8> {
    seal(&header_1(), &document_key(), PLAINTEXT_1, &signer()).expect("seal")
}

/// The snapshot vector.
pub fn snapshot_1() -> Vec<u8> {
    seal(
        &snapshot_header_1(),
        &document_key(),
        SNAPSHOT_PLAINTEXT_1,
        &signer(),
    )
    .expect("seal")
}

/// A header for `kind` with the vector ids and the given nonce byte pattern.
pub fn header(kind: Kind, covers: u64, nonce_start: u8) -> Header {
    Header {
        kind,
        covers,
        nonce: counting(nonce_start),
        ..header_1()
    }
}

/// Hand-framed push batch, signed by `signer` as the spec says: lets tests build batches
/// that `PushBatch::encode` refuses (wrong authors, bad counts).
pub fn frame_push(
    team: &TeamId,
    pusher: &DeviceId,
    signer: &DeviceSigningKey,
    timestamp_ms: u64,
    count: u16,
    envelopes: &[&[u8]],
) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"HFP1");
    out.extend_from_slice(&team.0);
    out.extend_from_slice(&pusher.0);
    out.extend_from_slice(&timestamp_ms.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    let mut message = Vec::new();
    message.extend_from_slice(b"holdfast-push-v1");
    message.extend_from_slice(&team.0);
    message.extend_from_slice(&pusher.0);
    message.extend_from_slice(&timestamp_ms.to_be_bytes());
    for e in envelopes {
        out.extend_from_slice(&(e.len() as u32).to_be_bytes());
        out.extend_from_slice(e);
        message.extend_from_slice(ring::digest::digest(&ring::digest::SHA256, e).as_ref());
    }
    out.extend_from_slice(&signer.sign(&message));
    out
}

//! Criterion benches of the wire format: seal and open a 1 KiB envelope, decode it, verify
//! its signature, and decode + verify + check a push batch of 100 such envelopes (the
//! relay's work per push).
//!
//! `cargo bench -p holdfast-protocol --bench envelope`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use holdfast_protocol::{
    DeviceId, DeviceSigningKey, DocumentId, DocumentKey, EnvelopeRef, Header, Kind, PushBatch,
    PushBatchRef, TeamId, seal,
};

fn header(i: u32) -> Header {
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(&i.to_be_bytes());
    Header {
        kind: Kind::ChangeBatch,
        team: TeamId([0x10; 16]),
        document: DocumentId([0x20; 16]),
        epoch: 1,
        author: DeviceId([0x30; 16]),
        covers: 0,
        nonce,
    }
}

fn benches(c: &mut Criterion) {
    let signer = DeviceSigningKey::from_seed([1; 32]).expect("seed");
    let public = signer.public_key();
    let key = DocumentKey::from_bytes([2; 32]);
    let plaintext = vec![0x5A; 1024];
    let bytes = seal(&header(0), &key, &plaintext, &signer).expect("seal");

    let mut group = c.benchmark_group("envelope_1KiB");
    group.throughput(Throughput::Elements(1));
    group.bench_function("seal (encrypt + sign)", |b| {
        b.iter(|| seal(black_box(&header(0)), &key, black_box(&plaintext), &signer).expect("seal"))
    });
    group.bench_function("open (decode + verify + decrypt)", |b| {
        b.iter(|| {
            EnvelopeRef::decode(black_box(&bytes))
                .and_then(|e| e.open(&public, &key))
                .expect("open")
        })
    });
    group.bench_function("decode", |b| {
        b.iter(|| EnvelopeRef::decode(black_box(&bytes)).expect("decode"))
    });
    group.bench_function("verify signature", |b| {
        let envelope = EnvelopeRef::decode(&bytes).expect("decode");
        b.iter(|| black_box(&envelope).verify(&public).expect("verify"))
    });
    group.bench_function("id (SHA-256)", |b| {
        let envelope = EnvelopeRef::decode(&bytes).expect("decode");
        b.iter(|| black_box(&envelope).id())
    });
    group.finish();

    let envelopes: Vec<Vec<u8>> = (0..100)
        .map(|i| seal(&header(i), &key, &plaintext, &signer).expect("seal"))
        .collect();
    let refs: Vec<&[u8]> = envelopes.iter().map(Vec::as_slice).collect();
    let team = TeamId([0x10; 16]);
    let pusher = DeviceId([0x30; 16]);
    let batch =
        PushBatch::encode(&team, &pusher, &signer, 1_767_225_600_000, &refs).expect("encode");

    let mut group = c.benchmark_group("push_batch_100x1KiB");
    group.throughput(Throughput::Elements(100));
    group.bench_function("decode + verify + check_authorship", |b| {
        b.iter(|| {
            let decoded = PushBatchRef::decode(black_box(&batch)).expect("decode");
            decoded.verify(&public).expect("verify");
            decoded.check_authorship().expect("authorship");
            decoded.len()
        })
    });
    group.bench_function("encode (device side)", |b| {
        b.iter(|| {
            PushBatch::encode(&team, &pusher, &signer, 1_767_225_600_000, black_box(&refs))
                .expect("encode")
        })
    });
    group.finish();
}

criterion_group!(envelope, benches);
criterion_main!(envelope);

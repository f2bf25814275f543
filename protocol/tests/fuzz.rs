//! Property tests: the decoders are total. Arbitrary bytes and mutated valid encodings give
//! a value or an error, never a panic; anything that does decode re-encodes identically.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use holdfast_protocol::{
    EnvelopeRef, INVITE_PREFIX, InviteCode, Kind, PullPage, PushBatch, PushBatchRef, RelayPin,
    Role, seal,
};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/fuzz.proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

/// One edit to a byte string.
#[derive(Debug, Clone)]
enum Mutation {
    Flip {
        at: usize,
        mask: u8,
    },
    Set {
        at: usize,
        value: u8,
    },
    Truncate {
        at: usize,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    Remove {
        at: usize,
        len: usize,
    },
    /// Overwrite 4 bytes with a big-endian u32, to hit length prefixes and counts.
    Word {
        at: usize,
        value: u32,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, value)| Mutation::Set { at, value }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), 1usize..16).prop_map(|(at, len)| Mutation::Remove { at, len }),
        (
            any::<usize>(),
            prop_oneof![
                Just(0u32),
                Just(1),
                Just(15),
                Just(16),
                Just(u32::MAX),
                any::<u32>()
            ]
        )
            .prop_map(|(at, value)| Mutation::Word { at, value }),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutations: &[Mutation]) {
    for m in mutations {
        let len = bytes.len().max(1);
        match m {
            Mutation::Flip { at, mask } => {
                if let Some(b) = bytes.get_mut(at % len) {
                    *b ^= mask;
                }
            }
            Mutation::Set { at, value } => {
                if let Some(b) = bytes.get_mut(at % len) {
                    *b = *value;
                }
            }
            Mutation::Truncate { at } => bytes.truncate(at % len),
            Mutation::Insert { at, bytes: new } => {
                let at = at % (bytes.len() + 1);
                bytes.splice(at..at, new.iter().copied());
            }
            Mutation::Remove { at, len: n } => {
                let at = at % len;
                let end = (at + n).min(bytes.len());
                if at < end {
                    bytes.drain(at..end);
                }
            }
            Mutation::Word { at, value } => {
                let at = at % len;
                for (i, b) in value.to_be_bytes().into_iter().enumerate() {
                    if let Some(slot) = bytes.get_mut(at + i) {
                        *slot = b;
                    }
                }
            }
        }
    }
}

/// Exercises everything a decoded envelope offers.
fn use_envelope(bytes: &[u8]) {
    if let Ok(envelope) = EnvelopeRef::decode(bytes) {
        assert_eq!(envelope.as_bytes(), bytes);
        let _ = envelope.id();
        let _ = envelope.verify(&signer().public_key());
        let _ = envelope.open(&signer().public_key(), &document_key());
    }
}

fn use_batch(bytes: &[u8]) {
    if let Ok(batch) = PushBatchRef::decode(bytes) {
        assert_eq!(batch.as_bytes(), bytes);
        assert_eq!(batch.ids().len(), batch.envelopes().len());
        let _ = batch.verify(&signer().public_key());
        let _ = batch.check_authorship();
    }
}

fn use_page(bytes: &[u8]) {
    if let Ok(page) = PullPage::decode(bytes) {
        assert_eq!(page.encode().as_deref(), Ok(bytes));
    }
}

fn valid_batch() -> Vec<u8> {
    let second = seal(
        &header(Kind::Snapshot, 3, 0x40),
        &document_key(),
        b"",
        &signer(),
    )
    .unwrap();
    PushBatch::encode(
        &team(),
        &author(),
        &signer(),
        TIMESTAMP_MS,
        &[&envelope_1(), &second],
    )
    .unwrap()
}

fn valid_page() -> Vec<u8> {
    PullPage {
        items: vec![(1, envelope_1()), (2, snapshot_1())],
        next: 2,
        more: false,
    }
    .encode()
    .unwrap()
}

/// The bytes inside a version-2 invite code (a patient's, with a relay pin).
fn valid_invite_bytes() -> Vec<u8> {
    let code = InviteCode::from_parts(
        "https://relay.example",
        team(),
        counting(0xC0),
        Role::Patient,
        Some(document()),
        TIMESTAMP_MS,
        counting(0x90),
    )
    .unwrap()
    .with_relay_pin(Some(RelayPin(counting(0xD0))));
    let text = code.encode();
    URL_SAFE_NO_PAD
        .decode(text.strip_prefix(INVITE_PREFIX).unwrap())
        .unwrap()
}

proptest! {
    #![proptest_config(config())]

    /// An altered invite code is refused or decodes to a code that encodes back to it.
    #[test]
    fn mutated_invite_codes_never_panic(mutations in proptest::collection::vec(mutation(), 1..4)) {
        let mut bytes = valid_invite_bytes();
        apply(&mut bytes, &mutations);
        let text = format!("{INVITE_PREFIX}{}", URL_SAFE_NO_PAD.encode(&bytes));
        if let Ok(code) = InviteCode::decode(&text) {
            prop_assert_eq!(code.encode(), text);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        use_envelope(&bytes);
        use_batch(&bytes);
        use_page(&bytes);
    }

    /// Arbitrary bytes behind each magic, so decoding gets past the first check.
    #[test]
    fn arbitrary_bytes_after_a_magic_never_panic(
        magic in prop_oneof![Just(*b"HFE1"), Just(*b"HFP1"), Just(*b"HFL1")],
        rest in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let bytes = [&magic[..], &rest].concat();
        use_envelope(&bytes);
        use_batch(&bytes);
        use_page(&bytes);
    }

    #[test]
    fn mutated_envelopes_never_panic(mutations in proptest::collection::vec(mutation(), 1..4)) {
        let original = envelope_1();
        let mut bytes = original.clone();
        apply(&mut bytes, &mutations);
        use_envelope(&bytes);
        // Only the untouched envelope still carries a valid signature.
        let verified = EnvelopeRef::decode(&bytes).and_then(|e| e.verify(&signer().public_key()));
        prop_assert_eq!(verified.is_ok(), bytes == original);
    }

    #[test]
    fn mutated_push_batches_never_panic(mutations in proptest::collection::vec(mutation(), 1..4)) {
        let original = valid_batch();
        let mut bytes = original.clone();
        apply(&mut bytes, &mutations);
        use_batch(&bytes);
        let verified = PushBatchRef::decode(&bytes).and_then(|b| b.verify(&signer().public_key()));
        prop_assert_eq!(verified.is_ok(), bytes == original);
    }

    #[test]
    fn mutated_pull_pages_never_panic(mutations in proptest::collection::vec(mutation(), 1..4)) {
        let mut bytes = valid_page();
        apply(&mut bytes, &mutations);
        use_page(&bytes);
    }

    /// Whatever the header, sealing then opening gives the plaintext back.
    #[test]
    fn seal_open_round_trips(
        kind in prop_oneof![Just(Kind::ChangeBatch), Just(Kind::Snapshot), Just(Kind::KeyMaterial)],
        covers in any::<u64>(),
        epoch in any::<u32>(),
        nonce in any::<[u8; 12]>(),
        plaintext in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let covers = if kind == Kind::Snapshot { covers } else { 0 };
        let h = holdfast_protocol::Header { epoch, nonce, ..header(kind, covers, 0) };
        let bytes = seal(&h, &document_key(), &plaintext, &signer()).unwrap();
        let envelope = EnvelopeRef::decode(&bytes).unwrap();
        prop_assert_eq!(envelope.header, h);
        prop_assert_eq!(envelope.open(&signer().public_key(), &document_key()).unwrap(), plaintext);
    }
}

//! Envelopes: round trips, strict decoding, and that no alteration survives decode, verify
//! and open.

mod common;

use common::*;
use holdfast_protocol::{
    DeviceId, DocumentId, DocumentKey, ENVELOPE_OVERHEAD, EnvelopeId, EnvelopeRef, Error,
    HEADER_LEN, Header, Kind, MAX_CIPHERTEXT, MAX_ENVELOPE, MAX_PLAINTEXT, MIN_ENVELOPE,
    SystemRandom, TeamId, seal,
};

#[test]
fn sizes_are_as_documented() {
    assert_eq!(HEADER_LEN, 81);
    assert_eq!(ENVELOPE_OVERHEAD, 161);
    assert_eq!(MIN_ENVELOPE, 161);
    assert_eq!(MAX_CIPHERTEXT, 4 * 1024 * 1024);
    assert_eq!(MAX_ENVELOPE, 81 + 4 * 1024 * 1024 + 64);
    assert_eq!(envelope_1().len(), PLAINTEXT_1.len() + ENVELOPE_OVERHEAD);
}

#[test]
fn every_kind_round_trips() {
    let rng = SystemRandom::new();
    let key = DocumentKey::generate(&rng).unwrap();
    for (kind, covers) in [
        (Kind::ChangeBatch, 0),
        (Kind::Snapshot, 0),
        (Kind::Snapshot, u64::MAX),
        (Kind::KeyMaterial, 0),
    ] {
        for plaintext in [&b""[..], b"x", &[0xAB; 5000]] {
            let header = Header {
                nonce: Header::random_nonce(&rng).unwrap(),
                ..header(kind, covers, 0)
            };
            let bytes = seal(&header, &key, plaintext, &signer()).unwrap();
            assert_eq!(bytes.len(), plaintext.len() + ENVELOPE_OVERHEAD);
            let envelope = EnvelopeRef::decode(&bytes).unwrap();
            assert_eq!(envelope.header, header);
            assert_eq!(envelope.as_bytes(), &bytes[..]);
            assert_eq!(envelope.ciphertext().len(), plaintext.len() + 16);
            assert_eq!(envelope.signed_bytes(), &bytes[..bytes.len() - 64]);
            assert_eq!(&envelope.signature()[..], &bytes[bytes.len() - 64..]);
            assert_eq!(envelope.id(), EnvelopeId::of(&bytes));
            envelope.verify(&signer().public_key()).unwrap();
            assert_eq!(
                envelope.open(&signer().public_key(), &key).unwrap(),
                plaintext
            );
        }
    }
}

#[test]
fn header_bytes_are_laid_out_as_specified() {
    let bytes = envelope_1();
    assert_eq!(&bytes[0..4], b"HFE1");
    assert_eq!(bytes[4], 1);
    assert_eq!(&bytes[5..21], &team().0);
    assert_eq!(&bytes[21..37], &document().0);
    assert_eq!(&bytes[37..41], &7u32.to_be_bytes());
    assert_eq!(&bytes[41..57], &author().0);
    assert_eq!(&bytes[57..65], &0u64.to_be_bytes());
    assert_eq!(&bytes[65..77], &header_1().nonce);
    assert_eq!(
        &bytes[77..81],
        &((PLAINTEXT_1.len() + 16) as u32).to_be_bytes()
    );
    let snapshot = snapshot_1();
    assert_eq!(snapshot[4], 2);
    assert_eq!(&snapshot[57..65], &1234u64.to_be_bytes());
}

#[test]
fn every_single_bit_flip_is_rejected() {
    let key = document_key();
    let public = signer().public_key();
    let bytes = seal(&header_1(), &key, b"hi", &signer()).unwrap();
    for bit in 0..bytes.len() * 8 {
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let outcome = EnvelopeRef::decode(&flipped).and_then(|e| e.open(&public, &key));
        assert!(outcome.is_err(), "flip of bit {bit} was accepted");
    }
}

#[test]
fn wrong_key_and_wrong_signer_are_rejected() {
    let bytes = envelope_1();
    let envelope = EnvelopeRef::decode(&bytes).unwrap();
    let wrong_key = DocumentKey::from_bytes([0xA0; 32]);
    assert_eq!(
        envelope.open(&signer().public_key(), &wrong_key),
        Err(Error::DecryptFailed)
    );
    assert_eq!(
        envelope.verify(&other_signer().public_key()),
        Err(Error::BadSignature)
    );
    assert_eq!(
        envelope.open(&other_signer().public_key(), &document_key()),
        Err(Error::BadSignature)
    );
    // Signed by another device in the author's name: receivers check against the author's key.
    let forged = seal(&header_1(), &document_key(), b"forged", &other_signer()).unwrap();
    let forged = EnvelopeRef::decode(&forged).unwrap();
    assert_eq!(
        forged.open(&signer().public_key(), &document_key()),
        Err(Error::BadSignature)
    );
}

/// Moving an envelope to another document or team means rewriting the header, which the
/// signature (and the AAD) cover.
#[test]
fn replay_under_another_team_or_document_breaks_the_signature() {
    let bytes = envelope_1();
    let original = EnvelopeRef::decode(&bytes).unwrap();
    for (range, other) in [
        (21..37, DocumentId([0xEE; 16]).0),
        (5..21, TeamId([0xEE; 16]).0),
        (41..57, DeviceId([0xEE; 16]).0),
    ] {
        let mut replayed = bytes.clone();
        replayed[range].copy_from_slice(&other);
        let envelope = EnvelopeRef::decode(&replayed).unwrap();
        assert_eq!(envelope.signature(), original.signature());
        assert_eq!(
            envelope.verify(&signer().public_key()),
            Err(Error::BadSignature)
        );
        assert_eq!(
            envelope.open(&signer().public_key(), &document_key()),
            Err(Error::BadSignature)
        );
    }
    // Epoch and nonce too.
    let mut replayed = bytes.clone();
    replayed[40] ^= 1;
    assert_eq!(
        EnvelopeRef::decode(&replayed)
            .unwrap()
            .verify(&signer().public_key()),
        Err(Error::BadSignature)
    );
}

#[test]
fn decode_errors_say_what_is_wrong() {
    let bytes = envelope_1();
    let n = bytes.len();

    let mut bad = bytes.clone();
    bad[0] = b'X';
    assert_eq!(
        EnvelopeRef::decode(&bad),
        Err(Error::BadMagic {
            expected: "HFE1",
            found: *b"XFE1"
        })
    );
    let mut bad = bytes.clone();
    bad[3] = b'2';
    assert!(matches!(
        EnvelopeRef::decode(&bad),
        Err(Error::BadMagic { .. })
    ));

    for kind in [0u8, 4, 255] {
        let mut bad = bytes.clone();
        bad[4] = kind;
        assert_eq!(EnvelopeRef::decode(&bad), Err(Error::UnknownKind(kind)));
    }

    let mut bad = bytes.clone();
    bad[64] = 1;
    assert_eq!(
        EnvelopeRef::decode(&bad),
        Err(Error::CoversOnNonSnapshot {
            kind: Kind::ChangeBatch,
            covers: 1
        })
    );

    let mut bad = bytes.clone();
    bad[77..81].copy_from_slice(&15u32.to_be_bytes());
    assert_eq!(
        EnvelopeRef::decode(&bad),
        Err(Error::CiphertextTooShort { len: 15, min: 16 })
    );
    bad[77..81].copy_from_slice(&(MAX_CIPHERTEXT as u32 + 1).to_be_bytes());
    assert_eq!(
        EnvelopeRef::decode(&bad),
        Err(Error::CiphertextTooLong {
            len: MAX_CIPHERTEXT + 1,
            max: MAX_CIPHERTEXT
        })
    );
    bad[77..81].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        EnvelopeRef::decode(&bad),
        Err(Error::CiphertextTooLong { .. })
    ));

    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        EnvelopeRef::decode(&longer),
        Err(Error::TrailingBytes {
            what: "envelope",
            extra: 1
        })
    );
    assert_eq!(
        EnvelopeRef::decode(&bytes[..n - 1]),
        Err(Error::Truncated {
            what: "envelope",
            need: 64,
            have: 63
        })
    );
    assert_eq!(
        EnvelopeRef::decode(&[]),
        Err(Error::Truncated {
            what: "envelope",
            need: 4,
            have: 0
        })
    );
    for len in 0..n {
        assert!(
            EnvelopeRef::decode(&bytes[..len]).is_err(),
            "prefix of {len} bytes accepted"
        );
    }
}

#[test]
fn seal_enforces_the_format() {
    let key = document_key();
    for kind in [Kind::ChangeBatch, Kind::KeyMaterial] {
        assert_eq!(
            seal(&header(kind, 9, 0), &key, b"x", &signer()),
            Err(Error::CoversOnNonSnapshot { kind, covers: 9 })
        );
    }
    let too_long = vec![0u8; MAX_PLAINTEXT + 1];
    assert_eq!(
        seal(&header_1(), &key, &too_long, &signer()),
        Err(Error::PlaintextTooLong {
            len: MAX_PLAINTEXT + 1,
            max: MAX_PLAINTEXT
        })
    );
    let largest = seal(&header_1(), &key, &too_long[..MAX_PLAINTEXT], &signer()).unwrap();
    assert_eq!(largest.len(), MAX_ENVELOPE);
    let envelope = EnvelopeRef::decode(&largest).unwrap();
    assert_eq!(
        envelope.open(&signer().public_key(), &key).unwrap().len(),
        MAX_PLAINTEXT
    );
}

#[test]
fn errors_and_debug_output_never_show_secrets_or_plaintext() {
    let bytes = envelope_1();
    let envelope = EnvelopeRef::decode(&bytes).unwrap();
    let wrong = envelope
        .open(&signer().public_key(), &DocumentKey::from_bytes([0; 32]))
        .unwrap_err();
    assert!(!wrong.to_string().contains("holdfast test"));
    assert_eq!(format!("{:?}", document_key()), "DocumentKey(..)");
    let debug = format!("{:?}", signer());
    assert!(debug.contains(&hex::encode(signer().public_key())));
    assert!(!debug.contains(&hex::encode(signer().seed())));
    assert!(format!("{envelope:?}").contains("len: 183"));
}

#[test]
fn signing_keys_round_trip_through_their_seed() {
    let rng = SystemRandom::new();
    let key = holdfast_protocol::DeviceSigningKey::generate(&rng).unwrap();
    let again = holdfast_protocol::DeviceSigningKey::from_seed(*key.seed()).unwrap();
    assert_eq!(key.public_key(), again.public_key());
    assert_eq!(key.sign(b"m"), again.sign(b"m"));
    holdfast_protocol::verify_signature(&key.public_key(), b"m", &key.sign(b"m")).unwrap();
    assert_eq!(
        holdfast_protocol::verify_signature(&key.public_key(), b"n", &key.sign(b"m")),
        Err(Error::BadSignature)
    );
}

#[test]
fn kinds_map_to_their_bytes() {
    for (kind, byte) in [
        (Kind::ChangeBatch, 1),
        (Kind::Snapshot, 2),
        (Kind::KeyMaterial, 3),
    ] {
        assert_eq!(kind.as_byte(), byte);
        assert_eq!(Kind::from_byte(byte), Ok(kind));
    }
    assert_eq!(Kind::Snapshot.to_string(), "snapshot");
}

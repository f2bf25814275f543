//! Push batches and pull pages: framing, the one batch signature, authorship, limits.

mod common;

use common::*;
use holdfast_protocol::{
    DeviceId, EnvelopeId, EnvelopeRef, Error, Kind, MAX_BATCH, MAX_ENVELOPE, MIN_ENVELOPE,
    PUSH_HEADER_LEN, PullPage, PushBatch, PushBatchRef, SIGNATURE_LEN, TeamId, seal,
};

/// `count` small envelopes by the vector author in the vector team, distinct nonces.
fn envelopes(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            seal(
                &header(Kind::ChangeBatch, 0, i as u8),
                &document_key(),
                b"change",
                &signer(),
            )
            .unwrap()
        })
        .collect()
}

fn refs(envelopes: &[Vec<u8>]) -> Vec<&[u8]> {
    envelopes.iter().map(Vec::as_slice).collect()
}

fn batch(count: usize) -> (Vec<Vec<u8>>, Vec<u8>) {
    let envelopes = envelopes(count);
    let bytes = PushBatch::encode(
        &team(),
        &author(),
        &signer(),
        TIMESTAMP_MS,
        &refs(&envelopes),
    )
    .unwrap();
    (envelopes, bytes)
}

#[test]
fn push_batch_round_trips_and_verifies() {
    let (envelopes, bytes) = batch(3);
    assert_eq!(
        bytes.len(),
        PUSH_HEADER_LEN + envelopes.iter().map(|e| 4 + e.len()).sum::<usize>() + SIGNATURE_LEN
    );
    let decoded = PushBatchRef::decode(&bytes).unwrap();
    assert_eq!(decoded.team(), team());
    assert_eq!(decoded.pusher(), author());
    assert_eq!(decoded.timestamp_ms(), TIMESTAMP_MS);
    assert_eq!(decoded.len(), 3);
    assert!(!decoded.is_empty());
    assert_eq!(decoded.as_bytes(), &bytes[..]);
    for ((id, envelope), original) in decoded.iter().zip(&envelopes) {
        assert_eq!(envelope.as_bytes(), &original[..]);
        assert_eq!(id, EnvelopeId::of(original));
        assert_eq!(id, envelope.id());
    }
    decoded.verify(&signer().public_key()).unwrap();
    decoded.check_authorship().unwrap();
    assert_eq!(
        decoded.verify(&other_signer().public_key()),
        Err(Error::BadSignature)
    );
    // The hand framing in the tests follows the spec byte for byte.
    assert_eq!(
        frame_push(
            &team(),
            &author(),
            &signer(),
            TIMESTAMP_MS,
            3,
            &refs(&envelopes)
        ),
        bytes
    );
}

#[test]
fn every_single_bit_flip_of_a_batch_is_rejected() {
    let (_, bytes) = batch(2);
    let public = signer().public_key();
    for bit in 0..bytes.len() * 8 {
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let outcome = PushBatchRef::decode(&flipped).and_then(|b| b.verify(&public));
        assert!(outcome.is_err(), "flip of bit {bit} was accepted");
    }
}

#[test]
fn reordering_or_dropping_envelopes_breaks_the_batch_signature() {
    let envelopes = envelopes(2);
    let signed = PushBatch::encode(
        &team(),
        &author(),
        &signer(),
        TIMESTAMP_MS,
        &refs(&envelopes),
    )
    .unwrap();
    let signature = &signed[signed.len() - 64..];
    let swapped = [envelopes[1].as_slice(), envelopes[0].as_slice()];
    let mut reordered = frame_push(&team(), &author(), &signer(), TIMESTAMP_MS, 2, &swapped);
    let at = reordered.len() - 64;
    reordered[at..].copy_from_slice(signature);
    let decoded = PushBatchRef::decode(&reordered).unwrap();
    assert_eq!(
        decoded.verify(&signer().public_key()),
        Err(Error::BadSignature)
    );

    let mut dropped = frame_push(
        &team(),
        &author(),
        &signer(),
        TIMESTAMP_MS,
        1,
        &[&envelopes[0]],
    );
    let at = dropped.len() - 64;
    dropped[at..].copy_from_slice(signature);
    let decoded = PushBatchRef::decode(&dropped).unwrap();
    assert_eq!(
        decoded.verify(&signer().public_key()),
        Err(Error::BadSignature)
    );
}

#[test]
fn authorship_violations_are_named_by_index() {
    let mine = envelopes(1).remove(0);
    let other_author = DeviceId([0x99; 16]);
    let other_team = TeamId([0x98; 16]);
    let by_other = seal(
        &header(Kind::ChangeBatch, 0, 1).with_author(other_author),
        &document_key(),
        b"c",
        &signer(),
    )
    .unwrap();
    let in_other_team = seal(
        &header(Kind::ChangeBatch, 0, 2).with_team(other_team),
        &document_key(),
        b"c",
        &signer(),
    )
    .unwrap();

    let bytes = frame_push(
        &team(),
        &author(),
        &signer(),
        TIMESTAMP_MS,
        2,
        &[&mine, &by_other],
    );
    let decoded = PushBatchRef::decode(&bytes).unwrap();
    decoded.verify(&signer().public_key()).unwrap();
    let err = decoded.check_authorship().unwrap_err();
    assert_eq!(
        err,
        Error::WrongAuthor {
            index: 1,
            pusher: author(),
            found: other_author
        }
    );
    assert!(
        err.to_string()
            .starts_with("envelope 1 was authored by device 9999"),
        "{err}"
    );

    let bytes = frame_push(
        &team(),
        &author(),
        &signer(),
        TIMESTAMP_MS,
        3,
        &[&mine, &mine, &in_other_team],
    );
    let err = PushBatchRef::decode(&bytes)
        .unwrap()
        .check_authorship()
        .unwrap_err();
    assert_eq!(
        err,
        Error::WrongTeam {
            index: 2,
            batch: team(),
            found: other_team
        }
    );

    // The encoder refuses to build either.
    assert_eq!(
        PushBatch::encode(
            &team(),
            &author(),
            &signer(),
            TIMESTAMP_MS,
            &[&mine, &by_other]
        ),
        Err(Error::WrongAuthor {
            index: 1,
            pusher: author(),
            found: other_author
        })
    );
    assert_eq!(
        PushBatch::encode(
            &team(),
            &author(),
            &signer(),
            TIMESTAMP_MS,
            &[&in_other_team]
        ),
        Err(Error::WrongTeam {
            index: 0,
            batch: team(),
            found: other_team
        })
    );
}

#[test]
fn batch_counts_are_bounded() {
    let envelopes = envelopes(1);
    let one = envelopes[0].as_slice();
    assert_eq!(
        PushBatch::encode(&team(), &author(), &signer(), 0, &[]),
        Err(Error::EmptyBatch)
    );
    let too_many = vec![one; MAX_BATCH + 1];
    assert_eq!(
        PushBatch::encode(&team(), &author(), &signer(), 0, &too_many),
        Err(Error::BatchTooLarge {
            count: MAX_BATCH + 1,
            max: MAX_BATCH
        })
    );
    let most = vec![one; MAX_BATCH];
    let bytes = PushBatch::encode(&team(), &author(), &signer(), 0, &most).unwrap();
    let decoded = PushBatchRef::decode(&bytes).unwrap();
    assert_eq!(decoded.len(), MAX_BATCH);
    decoded.verify(&signer().public_key()).unwrap();

    let empty = frame_push(&team(), &author(), &signer(), 0, 0, &[]);
    assert_eq!(PushBatchRef::decode(&empty), Err(Error::EmptyBatch));
    let over = frame_push(
        &team(),
        &author(),
        &signer(),
        0,
        (MAX_BATCH + 1) as u16,
        &too_many,
    );
    assert_eq!(
        PushBatchRef::decode(&over),
        Err(Error::BatchTooLarge {
            count: MAX_BATCH + 1,
            max: MAX_BATCH
        })
    );
    // A count that promises more envelopes than the bytes hold.
    let short = frame_push(&team(), &author(), &signer(), 0, 2, &[one]);
    assert!(matches!(
        PushBatchRef::decode(&short),
        Err(Error::AtIndex { index: 1, .. })
    ));
}

#[test]
fn trailing_and_truncated_batches_are_rejected() {
    let (_, bytes) = batch(2);
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        PushBatchRef::decode(&longer),
        Err(Error::TrailingBytes {
            what: "push batch",
            extra: 1
        })
    );
    for len in 0..bytes.len() {
        assert!(
            PushBatchRef::decode(&bytes[..len]).is_err(),
            "prefix of {len} bytes accepted"
        );
    }
    // An envelope length prefix outside the possible envelope sizes.
    let mut bad = bytes.clone();
    bad[PUSH_HEADER_LEN..PUSH_HEADER_LEN + 4]
        .copy_from_slice(&(MAX_ENVELOPE as u32 + 1).to_be_bytes());
    assert_eq!(
        PushBatchRef::decode(&bad),
        Err(Error::EnvelopeLength {
            len: MAX_ENVELOPE + 1,
            min: MIN_ENVELOPE,
            max: MAX_ENVELOPE
        }
        .at_index(0))
    );
    // A bad envelope inside is named by its index.
    let mut bad = bytes.clone();
    let second = PUSH_HEADER_LEN + 4 + envelope_len() + 4;
    bad[second + 4] = 9;
    assert_eq!(
        PushBatchRef::decode(&bad),
        Err(Error::UnknownKind(9).at_index(1))
    );
    assert_eq!(
        PushBatchRef::decode(&bad).unwrap_err().to_string(),
        "envelope 1: unknown envelope kind 9"
    );
}

fn envelope_len() -> usize {
    envelopes(1)[0].len()
}

trait AtIndex {
    fn at_index(self, index: usize) -> Error;
}

impl AtIndex for Error {
    fn at_index(self, index: usize) -> Error {
        Error::AtIndex {
            index,
            source: Box::new(self),
        }
    }
}

trait With {
    fn with_author(self, author: DeviceId) -> Self;
    fn with_team(self, team: TeamId) -> Self;
}

impl With for holdfast_protocol::Header {
    fn with_author(self, author: DeviceId) -> Self {
        Self { author, ..self }
    }
    fn with_team(self, team: TeamId) -> Self {
        Self { team, ..self }
    }
}

fn page() -> PullPage {
    PullPage {
        items: vec![(1, envelope_1()), (5, snapshot_1())],
        next: 5,
        more: true,
    }
}

#[test]
fn pull_pages_round_trip() {
    let page = page();
    let bytes = page.encode().unwrap();
    assert_eq!(bytes.len(), page.encoded_len().unwrap());
    assert_eq!(&bytes[..4], b"HFL1");
    assert_eq!(PullPage::decode(&bytes).unwrap(), page);
    for item in &PullPage::decode(&bytes).unwrap().items {
        EnvelopeRef::decode(&item.1)
            .unwrap()
            .open(&signer().public_key(), &document_key())
            .unwrap();
    }
    let empty = PullPage {
        items: vec![],
        next: 42,
        more: false,
    };
    assert_eq!(PullPage::decode(&empty.encode().unwrap()).unwrap(), empty);
    assert_eq!(empty.encode().unwrap().len(), 17);
}

#[test]
fn pull_pages_are_strict() {
    let bytes = page().encode().unwrap();
    for len in 0..bytes.len() {
        assert!(
            PullPage::decode(&bytes[..len]).is_err(),
            "prefix of {len} bytes accepted"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        PullPage::decode(&longer),
        Err(Error::TrailingBytes {
            what: "pull page",
            extra: 1
        })
    );
    let mut bad = bytes.clone();
    bad[12] = 2;
    assert_eq!(
        PullPage::decode(&bad),
        Err(Error::BadFlag {
            what: "pull page `more`",
            value: 2
        })
    );
    // A count far beyond what the bytes hold is an error, not a huge allocation.
    let mut bad = bytes.clone();
    bad[13..17].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        PullPage::decode(&bad),
        Err(Error::AtIndex { index: 2, .. })
    ));

    let mut p = page();
    p.items[1].0 = 1;
    assert_eq!(
        p.encode(),
        Err(Error::SequenceOrder {
            index: 1,
            seq: 1,
            previous: 1
        })
    );
    let mut p = page();
    p.items[0].0 = 0;
    assert_eq!(
        p.encode(),
        Err(Error::SequenceOrder {
            index: 0,
            seq: 0,
            previous: 0
        })
    );
    let mut p = page();
    p.next = 4;
    assert_eq!(p.encode(), Err(Error::CursorBehind { next: 4, last: 5 }));
    let p = PullPage {
        items: vec![],
        next: 3,
        more: true,
    };
    assert_eq!(p.encode(), Err(Error::EmptyPageWithMore));
    let mut p = page();
    p.items[0].1.push(0);
    assert!(matches!(p.encode(), Err(Error::AtIndex { index: 0, .. })));

    // The same checks on the decoding side, by patching sequence numbers in valid bytes.
    let mut bad = bytes.clone();
    let second_seq = 17 + 12 + envelope_1().len();
    bad[second_seq..second_seq + 8].copy_from_slice(&1u64.to_be_bytes());
    assert_eq!(
        PullPage::decode(&bad),
        Err(Error::SequenceOrder {
            index: 1,
            seq: 1,
            previous: 1
        })
    );
    let mut bad = bytes.clone();
    bad[4..12].copy_from_slice(&4u64.to_be_bytes());
    assert_eq!(
        PullPage::decode(&bad),
        Err(Error::CursorBehind { next: 4, last: 5 })
    );
}

#[test]
fn pull_pages_are_bounded() {
    // 9 envelopes of 4 MiB exceed 32 MiB; encoded_len says so before any copying.
    let big = vec![0u8; MAX_ENVELOPE];
    let p = PullPage {
        items: (1..=9).map(|s| (s, big.clone())).collect(),
        next: 9,
        more: false,
    };
    assert!(matches!(
        p.encode(),
        Err(Error::TooManyBytes {
            what: "pull page",
            ..
        })
    ));
    let huge = vec![0u8; holdfast_protocol::MAX_PAGE_BYTES + 1];
    assert!(matches!(
        PullPage::decode(&huge),
        Err(Error::TooManyBytes { .. })
    ));
    assert!(matches!(
        PushBatchRef::decode(&huge),
        Err(Error::TooManyBytes { .. })
    ));
}

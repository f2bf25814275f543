//! Push batch and pull page framing: how envelopes travel between a device and the relay.
//!
//! A push batch carries one Ed25519 signature by the pushing device over the SHA-256 ids of
//! its envelopes, so the relay checks one signature per batch instead of one per envelope.
//! Receiving devices still verify every envelope's own signature before opening it.

use std::fmt;

use crate::envelope::{EnvelopeRef, MAX_ENVELOPE, MIN_ENVELOPE};
use crate::error::{Error, Result};
use crate::ids::{DeviceId, EnvelopeId, TeamId};
use crate::keys::{DeviceSigningKey, PUBLIC_KEY_LEN, SIGNATURE_LEN, verify_signature};
use crate::wire::Reader;

/// The first four bytes of a push batch.
pub const PUSH_MAGIC: [u8; 4] = *b"HFP1";
/// Domain separation for the push-batch signature, so it can never pass for another message.
pub const PUSH_CONTEXT: &[u8; 16] = b"holdfast-push-v1";
/// Most envelopes in one push batch.
pub const MAX_BATCH: usize = 1000;
/// Largest encoded push batch: 32 MiB (the relay's request-body limit).
pub const MAX_PUSH_BYTES: usize = 32 * 1024 * 1024;
/// Push batch bytes before the first envelope: magic, team, pusher, timestamp, count.
pub const PUSH_HEADER_LEN: usize = 4 + 16 + 16 + 8 + 2;

/// The first four bytes of a pull page.
pub const PULL_MAGIC: [u8; 4] = *b"HFL1";
/// Largest encoded pull page: 32 MiB.
pub const MAX_PAGE_BYTES: usize = 32 * 1024 * 1024;
/// Pull page bytes before the first item: magic, next, more, count.
pub const PAGE_HEADER_LEN: usize = 4 + 8 + 1 + 4;
/// Bytes a pull page adds per item: sequence number and length.
pub const PAGE_ITEM_OVERHEAD: usize = 8 + 4;

/// The response header of a pull asked with `check=N`: the hex id of the team's envelope
/// at sequence number `N`, or `none` when the relay holds none there (for a patient, none
/// of its plan). A device asks for the last number it holds an id for, and tells from the
/// answer whether the relay still holds the history it was given (a relay database
/// restored from a backup holds a prefix of it, then reuses the later numbers).
pub const CHECK_HEADER: &str = "holdfast-check";
/// The most sequence numbers one `GET /v1/teams/{team}/envelopes/ids` asks about.
pub const MAX_IDS_PER_REQUEST: usize = 256;

/// Encodes push batches; decode them with [`PushBatchRef::decode`].
#[derive(Debug)]
pub enum PushBatch {}

impl PushBatch {
    /// Frames and signs `envelopes` for `team`, pushed by device `pusher` at `timestamp_ms`
    /// (ms since the Unix epoch).
    ///
    /// Refuses anything the relay would refuse: no envelopes or more than [`MAX_BATCH`], an
    /// envelope that does not decode, one for another team or by another author, or a batch
    /// over [`MAX_PUSH_BYTES`].
    pub fn encode(
        team: &TeamId,
        pusher: &DeviceId,
        signer: &DeviceSigningKey,
        timestamp_ms: u64,
        envelopes: &[&[u8]],
    ) -> Result<Vec<u8>> {
        let count = check_count(envelopes.len())?;
        let mut ids = Vec::with_capacity(envelopes.len());
        let mut len = PUSH_HEADER_LEN + SIGNATURE_LEN;
        for (index, bytes) in envelopes.iter().enumerate() {
            let envelope = EnvelopeRef::decode(bytes).map_err(|e| e.at(index))?;
            check_author(index, team, pusher, &envelope)?;
            // Each envelope is at most MAX_ENVELOPE and there are at most MAX_BATCH: no overflow.
            len = len.saturating_add(4).saturating_add(bytes.len());
            ids.push(EnvelopeId::of(bytes));
        }
        if len > MAX_PUSH_BYTES {
            return Err(Error::TooManyBytes {
                what: "push batch",
                len,
                max: MAX_PUSH_BYTES,
            });
        }

        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&PUSH_MAGIC);
        out.extend_from_slice(&team.0);
        out.extend_from_slice(&pusher.0);
        out.extend_from_slice(&timestamp_ms.to_be_bytes());
        out.extend_from_slice(&count.to_be_bytes());
        for bytes in envelopes {
            // Decoded above, so at most MAX_ENVELOPE bytes: fits in u32.
            let n = u32::try_from(bytes.len()).map_err(|_| Error::EnvelopeLength {
                len: bytes.len(),
                min: MIN_ENVELOPE,
                max: MAX_ENVELOPE,
            })?;
            out.extend_from_slice(&n.to_be_bytes());
            out.extend_from_slice(bytes);
        }
        let signature = signer.sign(&push_message(team, pusher, timestamp_ms, &ids));
        out.extend_from_slice(&signature);
        Ok(out)
    }
}

/// Signed push message bytes before the envelope ids: context, team, pusher, timestamp.
const PUSH_FIXED_LEN: usize = PUSH_CONTEXT.len() + 16 + 16 + 8;

/// The message a pusher signs: context, team, pusher, timestamp, then every envelope id.
fn push_message(
    team: &TeamId,
    pusher: &DeviceId,
    timestamp_ms: u64,
    ids: &[EnvelopeId],
) -> Vec<u8> {
    let mut message =
        Vec::with_capacity(ids.len().saturating_mul(32).saturating_add(PUSH_FIXED_LEN));
    message.extend_from_slice(PUSH_CONTEXT);
    message.extend_from_slice(&team.0);
    message.extend_from_slice(&pusher.0);
    message.extend_from_slice(&timestamp_ms.to_be_bytes());
    for id in ids {
        message.extend_from_slice(&id.0);
    }
    message
}

fn check_count(count: usize) -> Result<u16> {
    if count == 0 {
        return Err(Error::EmptyBatch);
    }
    if count > MAX_BATCH {
        return Err(Error::BatchTooLarge {
            count,
            max: MAX_BATCH,
        });
    }
    u16::try_from(count).map_err(|_| Error::BatchTooLarge {
        count,
        max: MAX_BATCH,
    })
}

fn check_author(
    index: usize,
    team: &TeamId,
    pusher: &DeviceId,
    envelope: &EnvelopeRef<'_>,
) -> Result<()> {
    if envelope.header.team != *team {
        return Err(Error::WrongTeam {
            index,
            batch: *team,
            found: envelope.header.team,
        });
    }
    if envelope.header.author != *pusher {
        return Err(Error::WrongAuthor {
            index,
            pusher: *pusher,
            found: envelope.header.author,
        });
    }
    Ok(())
}

/// A strictly decoded push batch: every envelope decoded and its id computed once.
#[derive(Clone, PartialEq, Eq)]
pub struct PushBatchRef<'a> {
    team: TeamId,
    pusher: DeviceId,
    timestamp_ms: u64,
    envelopes: Vec<EnvelopeRef<'a>>,
    ids: Vec<EnvelopeId>,
    signature: &'a [u8; SIGNATURE_LEN],
    bytes: &'a [u8],
}

impl<'a> PushBatchRef<'a> {
    /// Decodes a push batch and every envelope in it; checks no signature.
    pub fn decode(bytes: &'a [u8]) -> Result<Self> {
        if bytes.len() > MAX_PUSH_BYTES {
            return Err(Error::TooManyBytes {
                what: "push batch",
                len: bytes.len(),
                max: MAX_PUSH_BYTES,
            });
        }
        let mut r = Reader::new(bytes, "push batch");
        let magic = *r.array::<4>()?;
        if magic != PUSH_MAGIC {
            return Err(Error::BadMagic {
                expected: "HFP1",
                found: magic,
            });
        }
        let team = TeamId(*r.array()?);
        let pusher = DeviceId(*r.array()?);
        let timestamp_ms = r.u64()?;
        let count = usize::from(r.u16()?);
        check_count(count)?;

        let mut envelopes = Vec::with_capacity(count);
        let mut ids = Vec::with_capacity(count);
        for index in 0..count {
            let len = r.len_u32().map_err(|e| e.at(index))?;
            if !(MIN_ENVELOPE..=MAX_ENVELOPE).contains(&len) {
                return Err(Error::EnvelopeLength {
                    len,
                    min: MIN_ENVELOPE,
                    max: MAX_ENVELOPE,
                }
                .at(index));
            }
            let envelope_bytes = r.take(len).map_err(|e| e.at(index))?;
            envelopes.push(EnvelopeRef::decode(envelope_bytes).map_err(|e| e.at(index))?);
            ids.push(EnvelopeId::of(envelope_bytes));
        }
        let signature = r.array::<SIGNATURE_LEN>()?;
        r.finish()?;
        Ok(PushBatchRef {
            team,
            pusher,
            timestamp_ms,
            envelopes,
            ids,
            signature,
            bytes,
        })
    }

    /// The team the pusher names (the relay also checks it against the URL).
    pub fn team(&self) -> TeamId {
        self.team
    }

    /// The pushing device.
    pub fn pusher(&self) -> DeviceId {
        self.pusher
    }

    /// When the pusher signed the batch, in ms since the Unix epoch (for the relay's
    /// freshness check).
    pub fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }

    /// The envelopes, in push order.
    pub fn envelopes(&self) -> &[EnvelopeRef<'a>] {
        &self.envelopes
    }

    /// The envelope ids, in the same order.
    pub fn ids(&self) -> &[EnvelopeId] {
        &self.ids
    }

    /// Each envelope with its id.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (EnvelopeId, &EnvelopeRef<'a>)> + '_ {
        self.ids.iter().copied().zip(self.envelopes.iter())
    }

    /// Number of envelopes (1 to [`MAX_BATCH`]).
    pub fn len(&self) -> usize {
        self.envelopes.len()
    }

    /// Always false: a decoded batch has at least one envelope.
    pub fn is_empty(&self) -> bool {
        self.envelopes.is_empty()
    }

    /// The pusher's signature.
    pub fn signature(&self) -> &'a [u8; SIGNATURE_LEN] {
        self.signature
    }

    /// The whole encoded batch.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Checks the pusher's one signature over team, pusher, timestamp and every envelope id.
    pub fn verify(&self, pusher_public_key: &[u8; PUBLIC_KEY_LEN]) -> Result<()> {
        let message = push_message(&self.team, &self.pusher, self.timestamp_ms, &self.ids);
        verify_signature(pusher_public_key, &message, self.signature)
    }

    /// Checks that every envelope is for the batch's team and authored by the pusher: a
    /// device pushes only its own envelopes, only into the team it names.
    pub fn check_authorship(&self) -> Result<()> {
        for (index, envelope) in self.envelopes.iter().enumerate() {
            check_author(index, &self.team, &self.pusher, envelope)?;
        }
        Ok(())
    }
}

impl fmt::Debug for PushBatchRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushBatchRef")
            .field("team", &self.team)
            .field("pusher", &self.pusher)
            .field("timestamp_ms", &self.timestamp_ms)
            .field("ids", &self.ids)
            .finish_non_exhaustive()
    }
}

/// One page of a pull: envelopes in team sequence order and where to continue.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct PullPage {
    /// (team sequence number, envelope bytes), sequence numbers strictly increasing from 1.
    pub items: Vec<(u64, Vec<u8>)>,
    /// The cursor to continue from (`after=next`): the last item's sequence, or the
    /// request's cursor when the page is empty.
    pub next: u64,
    /// Whether more envelopes follow `next` already.
    pub more: bool,
}

impl PullPage {
    /// The encoded size, or an error if over [`MAX_PAGE_BYTES`].
    pub fn encoded_len(&self) -> Result<usize> {
        let mut len = PAGE_HEADER_LEN;
        for (_, bytes) in &self.items {
            len = len
                .saturating_add(PAGE_ITEM_OVERHEAD)
                .saturating_add(bytes.len());
        }
        if len > MAX_PAGE_BYTES {
            return Err(Error::TooManyBytes {
                what: "pull page",
                len,
                max: MAX_PAGE_BYTES,
            });
        }
        Ok(len)
    }

    /// Encodes the page after checking what [`decode`](Self::decode) checks.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let len = self.encoded_len()?;
        let mut previous = 0;
        for (index, (seq, bytes)) in self.items.iter().enumerate() {
            EnvelopeRef::decode(bytes).map_err(|e| e.at(index))?;
            check_seq(index, *seq, previous)?;
            previous = *seq;
        }
        self.check_cursor(previous)?;
        // At most MAX_PAGE_BYTES / PAGE_ITEM_OVERHEAD items: fits in u32.
        let count = u32::try_from(self.items.len()).map_err(|_| Error::TooManyBytes {
            what: "pull page",
            len,
            max: MAX_PAGE_BYTES,
        })?;

        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&PULL_MAGIC);
        out.extend_from_slice(&self.next.to_be_bytes());
        out.push(u8::from(self.more));
        out.extend_from_slice(&count.to_be_bytes());
        for (seq, bytes) in &self.items {
            // Decoded above, so at most MAX_ENVELOPE bytes: fits in u32.
            let n = u32::try_from(bytes.len()).map_err(|_| Error::EnvelopeLength {
                len: bytes.len(),
                min: MIN_ENVELOPE,
                max: MAX_ENVELOPE,
            })?;
            out.extend_from_slice(&seq.to_be_bytes());
            out.extend_from_slice(&n.to_be_bytes());
            out.extend_from_slice(bytes);
        }
        Ok(out)
    }

    /// Decodes a page, checking every envelope's structure (not its signature), the order
    /// of sequence numbers and the cursor.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_PAGE_BYTES {
            return Err(Error::TooManyBytes {
                what: "pull page",
                len: bytes.len(),
                max: MAX_PAGE_BYTES,
            });
        }
        let mut r = Reader::new(bytes, "pull page");
        let magic = *r.array::<4>()?;
        if magic != PULL_MAGIC {
            return Err(Error::BadMagic {
                expected: "HFL1",
                found: magic,
            });
        }
        let next = r.u64()?;
        let more = match r.u8()? {
            0 => false,
            1 => true,
            value => {
                return Err(Error::BadFlag {
                    what: "pull page `more`",
                    value,
                });
            }
        };
        let count = r.len_u32()?;
        // Never trust a count for allocation: reserve only what the remaining bytes can hold.
        let fits = r.remaining() / (PAGE_ITEM_OVERHEAD + MIN_ENVELOPE);
        let mut items = Vec::with_capacity(count.min(fits));
        let mut previous = 0;
        for index in 0..count {
            let seq = r.u64().map_err(|e| e.at(index))?;
            check_seq(index, seq, previous)?;
            let len = r.len_u32().map_err(|e| e.at(index))?;
            if !(MIN_ENVELOPE..=MAX_ENVELOPE).contains(&len) {
                return Err(Error::EnvelopeLength {
                    len,
                    min: MIN_ENVELOPE,
                    max: MAX_ENVELOPE,
                }
                .at(index));
            }
            let envelope = r.take(len).map_err(|e| e.at(index))?;
            EnvelopeRef::decode(envelope).map_err(|e| e.at(index))?;
            items.push((seq, envelope.to_vec()));
            previous = seq;
        }
        r.finish()?;
        let page = PullPage { items, next, more };
        page.check_cursor(previous)?;
        Ok(page)
    }

    fn check_cursor(&self, last: u64) -> Result<()> {
        if self.items.is_empty() {
            if self.more {
                return Err(Error::EmptyPageWithMore);
            }
        } else if self.next < last {
            return Err(Error::CursorBehind {
                next: self.next,
                last,
            });
        }
        Ok(())
    }
}

fn check_seq(index: usize, seq: u64, previous: u64) -> Result<()> {
    if seq <= previous {
        return Err(Error::SequenceOrder {
            index,
            seq,
            previous,
        });
    }
    Ok(())
}

impl fmt::Debug for PullPage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PullPage")
            .field("items", &self.items.len())
            .field("next", &self.next)
            .field("more", &self.more)
            .finish()
    }
}

//! What a device believes of a page the relay serves: only what the page itself holds.
//!
//! Every page is sequence-numbered (envelopes, membership entries, key bundles). A relay
//! that lies about where the next page starts (`next` = 2^63 with nothing in the page, a
//! log `len` far beyond its entries) could otherwise move a device's cursor past data it
//! never delivered, and the device would think itself caught up for good. So a cursor moves
//! only to the last item a page holds, items must be in order and after the cursor, and a
//! page that says "more" must have made progress.

use super::api::bad_response;
use crate::{Error, Result};

/// Checks a page of items answered to `?after=after` (envelopes, key bundles): their
/// sequence numbers strictly increase and are all above `after`; `next` is the last one
/// (or `after` when the page is empty); a page that says `more` holds something. Returns
/// where the next page starts.
pub(crate) fn after_page(
    what: &str,
    after: u64,
    seqs: impl IntoIterator<Item = u64>,
    next: u64,
    more: bool,
) -> Result<u64> {
    let mut last = after;
    let mut any = false;
    for seq in seqs {
        if seq <= last {
            return Err(bad_response(&format!(
                "{what}: sequence numbers out of order or at or before the cursor"
            )));
        }
        last = seq;
        any = true;
    }
    if next != last {
        return Err(bad_response(&format!(
            "{what}: a cursor that is not the page's last item"
        )));
    }
    if more && !any {
        return Err(bad_response(&format!(
            "{what}: more promised, nothing delivered"
        )));
    }
    Ok(next)
}

/// Checks a page of membership entries answered to `?from=from` (entries at or after
/// `from`, in order, each once) whose log the relay says is `len` long. Staff see the whole
/// log, so their entries are `contiguous` (a gap is an entry withheld); a patient's view
/// has gaps (other patients' entries). Returns where the device's view of the log now
/// ends: one past the last entry the page holds (or `from` when it holds none), never the
/// `len` it was told.
pub(crate) fn log_page(
    from: u64,
    seqs: impl IntoIterator<Item = u64>,
    len: u64,
    more: bool,
    contiguous: bool,
) -> Result<u64> {
    let mut end = from;
    let mut any = false;
    for seq in seqs {
        if seq < end {
            return Err(bad_response(
                "membership: entries out of order or before the one asked for",
            ));
        }
        if contiguous && seq != end {
            return Err(bad_response("membership: an entry withheld"));
        }
        end = seq.saturating_add(1);
        any = true;
    }
    if end > len {
        return Err(bad_response(
            "membership: entries beyond the log's stated length",
        ));
    }
    if more && !any {
        return Err(bad_response("membership: more promised, nothing delivered"));
    }
    Ok(end)
}

/// Whether a failure must end the sync (this device was revoked, the relay is not trusted)
/// rather than wait for the next one.
pub(super) fn fatal(e: &Error) -> bool {
    matches!(e, Error::Revoked { .. } | Error::Tls(_))
}

/// Counts one more page of a pull that may read at most `left` more: a relay that answers
/// `more` for ever (relabelling what it sent before) cannot hold a sync, and the team's
/// lock, for good. The next sync carries on from where this one stopped.
pub(crate) fn one_more(left: usize, what: &str) -> Result<usize> {
    left.checked_sub(1).ok_or_else(|| {
        Error::TryAgain(format!(
            "the relay kept answering more {what} pages than one sync reads; the next sync \
             carries on"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_moves_only_to_what_the_page_holds() {
        assert_eq!(after_page("pull", 10, [11, 12, 15], 15, true).unwrap(), 15);
        assert_eq!(after_page("pull", 10, [], 10, false).unwrap(), 10);
        // A forged cursor, with or without items.
        assert!(after_page("pull", 10, [], 1 << 63, false).is_err());
        assert!(after_page("pull", 10, [11], 1 << 63, false).is_err());
        assert!(after_page("pull", 10, [11], 9, false).is_err());
        // Items replayed from before the cursor, reordered, repeated.
        assert!(after_page("pull", 10, [9, 11], 11, false).is_err());
        assert!(after_page("pull", 10, [12, 11], 11, false).is_err());
        assert!(after_page("pull", 10, [11, 11], 11, false).is_err());
        // "More" with nothing in the page would loop for ever.
        assert!(after_page("keys", 10, [], 10, true).is_err());
    }

    #[test]
    fn a_log_ends_where_its_last_entry_is_not_where_the_relay_says() {
        assert_eq!(log_page(3, [3, 4, 5], 6, false, true).unwrap(), 6);
        // A patient's filtered view: gaps, and a log longer than what it sees.
        assert_eq!(log_page(3, [5, 9], 12, false, false).unwrap(), 10);
        // Staff see every entry: a gap is one withheld.
        assert!(log_page(3, [3, 5], 6, false, true).is_err());
        // Nothing new: the view stays where it was, whatever the length claimed.
        assert_eq!(log_page(3, [], 1 << 63, false, true).unwrap(), 3);
        assert!(
            log_page(3, [2], 6, false, false).is_err(),
            "before the one asked for"
        );
        assert!(log_page(3, [4, 4], 6, false, false).is_err(), "twice");
        assert!(
            log_page(3, [3, 9], 6, false, false).is_err(),
            "beyond the length"
        );
        assert!(
            log_page(3, [], 6, true, false).is_err(),
            "more, with nothing"
        );
    }
}

//! A bounds-checked reader over a byte slice. Every read either returns exactly the bytes
//! asked for or a `Truncated` error naming the structure, so decoders never index or panic.

use crate::error::{Error, Result};

/// Reads big-endian fields front to back.
pub(crate) struct Reader<'a> {
    start: &'a [u8],
    rest: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`; `what` names the structure in errors.
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Reader {
            start: bytes,
            rest: bytes,
            what,
        }
    }

    fn truncated(&self, need: usize) -> Error {
        Error::Truncated {
            what: self.what,
            need,
            have: self.rest.len(),
        }
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let (head, tail) = self
            .rest
            .split_at_checked(n)
            .ok_or_else(|| self.truncated(n))?;
        self.rest = tail;
        Ok(head)
    }

    /// The next `N` bytes as an array reference.
    pub(crate) fn array<const N: usize>(&mut self) -> Result<&'a [u8; N]> {
        let (head, tail) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or_else(|| self.truncated(N))?;
        self.rest = tail;
        Ok(head)
    }

    /// The next byte.
    pub(crate) fn u8(&mut self) -> Result<u8> {
        let [b] = *self.array::<1>()?;
        Ok(b)
    }

    /// The next big-endian u16.
    pub(crate) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(*self.array()?))
    }

    /// The next big-endian u32.
    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(*self.array()?))
    }

    /// The next big-endian u64.
    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(*self.array()?))
    }

    /// A big-endian u32 length prefix as `usize`.
    pub(crate) fn len_u32(&mut self) -> Result<usize> {
        let n = self.u32()?;
        // Only a 16-bit target could fail here; report it as a length no one can hold.
        usize::try_from(n).map_err(|_| self.truncated(usize::MAX))
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Everything read so far.
    pub(crate) fn consumed(&self) -> &'a [u8] {
        let used = self.start.len().saturating_sub(self.rest.len());
        self.start.get(..used).unwrap_or_default()
    }

    /// Succeeds only if every byte was read: a structure never has trailing bytes.
    pub(crate) fn finish(self) -> Result<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(Error::TrailingBytes {
                what: self.what,
                extra: self.rest.len(),
            })
        }
    }
}

/// Copies a slice of known length into an array without a panicking path.
pub(crate) fn to_array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = *b;
    }
    out
}

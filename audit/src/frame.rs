//! Record framing shared by every file of the log:
//! `[u32 BE payload length][u32 BE CRC-32 (IEEE) of payload][payload]`.
//!
//! A length of zero or above [`MAX_PAYLOAD`] is invalid (a zero-filled
//! region never parses as frames). [`FrameReader`] reads frames in order
//! and reports the first bad one; [`find_valid_frame`] looks for any intact
//! frame in a byte range, which is how recovery tells a torn tail (nothing
//! intact after the damage) from corruption before the tail.

use std::io::{self, Read};

/// Bytes of the frame header (length + CRC).
pub(crate) const HEADER_LEN: usize = 8;
/// Largest payload a frame may carry (64 MiB; deletion records are the largest).
pub(crate) const MAX_PAYLOAD: u32 = 64 << 20;

/// What is wrong with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameProblem {
    /// The header or payload runs past the end of the file.
    Truncated,
    /// The length field is zero or too large.
    BadLength(u32),
    /// The CRC does not match the payload.
    Crc,
}

impl FrameProblem {
    /// The public problem kind for this frame problem.
    pub(crate) fn kind(self) -> crate::ProblemKind {
        match self {
            Self::Truncated => crate::ProblemKind::TruncatedFrame,
            Self::BadLength(_) => crate::ProblemKind::BadLength,
            Self::Crc => crate::ProblemKind::CrcMismatch,
        }
    }

    /// A short description.
    pub(crate) fn describe(self) -> String {
        match self {
            Self::Truncated => "frame runs past the end of the file".to_owned(),
            Self::BadLength(len) => format!("invalid frame length {len}"),
            Self::Crc => "payload does not match its CRC".to_owned(),
        }
    }
}

/// Appends one frame holding `payload` to `out`.
pub(crate) fn encode(payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_be_bytes());
    out.extend_from_slice(payload);
}

/// Decodes the frame starting at `buf[0]`; returns its payload.
pub(crate) fn decode(buf: &[u8]) -> Result<&[u8], FrameProblem> {
    let header = buf.get(..HEADER_LEN).ok_or(FrameProblem::Truncated)?;
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    if len == 0 || len > MAX_PAYLOAD {
        return Err(FrameProblem::BadLength(len));
    }
    let end = HEADER_LEN + len as usize;
    let payload = buf.get(HEADER_LEN..end).ok_or(FrameProblem::Truncated)?;
    if crc32fast::hash(payload) != crc {
        return Err(FrameProblem::Crc);
    }
    Ok(payload)
}

/// Offset (within `buf`) of the first position at which an intact frame
/// starts, if any. Bounded by `buf.len()` positions; most positions are
/// rejected by their length field alone.
pub(crate) fn find_valid_frame(buf: &[u8]) -> Option<usize> {
    (0..buf.len().saturating_sub(HEADER_LEN)).find(|&pos| decode(&buf[pos..]).is_ok())
}

/// One step of a [`FrameReader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// An intact frame at this offset; its payload is [`FrameReader::payload`].
    Frame(u64),
    /// Clean end of file after the last frame.
    End,
    /// A bad frame at this offset; reading stops here.
    Bad(u64, FrameProblem),
}

/// Reads frames one after another from a reader (usually a buffered file).
pub(crate) struct FrameReader<R> {
    inner: R,
    offset: u64,
    header: [u8; HEADER_LEN],
    payload: Vec<u8>,
}

impl<R: Read> FrameReader<R> {
    /// Starts reading at offset 0 of `inner`.
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            offset: 0,
            header: [0; HEADER_LEN],
            payload: Vec::new(),
        }
    }

    /// Offset just past the last intact frame returned.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Payload of the frame last returned by [`Step::Frame`].
    pub(crate) fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The header bytes of the frame last returned by [`Step::Frame`].
    pub(crate) fn header(&self) -> &[u8; HEADER_LEN] {
        &self.header
    }

    /// Reads the next frame.
    pub(crate) fn next_frame(&mut self) -> io::Result<Step> {
        let at = self.offset;
        let got = read_full(&mut self.inner, &mut self.header)?;
        if got == 0 {
            return Ok(Step::End);
        }
        if got < HEADER_LEN {
            return Ok(Step::Bad(at, FrameProblem::Truncated));
        }
        let h = self.header;
        let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        let crc = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
        if len == 0 || len > MAX_PAYLOAD {
            return Ok(Step::Bad(at, FrameProblem::BadLength(len)));
        }
        self.payload.resize(len as usize, 0);
        if read_full(&mut self.inner, &mut self.payload)? < len as usize {
            return Ok(Step::Bad(at, FrameProblem::Truncated));
        }
        if crc32fast::hash(&self.payload) != crc {
            return Ok(Step::Bad(at, FrameProblem::Crc));
        }
        self.offset = at + (HEADER_LEN as u64) + u64::from(len);
        Ok(Step::Frame(at))
    }
}

/// Reads until `buf` is full or the reader is exhausted; returns the count.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    // Bounded: every iteration either fills at least one byte or returns.
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in payloads {
            encode(p, &mut out);
        }
        out
    }

    #[test]
    fn reads_frames_in_order_then_end() {
        let buf = framed(&[b"{\"a\":1}", b"{\"b\":22}"]);
        let mut r = FrameReader::new(&buf[..]);
        assert_eq!(r.next_frame().unwrap(), Step::Frame(0));
        assert_eq!(r.payload(), b"{\"a\":1}");
        assert_eq!(r.next_frame().unwrap(), Step::Frame(15));
        assert_eq!(r.payload(), b"{\"b\":22}");
        assert_eq!(r.next_frame().unwrap(), Step::End);
        assert_eq!(r.offset(), buf.len() as u64);
    }

    #[test]
    fn reports_truncation_crc_and_zero_length() {
        let buf = framed(&[b"{\"a\":1}", b"{\"b\":22}"]);
        for cut in [buf.len() - 1, 15 + 3] {
            let mut r = FrameReader::new(&buf[..cut]);
            r.next_frame().unwrap();
            assert_eq!(
                r.next_frame().unwrap(),
                Step::Bad(15, FrameProblem::Truncated)
            );
            assert_eq!(r.offset(), 15);
        }
        let mut flipped = buf.clone();
        flipped[20] ^= 1;
        let mut r = FrameReader::new(&flipped[..]);
        r.next_frame().unwrap();
        assert_eq!(r.next_frame().unwrap(), Step::Bad(15, FrameProblem::Crc));
        let zeros = [0u8; 32];
        let mut r = FrameReader::new(&zeros[..]);
        assert_eq!(
            r.next_frame().unwrap(),
            Step::Bad(0, FrameProblem::BadLength(0))
        );
    }

    #[test]
    fn finds_intact_frames_after_damage_only_when_present() {
        let mut buf = vec![0u8; 13];
        assert_eq!(find_valid_frame(&buf), None);
        buf.extend(framed(&[b"{\"x\":1}"]));
        assert_eq!(find_valid_frame(&buf), Some(13));
        let partial = framed(&[b"{\"x\":12345}"]);
        assert_eq!(find_valid_frame(&partial[..partial.len() - 2]), None);
        assert_eq!(decode(&partial).unwrap(), b"{\"x\":12345}");
    }
}

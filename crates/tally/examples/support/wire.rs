//! The frame a process sends its registry snapshot in, over a pipe or a socket: one header
//! line `tally-snapshot 1 <length>\n`, then exactly `<length>` bytes of the snapshot as JSON
//! (`serde_json`; `RegistrySnapshot` checks itself as it deserializes).
//!
//! The header makes a cut-off sender (a crash mid-write) an error that says so, not a JSON
//! syntax error, and lets the reader refuse a frame too large before reading it. Shared by
//! `examples/cross_process.rs` and `tests/cross_process.rs` (`#[path]`).
#![allow(dead_code)] // Each includer uses its own part.

use std::io::{self, Read, Write};

use tally::RegistrySnapshot;

/// The first word of the header.
pub const MAGIC: &str = "tally-snapshot";
/// The frame version this code writes and reads.
pub const VERSION: u32 = 1;
/// The largest frame accepted (a snapshot is a few KiB per series).
pub const MAX_FRAME: usize = 256 << 20;
/// The longest header line accepted, line feed included.
const MAX_HEADER: usize = 64;

/// Why a frame could not be read. Every variant means the sender's snapshot is not used;
/// frames from other senders are unaffected.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Reading the pipe failed.
    #[error("reading the frame failed: {0}")]
    Io(#[from] io::Error),
    /// Nothing arrived.
    #[error("the sender sent nothing (did it exit before writing its snapshot?)")]
    Empty,
    /// The bytes do not start with a valid header line.
    #[error(
        "the frame does not start with a `{MAGIC} {VERSION} <length>` header line (it starts \
         with {start:?}): the sender is not a tally snapshot sender of this version"
    )]
    BadHeader {
        /// The first bytes received, lossily decoded.
        start: String,
    },
    /// The header announces more than [`MAX_FRAME`] bytes.
    #[error("the header announces {length} bytes, more than the {MAX_FRAME} accepted")]
    TooLarge {
        /// The announced length.
        length: usize,
    },
    /// Fewer bytes arrived than the header announced.
    #[error(
        "the frame is truncated: the header announced {expected} bytes but {got} arrived \
         (the sender died or was cut off mid-write)"
    )]
    Truncated {
        /// Bytes announced.
        expected: usize,
        /// Bytes received.
        got: usize,
    },
    /// More bytes arrived than the header announced.
    #[error("{extra} bytes follow the frame: the sender wrote something else to the pipe")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// The body is not a valid snapshot.
    #[error("the frame's body is not a valid registry snapshot: {0}")]
    Body(#[from] serde_json::Error),
}

/// Writes `snapshot` as one frame and flushes.
pub fn write_frame(out: &mut impl Write, snapshot: &RegistrySnapshot) -> io::Result<()> {
    let body = serde_json::to_vec(snapshot).map_err(io::Error::other)?;
    writeln!(out, "{MAGIC} {VERSION} {}", body.len())?;
    out.write_all(&body)?;
    out.flush()
}

/// Reads everything `input` sends (up to one frame's worth) and decodes the one frame in it.
pub fn read_frame(input: impl Read) -> Result<RegistrySnapshot, WireError> {
    let mut bytes = Vec::new();
    // One byte past the largest frame, so that an oversized stream is seen as such.
    input.take((MAX_HEADER + MAX_FRAME + 1) as u64).read_to_end(&mut bytes)?;
    decode_frame(&bytes)
}

/// Decodes one frame from `bytes`, which must hold exactly one.
pub fn decode_frame(bytes: &[u8]) -> Result<RegistrySnapshot, WireError> {
    if bytes.is_empty() {
        return Err(WireError::Empty);
    }
    let bad = || WireError::BadHeader {
        start: String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_HEADER)]).into_owned(),
    };
    let line_end =
        bytes[..bytes.len().min(MAX_HEADER)].iter().position(|&b| b == b'\n').ok_or_else(bad)?;
    let header = std::str::from_utf8(&bytes[..line_end]).map_err(|_| bad())?;
    let mut words = header.split(' ');
    let (Some(MAGIC), Some(version), Some(length), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(bad());
    };
    if version.parse::<u32>().ok() != Some(VERSION) {
        return Err(bad());
    }
    let length: usize = length.parse().map_err(|_| bad())?;
    if length > MAX_FRAME {
        return Err(WireError::TooLarge { length });
    }
    let body = &bytes[line_end + 1..];
    if body.len() < length {
        return Err(WireError::Truncated { expected: length, got: body.len() });
    }
    if body.len() > length {
        return Err(WireError::TrailingBytes { extra: body.len() - length });
    }
    Ok(serde_json::from_slice(body)?)
}

//! The config channel between the operator and its proxies, as the two ends agree on it.
//!
//! A proxy opens one HTTP/2 stream over TLS, `POST /v1/snapshots`, and keeps it open. Both
//! bodies are newline-delimited JSON, one frame per line, so either side can read frames as
//! they arrive without a length prefix (compact JSON never contains a raw newline):
//!
//! - the response body carries [`Push`] frames, operator → proxy, the newest snapshot first
//!   and then each new one; a slow proxy skips straight to the newest;
//! - the request body carries [`Ack`] frames, proxy → operator, one per push: the version
//!   now served, or the reason the push was refused.
//!
//! The proxy authenticates with its projected service-account token (audience [`AUDIENCE`]) in
//! `Authorization: Bearer`. The operator answers 401 when the token is refused and 503 when it
//! is not the leader; the proxy then tries again (elsewhere, later).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::Snapshot;

/// The path of the channel.
pub const PATH: &str = "/v1/snapshots";
/// The audience a proxy's service-account token must be bound to.
pub const AUDIENCE: &str = "switchyard";
/// Request header naming the proxy (its pod name), for status and metrics.
pub const PROXY_HEADER: &str = "x-switchyard-proxy";
/// Request header with the hash of the snapshot the proxy already serves, if any: the operator
/// does not send that snapshot again.
pub const HASH_HEADER: &str = "x-switchyard-snapshot";
/// The content type of both bodies.
pub const CONTENT_TYPE: &str = "application/x-ndjson";
/// The largest frame either side accepts (a 10,000-model snapshot is about 14 MB).
pub const MAX_FRAME_BYTES: usize = 256 << 20;

/// A snapshot pushed to a proxy. `snapshot` is the JSON of a
/// [`Snapshot`](crate::snapshot::Snapshot), kept raw so that a refused snapshot can still be
/// acked by version.
#[derive(Debug, Deserialize)]
pub struct Push<'a> {
    /// The snapshot's version (also inside `snapshot`; here so a broken snapshot can be named).
    pub version: u64,
    /// The snapshot itself.
    #[serde(borrow)]
    pub snapshot: &'a RawValue,
}

/// Encodes a push frame around an already-serialized snapshot.
pub fn encode_push(version: u64, snapshot_json: &[u8]) -> Vec<u8> {
    frame(version, snapshot_json.len(), |frame| {
        frame.extend_from_slice(snapshot_json);
        Ok(())
    })
    .unwrap_or_else(|never: std::convert::Infallible| match never {})
}

/// Encodes the push frame of `snapshot`, serializing it straight into the frame: the snapshot
/// is serialized once for the whole fleet, and a 10 MB snapshot is never held twice.
pub fn encode_snapshot_push(snapshot: &Snapshot) -> Result<Vec<u8>, serde_json::Error> {
    frame(snapshot.version, 0, |frame| {
        serde_json::to_writer(frame, snapshot)
    })
}

fn frame<E>(
    version: u64,
    body_len: usize,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<Vec<u8>, E> {
    let head = format!("{{\"version\":{version},\"snapshot\":");
    let mut frame = Vec::with_capacity(head.len() + body_len + 2);
    frame.extend_from_slice(head.as_bytes());
    body(&mut frame)?;
    frame.extend_from_slice(b"}\n");
    Ok(frame)
}

/// A proxy's answer to a push.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The version pushed.
    pub version: u64,
    /// The hash of the snapshot now served (after an accepted push: the pushed one).
    pub hash: String,
    /// Why the push was refused; `None` when it was accepted and is now served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Ack {
    /// The frame for this ack: its JSON and a newline.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing a struct of numbers and strings cannot fail.
        let mut frame = serde_json::to_vec(self).unwrap_or_default();
        frame.push(b'\n');
        frame
    }
}

/// A frame longer than [`MAX_FRAME_BYTES`] arrived.
#[derive(Debug, thiserror::Error)]
#[error("a frame on the config channel exceeds {MAX_FRAME_BYTES} bytes")]
pub struct FrameTooLong;

/// Splits a body arriving in chunks into newline-terminated frames.
#[derive(Debug, Default)]
pub struct FrameReader {
    buffer: Vec<u8>,
}

impl FrameReader {
    /// Adds a chunk and returns every frame it completes (without the newline). Empty lines
    /// are skipped.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<Vec<u8>>, FrameTooLong> {
        let mut frames = Vec::new();
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let (line, tail) = rest.split_at(end);
            rest = &tail[1..];
            let frame = if self.buffer.is_empty() {
                line.to_vec()
            } else {
                self.buffer.extend_from_slice(line);
                std::mem::take(&mut self.buffer)
            };
            if frame.len() > MAX_FRAME_BYTES {
                return Err(FrameTooLong);
            }
            if !frame.is_empty() {
                frames.push(frame);
            }
        }
        self.buffer.extend_from_slice(rest);
        if self.buffer.len() > MAX_FRAME_BYTES {
            return Err(FrameTooLong);
        }
        Ok(frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Content;

    #[test]
    fn a_push_carries_a_snapshot_that_decodes_and_verifies()
    -> Result<(), Box<dyn std::error::Error>> {
        let snapshot = Snapshot::new(Content::default())?.with_version(7);
        let frame = encode_push(7, &snapshot.to_json()?);
        assert_eq!(
            encode_snapshot_push(&snapshot)?,
            frame,
            "serializing into the frame gives the same bytes"
        );
        assert_eq!(frame.last(), Some(&b'\n'));
        assert_eq!(frame.iter().filter(|&&b| b == b'\n').count(), 1);
        let push: Push<'_> = serde_json::from_slice(&frame)?;
        assert_eq!(push.version, 7);
        let decoded = Snapshot::from_json(push.snapshot.get().as_bytes())?;
        assert_eq!(decoded.hash, snapshot.hash);
        Ok(())
    }

    #[test]
    fn frames_split_across_chunks_are_joined() -> Result<(), FrameTooLong> {
        let ack = Ack {
            version: 3,
            hash: "abc".into(),
            error: Some("bad\nnews".into()),
        };
        let bytes = [ack.encode(), b"\n".to_vec(), ack.encode()].concat();
        let mut reader = FrameReader::default();
        let mut frames = Vec::new();
        for chunk in bytes.chunks(5) {
            frames.extend(reader.push(chunk)?);
        }
        assert_eq!(frames.len(), 2, "the empty line is skipped");
        for frame in frames {
            let decoded: Ack = serde_json::from_slice(&frame).map_err(|_| FrameTooLong)?;
            assert_eq!(decoded, ack);
        }
        Ok(())
    }

    #[test]
    fn an_endless_line_is_refused() {
        let mut reader = FrameReader::default();
        let chunk = vec![b'x'; 1 << 20];
        let refused = (0..=(MAX_FRAME_BYTES >> 20)).any(|_| reader.push(&chunk).is_err());
        assert!(refused);
    }
}

//! Server-sent event framing, byte for byte as the providers write it.

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;

/// `event: NAME\ndata: JSON\n\n`, the named events of Anthropic and the Responses API.
pub(crate) fn event(name: &str, data: &impl Serialize) -> Bytes {
    let mut out = BytesMut::with_capacity(128);
    out.put_slice(b"event: ");
    out.put_slice(name.as_bytes());
    out.put_slice(b"\ndata: ");
    write_json(&mut out, data);
    out.put_slice(b"\n\n");
    out.freeze()
}

/// `data: JSON\n\n`, OpenAI's unnamed chunks.
pub(crate) fn data(data: &impl Serialize) -> Bytes {
    let mut out = BytesMut::with_capacity(128);
    out.put_slice(b"data: ");
    write_json(&mut out, data);
    out.put_slice(b"\n\n");
    out.freeze()
}

/// `data: JSON\r\n\r\n`: Gemini ends its events with CRLF pairs.
pub(crate) fn data_crlf(data: &impl Serialize) -> Bytes {
    let mut out = BytesMut::with_capacity(128);
    out.put_slice(b"data: ");
    write_json(&mut out, data);
    out.put_slice(b"\r\n\r\n");
    out.freeze()
}

/// OpenAI's end-of-stream sentinel.
pub(crate) fn done() -> Bytes {
    Bytes::from_static(b"data: [DONE]\n\n")
}

/// Serializes JSON into `out`; a value that cannot serialize (never, for `serde_json::Value`)
/// leaves `null` so the frame stays well formed.
pub(crate) fn write_json(out: &mut BytesMut, data: &impl Serialize) {
    let mut writer = out.writer();
    if serde_json::to_writer(&mut writer, data).is_err() {
        writer.get_mut().put_slice(b"null");
    }
}

/// JSON bytes of a value, for non-streaming bodies.
pub(crate) fn json_bytes(data: &impl Serialize) -> Bytes {
    let mut out = BytesMut::with_capacity(512);
    write_json(&mut out, data);
    out.freeze()
}

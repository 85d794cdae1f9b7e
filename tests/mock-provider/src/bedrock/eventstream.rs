//! The AWS event-stream binary framing that Bedrock's ConverseStream answers in.
//!
//! A message is a 12-byte prelude (total length, headers length, CRC32 of those 8 bytes), the
//! headers, the payload, and a CRC32 of everything before it; all integers big-endian. A header
//! is a 1-byte name length, the name, a 1-byte value type (7 = string), a 2-byte value length
//! and the value. Reference:
//! <https://docs.aws.amazon.com/transcribe/latest/dg/streaming-setting-up.html#streaming-event-stream>.

use bytes::{BufMut, Bytes, BytesMut};

/// The header value type for UTF-8 strings.
const STRING: u8 = 7;

/// An `:message-type: event` message carrying a JSON payload.
pub(crate) fn event(event_type: &str, payload: &[u8]) -> Bytes {
    message(
        &[
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload,
    )
}

/// An `:message-type: exception` message, as a stream that fails after it started ends.
pub(crate) fn exception(exception_type: &str, payload: &[u8]) -> Bytes {
    message(
        &[
            (":exception-type", exception_type),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        payload,
    )
}

/// Encodes one message with string headers.
pub(crate) fn message(headers: &[(&str, &str)], payload: &[u8]) -> Bytes {
    let headers_len: usize = headers
        .iter()
        .map(|(n, v)| 1 + n.len() + 1 + 2 + v.len())
        .sum();
    let total = 12 + headers_len + payload.len() + 4;
    let mut out = BytesMut::with_capacity(total);
    out.put_u32(u32::try_from(total).unwrap_or(u32::MAX));
    out.put_u32(u32::try_from(headers_len).unwrap_or(u32::MAX));
    let prelude_crc = crc32fast::hash(&out[..8]);
    out.put_u32(prelude_crc);
    for (name, value) in headers {
        // Header names and values here are short constants and event names, within limits.
        out.put_u8(u8::try_from(name.len()).unwrap_or(u8::MAX));
        out.put_slice(name.as_bytes());
        out.put_u8(STRING);
        out.put_u16(u16::try_from(value.len()).unwrap_or(u16::MAX));
        out.put_slice(value.as_bytes());
    }
    out.put_slice(payload);
    let message_crc = crc32fast::hash(&out);
    out.put_u32(message_crc);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_checksums_frame_the_message() {
        let frame = event("messageStart", br#"{"role":"assistant"}"#);
        let total = u32::from_be_bytes(frame[0..4].try_into().unwrap()) as usize;
        let headers = u32::from_be_bytes(frame[4..8].try_into().unwrap()) as usize;
        assert_eq!(total, frame.len());
        assert_eq!(
            u32::from_be_bytes(frame[8..12].try_into().unwrap()),
            crc32fast::hash(&frame[..8])
        );
        let crc_at = frame.len() - 4;
        assert_eq!(
            u32::from_be_bytes(frame[crc_at..].try_into().unwrap()),
            crc32fast::hash(&frame[..crc_at])
        );
        assert_eq!(&frame[12 + headers..crc_at], br#"{"role":"assistant"}"#);
        assert_eq!(frame[12], 11);
        assert_eq!(&frame[13..24], b":event-type");
    }
}

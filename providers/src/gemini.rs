//! Google Gemini (not yet translated).

use bytes::BytesMut;
use switchyard_crds::snapshot::Model;

use crate::hub::{ChatResponse, Event, unsupported};
use crate::request::Outgoing;
use crate::{
    ClientRequest, ErrorKind, RequestError, StreamError, Translated, UpstreamError, UpstreamRequest,
};

/// Builds a request to Gemini.
pub(crate) fn build_request(out: Outgoing<'_>) -> Result<UpstreamRequest, RequestError> {
    Err(unsupported(
        out.model.provider,
        "be called: its translation is not implemented yet",
    ))
}

/// Reads a Gemini answer into the hub.
pub(crate) fn decode_response(_body: &[u8]) -> Result<ChatResponse, UpstreamError> {
    Err(UpstreamError {
        status: 502,
        kind: ErrorKind::Api,
        message: "gemini is not translated yet".into(),
    })
}

/// Translates a Gemini embeddings answer.
pub(crate) fn translate_embeddings(
    _r: &ClientRequest,
    _m: &Model,
    _body: &[u8],
) -> Result<Translated, UpstreamError> {
    Err(UpstreamError {
        status: 502,
        kind: ErrorKind::Api,
        message: "gemini is not translated yet".into(),
    })
}

/// Reads Gemini's stream.
#[derive(Debug, Default)]
pub(crate) struct ChunkDecoder {
    _bytes: BytesMut,
}

impl ChunkDecoder {
    /// Decodes the next bytes.
    pub(crate) fn push(
        &mut self,
        _chunk: &[u8],
        _eof: bool,
        _events: &mut Vec<Event>,
    ) -> Result<(), StreamError> {
        Err(StreamError::Unsupported {
            api: "chat",
            provider: "gemini",
        })
    }
}

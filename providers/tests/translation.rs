//! Golden tests of every translation: requests per (client API, provider), whole and streamed
//! responses per (provider, client API), stream replays split at every byte, and errors.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail the test loudly, as tests do"
)]

mod translation {
    mod errors;
    mod requests;
    mod responses;
    mod streams;
    mod support;
    mod transforms;
}

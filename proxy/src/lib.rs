//! Switchyard's data plane. For now: standalone configuration checking; the Pingora request
//! path arrives with the data-plane work.

pub mod standalone;

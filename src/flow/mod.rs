//! Flows: the bidirectional flow table and per-direction TCP reassembly.
//!
//! A packet's 5-tuple finds its flow in [`table::FlowTable`], which decides who is the client,
//! ends flows on idle and active timeouts, on connection close and port reuse, and caps the
//! number of live flows by evicting the least recently seen. Flow ids are handed out in the
//! order flows are first seen, so the same input always gives the same ids.
//! [`reassembly::StreamReassembler`] turns each TCP direction into ordered bytes for the
//! dissectors.

pub mod direction;
pub mod key;
pub mod reassembly;
pub mod table;

pub use direction::Direction;
pub use key::{Endpoint, FlowKey, Protocol};
pub use table::{EndReason, FlowConfig, FlowEntry, FlowTable};

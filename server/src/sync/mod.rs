//! The sync protocol's server side (types in `vaidya_shared::sync`): idempotent push with
//! clinical conflict rules, commit-safe pull of whole entities, the conflict inbox, and live
//! change notifications. Everything runs in a [`RequestTx`](crate::http::RequestTx) under the
//! same forced RLS, membership checks and audit trail as the REST API.

pub mod authors;
pub mod conflicts;
pub mod cursor;
pub mod hub_feed;
pub mod live;
pub mod pull;
pub mod push;
pub mod relay_answers;

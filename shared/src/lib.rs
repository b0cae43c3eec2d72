//! Vaidya's wire contract: the types that cross between server and clients, the stable
//! error codes, and the protocol version. No I/O lives here.

pub mod api;
pub mod authorship;
pub mod compact_pull;
pub mod entity;
pub mod error;
pub mod gst;
pub mod gstr1;
pub mod numbering;
pub mod password;
pub mod rules;
pub mod search;
pub mod sync;
#[cfg(feature = "ts")]
pub mod ts;
pub mod validate;

pub use error::{ApiError, ErrorCode};

/// Version of the HTTP/sync protocol spoken by this build. A server accepts clients of its
/// own version and the one before it; anything else gets `ErrorCode::UpgradeRequired`.
pub const PROTOCOL_VERSION: u32 = 1;

/// Header a client sends with its protocol version.
pub const PROTOCOL_HEADER: &str = "x-vaidya-protocol";

/// Header a client sends to name the device a request comes from (recorded in the audit trail).
pub const DEVICE_HEADER: &str = "x-vaidya-device";

/// A device's name as the server keeps it (audit rows, conflicts, invoice series): without
/// control characters, at most 200 characters. One rule for the header and for the name a
/// relayed change carries signed (`sync::Mutation::device`).
pub fn device_name(raw: &str) -> String {
    raw.chars().filter(|c| !c.is_control()).take(200).collect()
}

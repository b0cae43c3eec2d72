//! Stable error codes and the JSON error body every endpoint returns on failure.
//!
//! Clients switch on [`ErrorCode`], never on the English message.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Machine-readable error code. Serialized in snake_case; never renamed once shipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request body is not valid JSON, or has the wrong shape or unknown fields.
    MalformedBody,
    /// A field's value is not acceptable (bad date, empty name, out-of-range amount …).
    InvalidField,
    /// A path or query parameter could not be parsed.
    InvalidParameter,
    /// The body is larger than the server accepts.
    BodyTooLarge,
    /// Missing, expired or revoked credentials.
    Unauthenticated,
    /// Wrong email or password (the same answer for an unknown email).
    InvalidCredentials,
    /// Too many failed sign-ins; retry after the given delay.
    TooManyAttempts,
    /// Signed in, but the user's role in this clinic does not allow the action.
    Forbidden,
    /// A change carries an author whose signature does not hold: forged, altered after
    /// signing, or made with a key that is not that author's, or revoked.
    InvalidSignature,
    /// No such row in a clinic the caller may see (also: another clinic's row).
    NotFound,
    /// The address exists but does not take this HTTP method.
    MethodNotAllowed,
    /// The row changed since the version the client based its edit on.
    VersionConflict,
    /// The action is not allowed in the row's current state (editing a signed note …).
    InvalidState,
    /// A unique value (patient number, email, membership) already exists.
    AlreadyExists,
    /// The client speaks a protocol version the server no longer (or not yet) supports.
    UpgradeRequired,
    /// Something failed on the server; details are in the server log, never in the body.
    Internal,
    /// A passing condition on the server (a deadlock or serialization failure that its own
    /// retries did not absorb, a database restart): nothing was stored; send the same
    /// request again after the response's `Retry-After` seconds.
    RetryLater,
}

impl ErrorCode {
    /// The HTTP status that goes with the code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::MalformedBody | ErrorCode::InvalidParameter => 400,
            ErrorCode::InvalidField => 422,
            ErrorCode::BodyTooLarge => 413,
            ErrorCode::Unauthenticated | ErrorCode::InvalidCredentials => 401,
            ErrorCode::TooManyAttempts => 429,
            ErrorCode::Forbidden | ErrorCode::InvalidSignature => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::VersionConflict | ErrorCode::InvalidState | ErrorCode::AlreadyExists => 409,
            ErrorCode::UpgradeRequired => 426,
            ErrorCode::Internal => 500,
            ErrorCode::RetryLater => 503,
        }
    }
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ApiError {
    pub code: ErrorCode,
    /// A sentence a person can read. Never contains database details.
    pub message: String,
    /// The offending field, when one is to blame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub field: Option<String>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

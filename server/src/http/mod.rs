//! HTTP plumbing shared by every route: the error type, extractors that turn malformed input
//! into stable error codes, and the per-request database transaction carrying the caller's
//! identity.

pub mod error;
pub mod extract;
pub mod tx;

pub use error::AppError;
pub use extract::{ApiJson, ApiPath, ApiQuery, RequestMeta};
pub use tx::{ParamTypes, RequestTx};

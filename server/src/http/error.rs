//! `AppError`: the one error type of the HTTP layer. Client mistakes become a 4xx with a
//! stable [`ErrorCode`]; anything unexpected becomes a generic 500 whose details go only to
//! the log, so no PostgreSQL error text ever reaches a client.
//!
//! Transient database conditions (a deadlock, a serialization failure, a lost connection, a
//! database shutting down or starting up) are neither the client's fault nor a verdict on
//! its data: they are [`AppError::Transient`], which `RequestTx::run` retries as a whole
//! transaction and which otherwise becomes `503 retry_later` with `Retry-After`. They are
//! never stored as a sync mutation's result (see `sync::push`): only the rules reject.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use tokio_postgres::error::SqlState;
use vaidya_shared::{ApiError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// An error the client caused or may act on.
    #[error("{code:?}: {message}")]
    Client {
        code: ErrorCode,
        message: String,
        field: Option<String>,
    },
    /// The caller was refused; the refusal has been written to the audit trail and the
    /// transaction must still commit so that record is kept.
    #[error("denied: {0:?}")]
    Denied(ErrorCode),
    /// A passing database condition: the whole transaction may be tried again. Logged,
    /// answered `503 retry_later` with `Retry-After`.
    #[error("transient: {0}")]
    Transient(anyhow::Error),
    /// Anything else; logged in full, answered generically.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Seconds a client waits before sending a request that failed transiently again.
pub const RETRY_AFTER_SECS: u64 = 1;

/// SQLSTATEs that say "this attempt lost a race or the database is briefly away", not "this
/// request is wrong": retrying the same transaction later is expected to succeed.
pub fn is_transient_sqlstate(code: &SqlState) -> bool {
    let c = code.code();
    *code == SqlState::T_R_SERIALIZATION_FAILURE // 40001
        || *code == SqlState::T_R_DEADLOCK_DETECTED // 40P01
        || *code == SqlState::LOCK_NOT_AVAILABLE // 55P03 (lock_timeout, NOWAIT)
        || *code == SqlState::ADMIN_SHUTDOWN // 57P01
        || *code == SqlState::CRASH_SHUTDOWN // 57P02
        || *code == SqlState::CANNOT_CONNECT_NOW // 57P03 (starting up, recovery)
        || *code == SqlState::TOO_MANY_CONNECTIONS // 53300
        || c.starts_with("08") // connection exceptions
}

impl AppError {
    pub fn client(code: ErrorCode, message: impl Into<String>) -> AppError {
        AppError::Client {
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn field(field: &str, message: impl Into<String>) -> AppError {
        AppError::Client {
            code: ErrorCode::InvalidField,
            message: message.into(),
            field: Some(field.to_string()),
        }
    }

    /// The answer for a missing row and for another clinic's row alike.
    pub fn not_found() -> AppError {
        AppError::client(ErrorCode::NotFound, "Not found.")
    }

    pub fn unauthenticated() -> AppError {
        AppError::client(ErrorCode::Unauthenticated, "Please sign in again.")
    }

    /// The stable code and the readable message a client gets for this error.
    pub fn code_and_message(&self) -> (ErrorCode, String) {
        let body = self.body();
        (body.code, body.message)
    }

    /// Code, message and the offending field (if any), as the error body carries them.
    pub fn code_message_field(&self) -> (ErrorCode, String, Option<String>) {
        let body = self.body();
        (body.code, body.message, body.field)
    }

    /// Whether the transaction should commit despite the error (audit rows of a denial).
    pub fn keeps_transaction(&self) -> bool {
        matches!(self, AppError::Denied(_))
    }

    /// A passing condition: the whole transaction may be run again.
    pub fn is_transient(&self) -> bool {
        matches!(self, AppError::Transient(_))
    }

    /// Whether the error ends the whole request rather than one mutation of a push: a server
    /// fault, or a transient condition (the transaction is aborted and must be retried as a
    /// whole; turning it into a mutation's `rejected` result would strand the mutation).
    pub fn fails_request(&self) -> bool {
        matches!(self, AppError::Internal(_) | AppError::Transient(_))
    }

    fn body(&self) -> ApiError {
        match self {
            AppError::Client {
                code,
                message,
                field,
            } => ApiError {
                code: *code,
                message: message.clone(),
                field: field.clone(),
            },
            AppError::Denied(ErrorCode::NotFound) => ApiError {
                code: ErrorCode::NotFound,
                message: "Not found.".into(),
                field: None,
            },
            AppError::Denied(code) => ApiError {
                code: *code,
                message: "Your role in this clinic does not allow this.".into(),
                field: None,
            },
            AppError::Transient(_) => ApiError {
                code: ErrorCode::RetryLater,
                message: "The server is busy for a moment; nothing was saved. Please retry.".into(),
                field: None,
            },
            AppError::Internal(_) => ApiError {
                code: ErrorCode::Internal,
                message: "Something went wrong on the server. Please try again.".into(),
                field: None,
            },
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match &self {
            AppError::Internal(e) => tracing::error!(error = ?e, "request failed"),
            AppError::Transient(e) => tracing::warn!(error = ?e, "request failed transiently"),
            _ => {}
        }
        let body = self.body();
        let status = StatusCode::from_u16(body.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if self.is_transient() {
            let wait = [(header::RETRY_AFTER, RETRY_AFTER_SECS.to_string())];
            return (status, wait, Json(body)).into_response();
        }
        (status, Json(body)).into_response()
    }
}

/// A refusal by the shared rules (`shared::rules`) is a client error with the same body.
impl From<ApiError> for AppError {
    fn from(e: ApiError) -> AppError {
        AppError::Client {
            code: e.code,
            message: e.message,
            field: e.field,
        }
    }
}

impl From<tokio_postgres::Error> for AppError {
    fn from(e: tokio_postgres::Error) -> AppError {
        let Some(db) = e.as_db_error() else {
            // No answer from the database: the connection broke or closed (a restart, a
            // failover, a network cut). Nothing of the transaction is kept.
            if e.is_closed()
                || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>())
            {
                return AppError::Transient(e.into());
            }
            return AppError::Internal(e.into());
        };
        let code = db.code();
        if is_transient_sqlstate(code) {
            return AppError::Transient(e.into());
        }
        let constraint = db.constraint().unwrap_or_default().to_string();
        // Our own trigger errors (SQLSTATE class VD) carry messages written for people.
        match code.code() {
            "VD001" => return AppError::client(ErrorCode::InvalidState, db.message().to_string()),
            "VD002" => return AppError::client(ErrorCode::InvalidField, db.message().to_string()),
            _ => {}
        }
        if *code == SqlState::UNIQUE_VIOLATION && constraint == "sync_mutations_pkey" {
            // A concurrent push of the same mutations committed first: a new attempt finds
            // and returns its stored results (nothing is applied twice).
            return AppError::Transient(e.into());
        }
        if *code == SqlState::UNIQUE_VIOLATION {
            let what = if constraint.contains("abha") {
                "A patient with this ABHA number already exists in this clinic."
            } else if constraint.contains("pkey") {
                "A record with this id already exists."
            } else {
                "This record already exists."
            };
            AppError::client(ErrorCode::AlreadyExists, what)
        } else if *code == SqlState::FOREIGN_KEY_VIOLATION {
            AppError::client(
                ErrorCode::InvalidField,
                "A referenced record does not exist in this clinic.",
            )
        } else if *code == SqlState::CHECK_VIOLATION || *code == SqlState::NOT_NULL_VIOLATION {
            AppError::Client {
                code: ErrorCode::InvalidField,
                message: "A value is missing or not acceptable.".into(),
                field: column_of_constraint(&constraint),
            }
        } else if *code == SqlState::INSUFFICIENT_PRIVILEGE {
            tracing::info!(message = db.message(), "refused by the database");
            AppError::client(
                ErrorCode::Forbidden,
                "Your role in this clinic does not allow this.",
            )
        } else if code.code().starts_with("22") {
            AppError::client(ErrorCode::InvalidField, "A value is not acceptable.")
        } else {
            AppError::Internal(e.into())
        }
    }
}

/// PostgreSQL names check constraints `<table>_<column>_check`; recover the column.
fn column_of_constraint(constraint: &str) -> Option<String> {
    let rest = constraint.strip_suffix("_check")?;
    let tables = [
        "patients_",
        "appointments_",
        "encounters_",
        "encounter_addenda_",
        "prescriptions_",
        "prescription_items_",
        "invoices_",
        "invoice_lines_",
        "payments_",
        "memberships_",
    ];
    tables
        .iter()
        .find_map(|t| rest.strip_prefix(t))
        .map(str::to_string)
}

impl From<deadpool_postgres::PoolError> for AppError {
    fn from(e: deadpool_postgres::PoolError) -> AppError {
        match e {
            // Every connection busy for the pool's wait: the server is overloaded for now.
            deadpool_postgres::PoolError::Timeout(_) => AppError::Transient(e.into()),
            // Connecting failed: classified like any database error (a refused or reset
            // connection, `cannot_connect_now` while the database starts, is transient).
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            e => AppError::Internal(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_details() {
        let e = AppError::Internal(anyhow::anyhow!("relation vaidya.patients does not exist"));
        let body = e.body();
        assert_eq!(body.code, ErrorCode::Internal);
        assert!(!body.message.contains("vaidya"));
    }

    #[test]
    fn constraint_names_map_to_columns() {
        assert_eq!(
            column_of_constraint("patients_abha_number_check").as_deref(),
            Some("abha_number")
        );
        assert_eq!(
            column_of_constraint("invoice_lines_sac_hsn_check").as_deref(),
            Some("sac_hsn")
        );
        assert_eq!(column_of_constraint("whatever"), None);
    }

    #[test]
    fn transient_sqlstates_are_recognised() {
        for code in [
            "40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300", "08006", "08003",
        ] {
            assert!(is_transient_sqlstate(&SqlState::from_code(code)), "{code}");
        }
        for code in [
            "23505", "23503", "22P02", "42501", "VD001", "XX000", "57014",
        ] {
            assert!(!is_transient_sqlstate(&SqlState::from_code(code)), "{code}");
        }
    }

    #[test]
    fn transient_errors_are_503_with_retry_after_and_hide_details() {
        let e = AppError::Transient(anyhow::anyhow!("deadlock detected on vaidya.patients"));
        assert!(e.is_transient() && e.fails_request() && !e.keeps_transaction());
        let (code, message) = e.code_and_message();
        assert_eq!(code, ErrorCode::RetryLater);
        assert!(!message.contains("vaidya") && !message.contains("deadlock"));
        let response = e.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.to_str().unwrap()),
            Some(RETRY_AFTER_SECS.to_string().as_str())
        );
    }

    #[test]
    fn client_errors_do_not_abort_a_push() {
        let e = AppError::client(ErrorCode::VersionConflict, "changed meanwhile");
        assert!(!e.fails_request() && !e.is_transient());
        assert_eq!(e.into_response().status(), StatusCode::CONFLICT);
    }

    #[test]
    fn denial_of_another_clinic_looks_like_missing_row() {
        assert_eq!(
            AppError::Denied(ErrorCode::NotFound).body(),
            AppError::not_found().body()
        );
    }
}

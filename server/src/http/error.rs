//! `AppError`: the one error type of the HTTP layer. Client mistakes become a 4xx with a
//! stable [`ErrorCode`]; anything unexpected becomes a generic 500 whose details go only to
//! the log, so no PostgreSQL error text ever reaches a client.

use axum::http::StatusCode;
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
    /// Anything else; logged in full, answered generically.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
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
        if let AppError::Internal(e) = &self {
            tracing::error!(error = ?e, "request failed");
        }
        let body = self.body();
        let status = StatusCode::from_u16(body.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(body)).into_response()
    }
}

impl From<tokio_postgres::Error> for AppError {
    fn from(e: tokio_postgres::Error) -> AppError {
        let Some(db) = e.as_db_error() else {
            return AppError::Internal(e.into());
        };
        let code = db.code();
        let constraint = db.constraint().unwrap_or_default().to_string();
        // Our own trigger errors (SQLSTATE class VD) carry messages written for people.
        match code.code() {
            "VD001" => return AppError::client(ErrorCode::InvalidState, db.message().to_string()),
            "VD002" => return AppError::client(ErrorCode::InvalidField, db.message().to_string()),
            _ => {}
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
            AppError::client(
                ErrorCode::Forbidden,
                "Your role in this clinic does not allow this.",
            )
        } else if code.code().starts_with("22") {
            AppError::client(ErrorCode::InvalidField, "A value is not acceptable.")
        } else if *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
        {
            AppError::client(
                ErrorCode::VersionConflict,
                "The record was changed at the same time; please retry.",
            )
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
        AppError::Internal(e.into())
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
    fn denial_of_another_clinic_looks_like_missing_row() {
        assert_eq!(
            AppError::Denied(ErrorCode::NotFound).body(),
            AppError::not_found().body()
        );
    }
}

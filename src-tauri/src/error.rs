//! The one error shape that crosses to the UI: `{code, message, field?}`. The UI switches on
//! `code` (stable snake_case strings from the client core) and never parses `message`.

use serde::Serialize;
use vaidya_client::partition::PartitionError;
use vaidya_client::{ApiError, CredentialError, SessionError, SyncError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UiError {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl UiError {
    pub fn new(code: &str, message: impl Into<String>) -> UiError {
        UiError {
            code: code.to_owned(),
            message: message.into(),
            field: None,
        }
    }

    pub fn not_signed_in() -> UiError {
        UiError::new("not_signed_in", "nobody is signed in")
    }

    pub fn no_clinic() -> UiError {
        UiError::new("no_clinic", "no clinic is open")
    }

    /// A feature this build does not offer (the UI shows a neutral notice for this code).
    pub fn not_available(what: &str) -> UiError {
        UiError::new(
            "not_available",
            format!("{what} is not available in this build yet"),
        )
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> UiError {
        UiError {
            code: "invalid_field".to_owned(),
            message: message.into(),
            field: Some(field.to_owned()),
        }
    }
}

impl std::fmt::Display for UiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for UiError {}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        let code = match &e {
            // The UI words every unreachable-server case the same way.
            ApiError::Network(_) => "offline",
            other => other.code(),
        };
        UiError::new(code, e.to_string())
    }
}

impl From<SessionError> for UiError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Api(api) => api.into(),
            other => UiError::new(other.code(), other.to_string()),
        }
    }
}

/// A refusal by the shared rules: the same code, field and words as the server's answer.
impl From<vaidya_shared::ApiError> for UiError {
    fn from(e: vaidya_shared::ApiError) -> Self {
        let code = serde_json::to_value(e.code)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "invalid_field".to_owned());
        UiError {
            code,
            message: e.message,
            field: e.field,
        }
    }
}

impl From<vaidya_client::ClinicError> for UiError {
    fn from(e: vaidya_client::ClinicError) -> Self {
        match e {
            vaidya_client::ClinicError::Refused(e) => e.into(),
            vaidya_client::ClinicError::Store(e) => e.into(),
        }
    }
}

impl From<PartitionError> for UiError {
    fn from(e: PartitionError) -> Self {
        match e {
            // The field travels separately so the form can mark it.
            PartitionError::InvalidValue { field, message } => UiError::invalid(&field, message),
            other => UiError::new(other.code(), other.to_string()),
        }
    }
}

impl From<CredentialError> for UiError {
    fn from(e: CredentialError) -> Self {
        UiError::new(e.code(), e.to_string())
    }
}

impl From<SyncError> for UiError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Api(api) => api.into(),
            SyncError::Partition(p) => p.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_code_and_message() {
        let json = serde_json::to_value(UiError::not_signed_in()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": "not_signed_in", "message": "nobody is signed in"})
        );
        let json = serde_json::to_value(UiError::invalid("phone", "bad")).unwrap();
        assert_eq!(json["field"], "phone");
    }

    #[test]
    fn network_failures_read_as_offline() {
        let e: UiError = ApiError::Network("connection refused".into()).into();
        assert_eq!(e.code, "offline");
        let e: UiError = SessionError::NotSignedIn.into();
        assert_eq!(e.code, "not_signed_in");
    }
}

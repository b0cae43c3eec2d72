//! Extractors: JSON bodies, paths and queries whose rejections become [`AppError`]s with
//! stable codes, and [`RequestMeta`] (bearer token, request id, device, protocol version).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::StatusCode;
use sha2::{Digest, Sha256};
use vaidya_shared::{ErrorCode, DEVICE_HEADER, PROTOCOL_HEADER, PROTOCOL_VERSION};

use super::AppError;

/// A JSON body; malformed JSON, wrong types and unknown fields become `malformed_body`,
/// oversized bodies `body_too_large`.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct ApiJson<T>(pub T);

/// Path parameters; an invalid UUID becomes `invalid_parameter`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct ApiPath<T>(pub T);

/// Query parameters; bad values and unknown keys become `invalid_parameter`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct ApiQuery<T>(pub T);

impl From<JsonRejection> for AppError {
    fn from(r: JsonRejection) -> AppError {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return AppError::client(ErrorCode::BodyTooLarge, "The request body is too large.");
        }
        let message = match &r {
            JsonRejection::MissingJsonContentType(_) => {
                "Send the body as JSON (Content-Type: application/json).".to_string()
            }
            JsonRejection::JsonSyntaxError(_) => "The body is not valid JSON.".to_string(),
            // serde's message names the field and what was expected, never server internals.
            JsonRejection::JsonDataError(e) => format!(
                "The body has the wrong shape: {}",
                clip(&without_type_names(&e.body_text()))
            ),
            _ => "The body could not be read.".to_string(),
        };
        AppError::client(ErrorCode::MalformedBody, message)
    }
}

impl From<PathRejection> for AppError {
    fn from(r: PathRejection) -> AppError {
        AppError::client(
            ErrorCode::InvalidParameter,
            format!(
                "Bad path parameter: {}",
                clip(&without_type_names(&r.body_text()))
            ),
        )
    }
}

impl From<QueryRejection> for AppError {
    fn from(r: QueryRejection) -> AppError {
        AppError::client(
            ErrorCode::InvalidParameter,
            format!(
                "Bad query parameter: {}",
                clip(&without_type_names(&r.body_text()))
            ),
        )
    }
}

/// serde names the server's Rust types in its messages ("expected struct NewPatient with 7
/// elements"); a client is told the JSON shape instead ("expected an object").
fn without_type_names(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = ["struct ", "enum "]
        .iter()
        .filter_map(|kw| rest.find(kw).map(|i| (i, *kw)))
        .min()
    {
        let (i, kw) = at;
        let after = &rest[i + kw.len()..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        // Only a type name (CamelCase) is replaced; ordinary words pass through.
        if name_len == 0 || !after.starts_with(|c: char| c.is_ascii_uppercase()) {
            out.push_str(&rest[..i + kw.len()]);
            rest = after;
            continue;
        }
        let mut tail = &after[name_len..];
        if let Some(t) = tail.strip_prefix(" with ") {
            // "with 7 elements"
            if let Some(end) = t.find(" elements") {
                if t[..end].chars().all(|c| c.is_ascii_digit()) {
                    tail = &t[end + " elements".len()..];
                }
            }
        }
        out.push_str(&rest[..i]);
        out.push_str(if kw == "struct " {
            "an object"
        } else {
            "one of the allowed values"
        });
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// Keep echoed parser messages short (they may quote client input).
fn clip(s: &str) -> String {
    s.chars().take(200).collect()
}

/// What every request carries besides its body.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    /// SHA-256 of the bearer token; the raw token is never kept.
    pub token_hash: Option<Vec<u8>>,
    pub request_id: String,
    pub device: Option<String>,
    /// The peer's IP address (the sign-in throttle counts unknown devices per address).
    /// Behind a reverse proxy this is the proxy's address.
    pub client_addr: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<RequestMeta, AppError> {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        if let Some(v) = header(PROTOCOL_HEADER) {
            let ok = v
                .parse::<u32>()
                .map(|v| v == PROTOCOL_VERSION || v + 1 == PROTOCOL_VERSION)
                .unwrap_or(false);
            if !ok {
                return Err(AppError::client(
                    ErrorCode::UpgradeRequired,
                    format!(
                        "This server speaks protocol {PROTOCOL_VERSION}; please update Vaidya."
                    ),
                ));
            }
        }
        let token_hash = header("authorization")
            .and_then(|v| v.strip_prefix("Bearer ").map(str::to_string))
            .map(|t| token_hash(&t));
        let request_id = header("x-request-id")
            .filter(|v| v.len() <= 100 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let device = header(DEVICE_HEADER).map(|d| vaidya_shared::device_name(&d));
        let client_addr = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        Ok(RequestMeta {
            token_hash,
            request_id,
            device,
            client_addr,
        })
    }
}

/// Tokens are stored and looked up by their SHA-256 (they are 256-bit random, so a fast hash
/// is right here; passwords use argon2id).
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_json_shapes_not_rust_types() {
        assert_eq!(
            without_type_names(
                "invalid length 3, expected struct NewPatient with 7 elements at line 1"
            ),
            "invalid length 3, expected an object at line 1"
        );
        assert_eq!(
            without_type_names("invalid type: string \"x\", expected enum Role"),
            "invalid type: string \"x\", expected one of the allowed values"
        );
        assert_eq!(
            without_type_names("missing field `name` in struct literal"),
            "missing field `name` in struct literal"
        );
    }
}

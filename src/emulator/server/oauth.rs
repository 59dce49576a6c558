//! The token endpoint, its signing keys and its authorisation-server metadata.

use std::collections::HashMap;

use axum::extract::State as AxumState;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::emulator::token;

use super::http::Shr;

pub(super) async fn token_endpoint(
    AxumState(s): Shr,
    form: Result<axum::Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match form {
        Ok(axum::Form(form)) => form,
        Err(_) => {
            let error = token::OAuthError {
                error: "invalid_request",
                description: "the body must be application/x-www-form-urlencoded".into(),
            };
            return (StatusCode::BAD_REQUEST, axum::Json(error.body())).into_response();
        }
    };
    match token::grant(&s, &form) {
        Ok(body) => {
            let mut response = (StatusCode::OK, axum::Json(body)).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => {
            let status = if error.error == "server_error" {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::BAD_REQUEST
            };
            (status, axum::Json(error.body())).into_response()
        }
    }
}

pub(super) async fn jwk(AxumState(s): Shr) -> Response {
    axum::Json(s.signer.jwks()).into_response()
}

pub(super) async fn metadata(AxumState(s): Shr) -> Response {
    axum::Json(token::metadata(&s.issuer)).into_response()
}

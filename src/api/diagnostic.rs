//! [`ApiError`] as a miette diagnostic: a code and a help line saying what to do about it.

use std::fmt::Display;

use super::ApiError;
use crate::diagnostic_code::Code;

impl miette::Diagnostic for ApiError {
    fn code<'a>(&'a self) -> Option<Box<dyn Display + 'a>> {
        let code = match self {
            ApiError::Status { .. } => Code::ApiStatus,
            ApiError::Transport { .. } => Code::ApiTransport,
            ApiError::Auth(_) => Code::ApiAuth,
            ApiError::Unsupported(_) => Code::ApiUnsupported,
            ApiError::Refused { .. } => Code::ApiRefused,
        };
        Some(Box::new(code))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn Display + 'a>> {
        let help = match self {
            ApiError::Status { status, .. } => match status {
                400 => {
                    "the API refused the values sent; compare them with the API's rules in the message"
                }
                401 => {
                    "the access token was refused: check the environment's credentials (docs/credentials.md)"
                }
                403 => {
                    "the admin client lacks a self-service scope (idporten:scopes.*, idporten:dcr.*), or the resource belongs to another organisation"
                }
                404 => {
                    "it does not exist (any more) in this environment; run `mpctl plan` again to see the current state"
                }
                409 => {
                    "it conflicts with what exists: a deactivated scope cannot be re-created (it is reactivated instead), and a client holds at most 5 keys"
                }
                428 => {
                    "sign the terms of use for the organisation in Samarbeidsportalen, then run again"
                }
                429 => "the API is rate limiting: lower --concurrency or try again later",
                s if *s >= 500 => "the API failed; running again is safe and converges",
                _ => "see the server's message above",
            },
            ApiError::Transport { .. } => {
                "check the network and the environment's `api_url`; running again is safe"
            }
            ApiError::Auth(_) => {
                "check the environment's credentials and endpoints (docs/credentials.md)"
            }
            ApiError::Unsupported(_) => "make this change by hand in Samarbeidsportalen",
            ApiError::Refused { .. } => {
                "fix the value in the manifest (`mpctl validate` reports it)"
            }
        };
        Some(Box::new(help))
    }
}

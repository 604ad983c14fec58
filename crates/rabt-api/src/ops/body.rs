//! The JSON body of an operator's write, read only when the handler asks: after the
//! caller's role is checked, so a viewer's write is a 403 whatever its body holds.

use std::convert::Infallible;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::json::JsonLimits;
use crate::problem::ApiError;
use crate::requests::read_json;
use crate::state::AppState;

/// A request's body with its headers, not yet read as JSON.
pub(crate) struct OperatorBody {
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
    limits: JsonLimits,
}

impl FromRequest<AppState> for OperatorBody {
    type Rejection = Infallible;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Infallible> {
        let headers = request.headers().clone();
        let bytes = Bytes::from_request(request, state).await;
        Ok(OperatorBody {
            headers,
            bytes,
            limits: state.settings().json_limits,
        })
    }
}

impl OperatorBody {
    /// The body as JSON: `415` unless sent as JSON, `413` or `400` when it cannot be
    /// read, as the API's own bodies.
    pub(crate) fn json(self) -> Result<Value, ApiError> {
        read_json(&self.headers, self.bytes, self.limits)
    }

    /// [`OperatorBody::json`], or `{}` for a body left out (the fields are optional).
    pub(crate) fn json_or_empty(self) -> Result<Value, ApiError> {
        match &self.bytes {
            Ok(bytes) if bytes.is_empty() => Ok(json!({})),
            _ => self.json(),
        }
    }
}

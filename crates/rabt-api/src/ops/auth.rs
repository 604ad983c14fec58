//! Who is operating: operators by token (`Authorization: Bearer rabt_op_…`), each with a
//! role. Tokens are stored as their SHA-256 digest, like cooperatives' keys.
//!
//! A missing or unknown token is `401 operator-unauthorized`; a known operator whose
//! role is too low for an action is `403 role-forbidden`, naming the role needed.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rabt_store::{Operator, OperatorRole};

use crate::auth::bearer_holder;
use crate::problem::{ApiError, ProblemKind};
use crate::state::AppState;

/// The authenticated operator of a request to `/ops/v1`.
#[derive(Debug, Clone)]
pub(crate) struct OperatorCaller(pub(crate) Operator);

impl OperatorCaller {
    /// Refuses the action unless the operator's role is at least `needed` (viewer <
    /// operator < admin).
    pub(crate) fn require(&self, needed: OperatorRole) -> Result<&Operator, ApiError> {
        let role = self.0.role;
        if role >= needed {
            return Ok(&self.0);
        }
        Err(ApiError::new(ProblemKind::RoleForbidden).detail(
            format!("this action needs the `{needed}` role; yours is `{role}`"),
            format!("يتطلب هذا الإجراء الدور `{needed}`، ودورك `{role}`"),
        ))
    }
}

impl FromRequestParts<AppState> for OperatorCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let missing = || {
            ApiError::new(ProblemKind::OperatorUnauthorized).detail(
                "send your operator token as `Authorization: Bearer rabt_op_…`",
                "أرسل رمز المشغّل بالصيغة `Authorization: Bearer rabt_op_…`",
            )
        };
        let operator = bearer_holder(
            parts,
            missing,
            "authenticating an operator",
            async |digest| state.store().operator_by_token(digest).await,
        )
        .await?;
        operator.map(OperatorCaller).ok_or_else(|| {
            ApiError::new(ProblemKind::OperatorUnauthorized)
                .detail("the operator token is unknown", "رمز المشغّل غير معروف")
        })
    }
}

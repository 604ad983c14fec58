//! The simulator of an agency behind one API key that accepts a submission now and
//! calls back later (health's certificate batches, municipal's inspections): its
//! state, its router and the checks that come before the body, so that such a
//! simulator writes only what is its agency's own (the body's validation, the answers,
//! the callbacks, and how its errors read).

use std::sync::Arc;

use axum::Router;
use axum::handler::Handler;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use rabt_adapter::http::Secret;

use super::{InjectedFault, KnobsHandle, Submissions, carries, knobs_routes};
use crate::callback::CallbackSender;
use crate::world::World;

/// The state such a simulator's handler is given.
#[derive(Debug)]
pub struct CallingBack<R, A> {
    /// The sandbox world it answers from.
    pub world: Arc<World>,
    /// Its knobs: the faults, and when (or whether) callbacks are sent.
    pub knobs: KnobsHandle,
    /// The submissions accepted so far, by `X-Request-Id`, and their callbacks.
    pub submissions: Submissions<R, A>,
    key_header: &'static str,
    api_key: Secret,
}

impl<R, A> CallingBack<R, A>
where
    R: PartialEq + Send + Sync + 'static,
    A: Clone + Send + Sync + 'static,
{
    /// A simulator taking `api_key` in the `key_header` header and remembering the
    /// last `remembered` request ids. `callbacks` must be built on the same `knobs`
    /// handle, so that `callback_delay_ms` and `never_call_back` reach it.
    pub fn new(
        world: Arc<World>,
        key_header: &'static str,
        api_key: Secret,
        knobs: KnobsHandle,
        callbacks: CallbackSender,
        remembered: usize,
    ) -> Self {
        Self {
            world,
            knobs,
            submissions: Submissions::new(remembered, callbacks),
            key_header,
            api_key,
        }
    }

    /// The simulator's router: `submit` on `POST path`, and the `/_sim/` knob routes.
    pub fn router<H, T>(self, path: &str, submit: H) -> Router
    where
        H: Handler<T, Arc<Self>>,
        T: 'static,
    {
        let knobs = self.knobs.clone();
        Router::new()
            .route(path, post(submit))
            .with_state(Arc::new(self))
            .merge(knobs_routes(knobs))
    }

    /// What comes before the body, in this order: an injected fault, answered as
    /// `fault` renders it in the agency's style; then the API key, refused with what
    /// `unauthorized` answers. `Ok` when the submission may be read.
    pub async fn admit(
        &self,
        headers: &HeaderMap,
        fault: fn(InjectedFault) -> Response,
        unauthorized: fn() -> Response,
    ) -> Result<(), Response> {
        if let Some(injected) = self.knobs.intercept(headers).await {
            return Err(fault(injected));
        }
        if !carries(headers, self.key_header, &self.api_key) {
            return Err(unauthorized());
        }
        Ok(())
    }
}

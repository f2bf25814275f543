//! The HTTP and WebSocket API: the router, its middleware (request span, timeout, error
//! counting, body limits) and the small routes (`/healthz`, `/metrics`, fallbacks).
//! One module per resource holds the rest.

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::trace::TraceLayer;
use tracing::Span;
use tracing::field::Empty;

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use crate::storage::Storage;

pub mod access;
pub mod auth;
pub mod envelopes;
pub mod json;
pub mod live;
pub mod teams;

/// Largest JSON request body (logins, team creation, redeems).
pub const MAX_JSON_BODY: usize = 64 * 1024;
/// Largest membership or key-bundle request: up to 1,000 bundles, as hex.
pub const MAX_KEYS_BODY: usize = holdfast_protocol::MAX_KEYS_REQUEST_BYTES;

/// The relay's router over `state`.
pub fn router<S: Storage>(state: AppState<S>) -> Router {
    let json_limit = DefaultBodyLimit::max(MAX_JSON_BODY);
    let keys_limit = DefaultBodyLimit::max(MAX_KEYS_BODY);
    let push_limit = DefaultBodyLimit::max(state.limits().max_body_bytes);
    let timeout = state.limits().request_timeout();

    Router::new()
        .route("/healthz", get(healthz::<S>))
        .route("/metrics", get(metrics::<S>))
        .route(
            "/v1/auth/challenge",
            post(auth::challenge::<S>).layer(json_limit),
        )
        .route("/v1/auth/token", post(auth::token::<S>).layer(json_limit))
        .route("/v1/teams", post(teams::create::<S>).layer(json_limit))
        .route("/v1/teams/{team}", get(teams::show::<S>))
        .route("/v1/teams/{team}/devices", get(teams::devices))
        .route(
            "/v1/teams/{team}/membership",
            get(access::log)
                .post(access::append_entry::<S>)
                .layer(keys_limit),
        )
        .route(
            "/v1/teams/{team}/invites/{invite}",
            get(access::show_invite::<S>),
        )
        .route(
            "/v1/teams/{team}/invites/{invite}/redeem",
            post(access::redeem::<S>).layer(json_limit),
        )
        .route("/v1/teams/{team}/keys", get(access::keys::<S>))
        .route(
            "/v1/teams/{team}/keys/staged",
            post(access::stage_keys::<S>).layer(keys_limit),
        )
        .route(
            "/v1/teams/{team}/keys/ack",
            post(access::ack_keys::<S>).layer(json_limit),
        )
        .route(
            "/v1/teams/{team}/keys/private-notes",
            post(access::private_notes_keys::<S>).layer(keys_limit),
        )
        .route(
            "/v1/teams/{team}/envelopes",
            get(envelopes::pull::<S>)
                .post(envelopes::push::<S>)
                .layer(push_limit),
        )
        .route("/v1/teams/{team}/envelopes/ids", get(envelopes::ids::<S>))
        .route("/v1/teams/{team}/live", get(live::live::<S>))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(timeout, request_timeout))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_errors::<S>,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let route = request
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("-", MatchedPath::as_str);
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        route,
                        device = Empty,
                        status = Empty,
                        latency_ms = Empty,
                    )
                })
                .on_request(())
                .on_response(|response: &Response, latency: Duration, span: &Span| {
                    span.record("status", response.status().as_u16());
                    span.record("latency_ms", latency.as_secs_f64() * 1e3);
                    tracing::info!("served");
                })
                .on_failure(()),
        )
        .with_state(state)
}

/// `200 {"status": "ok"}` when storage answers, `503 unavailable` otherwise (or while
/// shutting down, so a load balancer stops sending traffic).
async fn healthz<S: Storage>(State(state): State<AppState<S>>) -> Result<Response, ApiError> {
    if state.is_shutting_down() {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            "the relay is shutting down",
        ));
    }
    state.storage().check().await.map_err(|e| {
        tracing::warn!(error = %e, "health check failed");
        ApiError::new(ErrorCode::Unavailable, "storage is not available")
    })?;
    Ok(axum::Json(serde_json::json!({"status": "ok"})).into_response())
}

/// Prometheus text format.
async fn metrics<S: Storage>(State(state): State<AppState<S>>) -> Response {
    let outstanding = i64::try_from(state.challenges().len()).unwrap_or(i64::MAX);
    state.metrics().challenges_outstanding.set(outstanding);
    let loads = i64::try_from(state.members().loads()).unwrap_or(i64::MAX);
    state.metrics().membership_loads.set(loads);
    let text = state.metrics().render(state.storage().write_stats());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "method not allowed on this route",
    )
}

/// Ends a request that takes too long with `503 timeout`. Its work stops with it: a
/// database read in progress is interrupted (the SQLite backend's reads give up when their
/// caller does). A push that already reached the writer is still committed; pushing it
/// again is harmless.
async fn request_timeout(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            ErrorCode::Timeout,
            format!("the request took longer than {} s", limit.as_secs()),
        )
        .retry_after(Duration::from_secs(1))
        .into_response(),
    }
}

/// Counts error answers by code (the code travels in the response's extensions).
async fn count_errors<S: Storage>(
    State(state): State<AppState<S>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    if let Some(code) = response.extensions().get::<ErrorCode>() {
        state.metrics().error(*code);
    } else if response.status() >= StatusCode::BAD_REQUEST {
        // Not one of ours (it should not happen): count it by its status class.
        let code = if response.status().is_server_error() {
            ErrorCode::Internal
        } else {
            ErrorCode::BadRequest
        };
        state.metrics().error(code);
    }
    response
}

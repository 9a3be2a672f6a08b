//! The HTTP layer in front of jsonrpsee: `GET /healthz`, the `Host` / `Origin` filter
//! ([`RequestFilter`]) and, when configured, JWT auth.
//!
//! It sees every HTTP request, including WebSocket upgrades, before jsonrpsee does.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use http::{header, HeaderValue, Method, StatusCode};
use jsonrpsee::{
    core::BoxError,
    server::{middleware::http::Authority, HttpBody, HttpRequest, HttpResponse},
};
use tower::{Layer, Service};

use crate::{filter::RequestFilter, jwt::JwtSecret};

/// The health-check path; always open, even with JWT auth on.
pub const HEALTHZ_PATH: &str = "/healthz";

/// Adds [`Gate`] to a service.
#[derive(Debug, Clone)]
pub(crate) struct GateLayer {
    filter: Arc<RequestFilter>,
    jwt: Option<Arc<JwtSecret>>,
}

impl GateLayer {
    pub(crate) fn new(filter: RequestFilter, jwt: Option<JwtSecret>) -> Self {
        Self {
            filter: Arc::new(filter),
            jwt: jwt.map(Arc::new),
        }
    }
}

impl<S> Layer<S> for GateLayer {
    type Service = Gate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Gate {
            inner,
            filter: self.filter.clone(),
            jwt: self.jwt.clone(),
        }
    }
}

/// Answers `/healthz` itself, refuses foreign `Host` / `Origin` with 403 and unauthenticated
/// requests with 401; passes the rest on.
#[derive(Debug, Clone)]
pub(crate) struct Gate<S> {
    inner: S,
    filter: Arc<RequestFilter>,
    jwt: Option<Arc<JwtSecret>>,
}

fn text_response(status: StatusCode, body: String) -> HttpResponse {
    let mut response = HttpResponse::new(HttpBody::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

impl<S, B> Service<HttpRequest<B>> for Gate<S>
where
    S: Service<HttpRequest<B>, Response = HttpResponse>,
    S::Error: Into<BoxError> + 'static,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: HttpRequest<B>) -> Self::Future {
        if request.uri().path() == HEALTHZ_PATH {
            let response = if matches!(*request.method(), Method::GET | Method::HEAD) {
                text_response(StatusCode::OK, "ok".into())
            } else {
                text_response(StatusCode::METHOD_NOT_ALLOWED, "use GET".into())
            };
            return Box::pin(async move { Ok(response) });
        }
        let origin = request
            .headers()
            .get(header::ORIGIN)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let host = Authority::from_http_request(&request);
        if let Err(err) = self.filter.check(host.as_ref(), origin.as_deref()) {
            tracing::debug!(target: "opmesh::rpc", %err, "refused request");
            let response = text_response(StatusCode::FORBIDDEN, format!("forbidden: {err}"));
            return Box::pin(async move { Ok(response) });
        }
        if let Some(jwt) = &self.jwt {
            let header = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            if let Err(err) = jwt.validate_header(header) {
                tracing::debug!(target: "opmesh::rpc", %err, "refused unauthenticated request");
                let mut response =
                    text_response(StatusCode::UNAUTHORIZED, format!("unauthorized: {err}"));
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return Box::pin(async move { Ok(response) });
            }
        }
        let fut = self.inner.call(request);
        Box::pin(async move { fut.await.map_err(Into::into) })
    }
}

//! What each request gets: the routes, the headers every answer carries,
//! and the words `/api/stats` passes to `cc_cdr stats`.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::Semaphore;

use super::{HttpAuth, Site, assets};
use crate::logging::{Level, log};

pub type Body = Full<Bytes>;

/// The pages allow only their own files: no inline script or style, so
/// that hostile text in a caller's name can never run.
pub const CSP: &str =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'";

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";
/// Prometheus' text exposition format.
const METRICS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What the request handlers share.
pub struct Shared {
    pub site: Arc<dyn Site>,
    pub auth: Option<HttpAuth>,
    /// Site calls at once (each on a blocking thread).
    pub site_calls: Arc<Semaphore>,
    /// `Site::stats` calls at once: each reads the database.
    pub stats_calls: Arc<Semaphore>,
}

/// The query parameters of `/api/stats`, in the order of the words of
/// `cc_cdr stats`; `token` is the credential, not a word.
const STATS_PARAMS: &[&str] = &[
    "subject", "name", "from", "to", "interval", "node", "hours", "days", "by", "token",
];

/// The words of `cc_cdr stats` a `/api/stats` query string stands for:
/// `[subject, name, from, to, interval, "node", node, "hours", hours,
/// "days", days, "by", by, "json"]`, only those
/// given, values percent-decoded (`+` is a space). A date with a time
/// ("2026-11-23 08:00") becomes two words, as fs_cli splits it; an empty
/// value counts as not given. An unknown or repeated parameter is an error.
pub fn stats_words(query: &str) -> Result<Vec<String>, String> {
    let mut values: [Option<String>; 9] = Default::default();
    let mut seen = [false; STATS_PARAMS.len()];
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let Some(i) = STATS_PARAMS.iter().position(|p| *p == key) else {
            return Err(format!(
                "unknown parameter '{}' (known: {})",
                key.escape_debug(),
                STATS_PARAMS.join(", ")
            ));
        };
        if std::mem::replace(&mut seen[i], true) {
            return Err(format!("parameter '{key}' given twice"));
        }
        if i < values.len() && !value.trim().is_empty() {
            values[i] = Some(value.trim().to_owned());
        }
    }
    let [subject, name, from, to, interval, node, hours, days, by] = values;
    let mut words: Vec<String> = Vec::new();
    words.extend(subject);
    words.extend(name);
    for date in [from, to].into_iter().flatten() {
        words.extend(date.split_whitespace().map(str::to_owned));
    }
    words.extend(interval);
    for (keyword, value) in [("node", node), ("hours", hours), ("days", days), ("by", by)] {
        if let Some(value) = value {
            words.push(keyword.into());
            words.push(value);
        }
    }
    words.push("json".into());
    Ok(words)
}

/// A response with the headers every answer carries.
pub fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Every answer is current: a wallboard must never show a cached one.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // A token in the page's URL must not leave in a Referer.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    respond(status, TEXT, format!("{body}\n"))
}

/// The answer to a request that took longer than the request timeout.
pub fn too_slow() -> Response<Body> {
    text(StatusCode::SERVICE_UNAVAILABLE, "503 busy: try again")
}

/// Runs a site call on a blocking thread, at most `Shared::site_calls` (and
/// `extra`, if given) at once; waits for a free slot.
async fn call_site<T: Send + 'static>(
    shared: &Shared,
    extra: Option<&Arc<Semaphore>>,
    call: impl FnOnce(&dyn Site) -> T + Send + 'static,
) -> Result<T, Response<Body>> {
    let unavailable = |_| text(StatusCode::SERVICE_UNAVAILABLE, "503 shutting down");
    // The slots go with the call: one that outlives the request timeout
    // keeps its slot until it ends.
    let extra = match extra {
        Some(s) => Some(s.clone().acquire_owned().await.map_err(unavailable)?),
        None => None,
    };
    let slot = shared
        .site_calls
        .clone()
        .acquire_owned()
        .await
        .map_err(unavailable)?;
    let site = shared.site.clone();
    tokio::task::spawn_blocking(move || {
        let value = call(&*site);
        drop((slot, extra));
        value
    })
    .await
    .map_err(|e| {
        log(Level::Error, &format!("http: a page's data failed: {e}"));
        text(StatusCode::INTERNAL_SERVER_ERROR, "500 internal error")
    })
}

/// The answer to one request.
pub async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Response<Body> {
    route(&shared, &request).await.unwrap_or_else(|r| r)
}

async fn route(
    shared: &Shared,
    request: &Request<Incoming>,
) -> Result<Response<Body>, Response<Body>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "405 only GET and HEAD");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Ok(response);
    }
    let path = request.uri().path();
    let query = request.uri().query().unwrap_or("");
    // The stylesheet and scripts hold no data, and a page cannot send a
    // token with them: they need no credentials.
    let needs_auth = shared
        .auth
        .as_ref()
        .filter(|_| !path.starts_with("/assets/"));
    if let Some(auth) = needs_auth {
        let authorization = request
            .headers()
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes);
        if !auth.allows(authorization, query) {
            let mut response = text(StatusCode::UNAUTHORIZED, "401 unauthorized");
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(auth.challenge()),
            );
            return Ok(response);
        }
    }
    match path {
        "/api/live" => {
            let json = call_site(shared, None, |site| site.live_json()).await?;
            Ok(respond(StatusCode::OK, JSON, json))
        }
        "/metrics" => {
            let metrics = call_site(shared, None, |site| site.metrics()).await?;
            Ok(respond(StatusCode::OK, METRICS, metrics))
        }
        "/api/stats" => {
            let words = stats_words(query).map_err(|e| text(StatusCode::BAD_REQUEST, &e))?;
            let stats = shared.stats_calls.clone();
            match call_site(shared, Some(&stats), move |site| site.stats(&words)).await? {
                Ok(json) => Ok(respond(StatusCode::OK, JSON, json)),
                Err(usage) => Ok(text(StatusCode::BAD_REQUEST, usage.trim_end())),
            }
        }
        _ => match assets::find(path) {
            Some(asset) => Ok(respond(StatusCode::OK, asset.content_type, asset.body)),
            None => Ok(text(StatusCode::NOT_FOUND, "404 not found")),
        },
    }
}

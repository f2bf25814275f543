//! Who may use the desk: a browser on this computer that opened the one-time link.
//!
//! The desk serves patient records, so every request passes [`check`] before any handler
//! runs:
//!
//! - **Host.** The `Host` header must name the desk's own address (`127.0.0.1:PORT` or
//!   `localhost:PORT`): a page elsewhere that points a name of its own at 127.0.0.1 (DNS
//!   rebinding) is refused before anything is read.
//! - **The one-time token.** `holdfast serve` prints `http://127.0.0.1:PORT/?token=T`. The
//!   first `GET` with the right `T` is answered with a session cookie (`holdfast_desk_PORT`,
//!   `HttpOnly`, `SameSite=Strict`, path `/`) and a short page that moves on to the same path
//!   without the token (a same-origin navigation, so the cookie goes with it even when the
//!   link was opened from another site); `T` is then spent, so the address left in the
//!   browser's history opens nothing. Every other request needs the cookie; without it the desk answers 401
//!   with a page that says how to get in, and nothing else. The stylesheet and script hold
//!   no records and are served without it, so refusal pages are styled.
//! - **Other sites.** A request the browser marks as started by another site
//!   (`Sec-Fetch-Site: cross-site` or `same-site`: a page on another port of this computer
//!   is same-site) is refused with 403, reads and forms alike: only the desk's own pages, and
//!   the person typing or opening the link, reach it.
//! - **Forms.** A request that changes anything is a `POST` from a form of the desk's own:
//!   its `Origin` header must be the desk's origin (a browser always sends it on a POST), and
//!   the form's hidden `csrf` field must carry the session's form token
//!   ([`Guard::form_token_ok`], checked by each form's handler).
//!
//! Cookies are not kept apart by port: a browser sends this cookie to every server on
//! 127.0.0.1 it visits. A server of another local user that the supervisor's browser visits
//! could read it and use it: docs/SECURITY.md §2.15 states that limit.
//!
//! An answer to a request that passed carries `Server-Timing: desk;dur=MS`, the time the desk
//! took to answer it (reading the store and rendering the page).
//!
//! Every answer carries a strict Content-Security-Policy (scripts, styles and images from
//! the desk only; no inline script or style; no frames; forms post only here), `no-store`,
//! `nosniff` and `Referrer-Policy: same-origin` (no address of the desk goes to another site;
//! not `no-referrer`, under which a browser sends `Origin: null` on the desk's own forms).
//!
//! Secrets are 32 bytes from the operating system's generator, compared in constant time.

use std::sync::Mutex;

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use ring::rand::{SecureRandom, SystemRandom};

use super::Desk;

/// The session cookie's name, before the port (`holdfast_desk_PORT`: two desks on one
/// computer keep their own).
pub const COOKIE: &str = "holdfast_desk";

/// Every answer's Content-Security-Policy: nothing but the desk's own script, style and
/// images; no inline code; no framing; forms post only to the desk.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
frame-ancestors 'none'; base-uri 'none'";

/// The desk's secrets and the addresses it answers to. Its `Debug` shows no secret.
pub struct Guard {
    /// `holdfast_desk_PORT`.
    cookie: String,
    /// The one-time token, until it is spent.
    token: Mutex<Option<String>>,
    /// The session cookie's value.
    session: String,
    /// The forms' hidden `csrf` value.
    form_token: String,
    /// `127.0.0.1:PORT` and `localhost:PORT`.
    hosts: [String; 2],
    /// `http://127.0.0.1:PORT` and `http://localhost:PORT`.
    origins: [String; 2],
}

/// 32 random bytes, hex.
fn secret(rng: &SystemRandom) -> Result<String, ring::error::Unspecified> {
    let mut bytes = [0u8; 32];
    rng.fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// Equal, in time that depends only on the lengths.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("cookie", &self.cookie)
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// New secrets for a desk on `port`.
    pub fn new(port: u16) -> Result<Guard, ring::error::Unspecified> {
        let rng = SystemRandom::new();
        Ok(Guard {
            cookie: format!("{COOKIE}_{port}"),
            token: Mutex::new(Some(secret(&rng)?)),
            session: secret(&rng)?,
            form_token: secret(&rng)?,
            hosts: [format!("127.0.0.1:{port}"), format!("localhost:{port}")],
            origins: [
                format!("http://127.0.0.1:{port}"),
                format!("http://localhost:{port}"),
            ],
        })
    }

    /// The link to print: the desk's address with the one-time token.
    pub fn link(&self) -> String {
        let token = self
            .token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .unwrap_or_default();
        format!("{}/?token={token}", self.origins[0])
    }

    /// The forms' hidden `csrf` value.
    pub fn form_token(&self) -> &str {
        &self.form_token
    }

    /// Whether a form's `csrf` field is this session's.
    pub fn form_token_ok(&self, typed: &str) -> bool {
        same(typed, &self.form_token)
    }

    /// Spends the one-time token if `typed` is it.
    fn spend(&self, typed: &str) -> bool {
        let mut token = self
            .token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match token.as_deref() {
            Some(t) if same(t, typed) => {
                *token = None;
                true
            }
            _ => false,
        }
    }

    fn host_ok(&self, headers: &HeaderMap) -> bool {
        headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|h| self.hosts.iter().any(|ours| ours == h))
    }

    fn cookie_ok(&self, headers: &HeaderMap) -> bool {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(name, value)| name == self.cookie && same(value, &self.session))
    }

    fn origin_ok(&self, headers: &HeaderMap) -> bool {
        headers
            .get(header::ORIGIN)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|o| self.origins.iter().any(|ours| ours == o))
    }

    fn set_cookie(&self) -> HeaderValue {
        HeaderValue::from_str(&format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict",
            self.cookie, self.session
        ))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// The desk's own files, served without the cookie.
const STATIC: [&str; 2] = ["/static/desk.css", "/static/desk.js"];

/// Whether the browser says another site started the request (`Sec-Fetch-Site`). A request
/// without the header (an older browser, a script) is judged by the cookie and origin alone.
fn from_another_site(headers: &HeaderMap) -> bool {
    headers
        .get(HeaderName::from_static("sec-fetch-site"))
        .and_then(|h| h.to_str().ok())
        .is_some_and(|site| matches!(site, "cross-site" | "same-site"))
}

/// The `token` of a query string, if any.
fn token_in(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find_map(|(name, value)| (name == "token").then_some(value))
}

/// Where to send the browser once the token is out of the address: the same path, unless
/// a browser could read it as another site's (`//host`, `/\host`).
fn same_site_path(path: &str) -> &str {
    if path.starts_with('/') && !path.starts_with("//") && !path.starts_with("/\\") {
        path
    } else {
        "/"
    }
}

/// A refusal: a short page that says what to do, and nothing of the records.
pub fn refuse(status: StatusCode, why: &str) -> Response {
    let page = super::pages::refusal(status, why);
    (status, page).into_response()
}

/// The middleware every request passes: host, token or cookie, and origin on a POST; then
/// the security headers on whatever is answered.
pub async fn check(State(desk): State<Desk>, request: Request, next: Next) -> Response {
    let guard = &desk.guard;
    let headers = request.headers();
    let path = request.uri().path();
    let mut response = if !guard.host_ok(headers) {
        refuse(
            StatusCode::MISDIRECTED_REQUEST,
            "This desk answers only at the address `holdfast serve` printed.",
        )
    } else if let Some(typed) = token_in(request.uri().query()) {
        // Whoever started it: the link may be opened from a mail or chat page.
        let back = same_site_path(path);
        if request.method() == Method::GET && guard.spend(typed) {
            let mut landing = (StatusCode::OK, super::pages::landing(back)).into_response();
            landing
                .headers_mut()
                .insert(header::SET_COOKIE, guard.set_cookie());
            landing
        } else if guard.cookie_ok(headers) {
            // An old link opened again in the browser that already used it.
            Redirect::to(back).into_response()
        } else {
            refuse(
                StatusCode::UNAUTHORIZED,
                "This link has already been used, or it is not this desk's. Each link \
                 `holdfast serve` prints opens the desk once, in one browser. Start \
                 `holdfast serve` again for a new link.",
            )
        }
    } else if from_another_site(headers) {
        refuse(
            StatusCode::FORBIDDEN,
            "The desk answers only its own pages, and addresses typed or opened from \
             bookmarks: open it from the link `holdfast serve` printed.",
        )
    } else if STATIC.contains(&path) && request.method() == Method::GET {
        // The stylesheet and the script: no records in them.
        next.run(request).await
    } else if !guard.cookie_ok(headers) {
        refuse(
            StatusCode::UNAUTHORIZED,
            "Open the desk with the link `holdfast serve` printed, in a browser on this \
             computer.",
        )
    } else if request.method() != Method::GET
        && request.method() != Method::HEAD
        && !guard.origin_ok(headers)
    {
        refuse(
            StatusCode::FORBIDDEN,
            "Changes are accepted only from the desk's own pages.",
        )
    } else {
        // The time the desk took to read the store and render, for the browser's developer
        // tools and the render bench (`cli/benches/desk.rs`).
        let started = std::time::Instant::now();
        let mut answer = next.run(request).await;
        let took = started.elapsed().as_secs_f64() * 1000.0;
        if let Ok(timing) = HeaderValue::from_str(&format!("desk;dur={took:.3}")) {
            answer
                .headers_mut()
                .insert(HeaderName::from_static("server-timing"), timing);
        }
        answer
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("same-origin"),
        ),
    ] {
        headers.insert(name, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(!same("", "a"));
    }

    #[test]
    fn the_token_is_spent_once() {
        let guard = Guard::new(4000).expect("secrets");
        let link = guard.link();
        let token = link.split_once("token=").expect("a token").1.to_owned();
        assert_eq!(token.len(), 64);
        assert!(!guard.spend("0".repeat(64).as_str()));
        assert!(guard.spend(&token));
        assert!(!guard.spend(&token), "a spent token opens nothing");
    }

    #[test]
    fn only_the_desks_own_host_and_origin_pass() {
        let guard = Guard::new(4000).expect("secrets");
        let mut h = HeaderMap::new();
        assert!(!guard.host_ok(&h));
        for (host, ok) in [
            ("127.0.0.1:4000", true),
            ("localhost:4000", true),
            ("127.0.0.1:4001", false),
            ("evil.example:4000", false),
            ("127.0.0.1", false),
        ] {
            h.insert(header::HOST, HeaderValue::from_static(host));
            assert_eq!(guard.host_ok(&h), ok, "{host}");
        }
        for (origin, ok) in [
            ("http://127.0.0.1:4000", true),
            ("http://localhost:4000", true),
            ("https://127.0.0.1:4000", false),
            ("null", false),
            ("http://evil.example", false),
        ] {
            h.insert(header::ORIGIN, HeaderValue::from_static(origin));
            assert_eq!(guard.origin_ok(&h), ok, "{origin}");
        }
    }

    #[test]
    fn the_cookie_must_be_the_sessions() {
        let guard = Guard::new(4000).expect("secrets");
        let mut h = HeaderMap::new();
        assert!(!guard.cookie_ok(&h));
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; {}={}", guard.cookie, "f".repeat(64)))
                .unwrap(),
        );
        assert!(!guard.cookie_ok(&h));
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("{COOKIE}_4001={}", guard.session)).unwrap(),
        );
        assert!(!guard.cookie_ok(&h), "another desk's cookie name");
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; {}={}", guard.cookie, guard.session)).unwrap(),
        );
        assert!(guard.cookie_ok(&h));
        assert!(!format!("{guard:?}").contains(&guard.session));
        assert!(token_in(Some("a=1&token=xyz")) == Some("xyz"));
        assert_eq!(same_site_path("/cases/abc"), "/cases/abc");
        assert_eq!(same_site_path("//evil.example/x"), "/");
        assert_eq!(same_site_path("/\\evil.example"), "/");
        assert_eq!(same_site_path("evil"), "/");
        let mut h = HeaderMap::new();
        assert!(!from_another_site(&h));
        for (site, refused) in [
            ("same-origin", false),
            ("none", false),
            ("same-site", true),
            ("cross-site", true),
        ] {
            h.insert("sec-fetch-site", HeaderValue::from_static(site));
            assert_eq!(from_another_site(&h), refused, "{site}");
        }
        assert!(token_in(Some("tokens=xyz")).is_none());
    }
}

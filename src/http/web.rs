//! The web page: `index.html`, `app.js` and `style.css` from `web/`,
//! embedded in the binary (no CDN: it works offline), for `/` and for
//! `/watch/{name}` (the page alert emails link to; the script routes by
//! path). The page is in French and English: the server picks the
//! language from `Accept-Language` (French when absent), the page keeps a
//! switch.
//!
//! It serves no data: the script reads `/api/*` with the token the person
//! typed (kept in `sessionStorage`). The strict Content-Security-Policy
//! allows only these files, so nothing a mention contains can run.

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const INDEX: &str = include_str!("../../web/index.html");
const APP_JS: &str = include_str!("../../web/app.js");
const STYLE_CSS: &str = include_str!("../../web/style.css");

/// The page's policy: its own script and style only; charts are inline SVG
/// built with DOM calls, so no `unsafe-inline` is needed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `fr` or `en`: the supported language the client prefers most
/// (`Accept-Language`, by `q`), French when it says nothing we know.
pub(crate) fn language(headers: &HeaderMap) -> &'static str {
    let Some(v) = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
    else {
        return "fr";
    };
    let mut best: Option<(f32, &'static str)> = None;
    for part in v.split(',') {
        let mut it = part.split(';');
        let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = it
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let lang = match tag.split('-').next() {
            Some("fr") => "fr",
            Some("en") => "en",
            _ => continue,
        };
        if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, lang));
        }
    }
    best.map_or("en", |(_, l)| l)
}

fn with_type(content_type: &'static str, body: impl IntoResponse) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

async fn page(headers: HeaderMap) -> Response {
    let html = INDEX.replace("{{lang}}", language(&headers));
    let mut r = with_type("text/html; charset=utf-8", html);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Language"));
    r
}

async fn app_js() -> Response {
    with_type("text/javascript; charset=utf-8", APP_JS)
}

async fn style_css() -> Response {
    with_type("text/css; charset=utf-8", STYLE_CSS)
}

/// The page's routes.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(page))
        .route("/watch/{name}", get(page))
        .route("/app.js", get(app_js))
        .route("/style.css", get(style_css))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lang(v: Option<&str>) -> &'static str {
        let mut h = HeaderMap::new();
        if let Some(v) = v {
            h.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_str(v).unwrap());
        }
        language(&h)
    }

    #[test]
    fn language_follows_accept_language() {
        assert_eq!(lang(None), "fr");
        assert_eq!(lang(Some("en-US,en;q=0.9")), "en");
        assert_eq!(lang(Some("fr-CA")), "fr");
        assert_eq!(lang(Some("de-DE,en;q=0.5,fr;q=0.8")), "fr");
        assert_eq!(lang(Some("fr;q=0, en;q=0.1")), "en");
        assert_eq!(lang(Some("de, es")), "en");
    }

    #[test]
    fn the_page_names_its_language_and_loads_only_its_own_files() {
        assert!(INDEX.contains("lang=\"{{lang}}\""));
        assert!(INDEX.contains("src=\"/app.js\""));
        assert!(!INDEX.contains("http://") && !INDEX.contains("https://"));
        assert!(
            !APP_JS.contains("innerHTML"),
            "mentions are inserted as text"
        );
    }
}

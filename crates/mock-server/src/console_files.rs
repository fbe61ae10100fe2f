//! The dispatch console: `GET /dispatch` (its page), `GET /dispatch/assets/{name}` (its script,
//! style sheet and the bundled Leaflet) and `GET /dispatch/config` (the map's tile server). The
//! console follows the fleet over `GET /dispatch/ws` (the dispatcher feed, `docs/protocol.md`)
//! and acts through the JSON API (`dispatcher_api`).
//!
//! Everything is embedded in the binary: the console's files from `console/`, Leaflet from
//! `node_modules/leaflet` by `build.rs` (empty when it was not installed; the console then draws
//! its own grid map). Every answer carries the console's Content Security Policy: scripts and
//! styles only from this server, connections only to it, images also from the tile server.

use crate::dispatcher_api::Dispatcher;
use crate::router::{AppState, TileSource};
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

const PAGE: &str = include_str!("../console/console.html");

/// The files under `/dispatch/assets/`: name, content type, content.
const ASSETS: [(&str, &str, &[u8]); 7] = [
    ("console.js", "text/javascript; charset=utf-8", include_bytes!("../console/console.js")),
    ("console.css", "text/css; charset=utf-8", include_bytes!("../console/console.css")),
    ("driver-layer.js", "text/javascript; charset=utf-8", include_bytes!("../console/driver-layer.js")),
    ("grid-map.js", "text/javascript; charset=utf-8", include_bytes!("../console/grid-map.js")),
    ("leaflet-view.js", "text/javascript; charset=utf-8", include_bytes!("../console/leaflet-view.js")),
    ("leaflet.js", "text/javascript; charset=utf-8", include_bytes!(concat!(env!("OUT_DIR"), "/leaflet.js"))),
    ("leaflet.css", "text/css; charset=utf-8", include_bytes!(concat!(env!("OUT_DIR"), "/leaflet.css"))),
];

/// The console's routes; the router mounts them with `.merge(console_files::routes())`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dispatch", get(page))
        .route("/dispatch/assets/{name}", get(asset))
        .route("/dispatch/config", get(config))
}

/// The page, for the dispatcher token (`?token=…`, which the page then uses for the feed and
/// the API); without it a page saying how to open the console.
async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    dispatcher: Result<Dispatcher, Response>,
) -> Response {
    let (status, body) = match dispatcher {
        Ok(Dispatcher) => (StatusCode::OK, PAGE),
        Err(_) => (StatusCode::UNAUTHORIZED, UNAUTHORIZED_PAGE),
    };
    let mut response = (status, Html(body)).into_response();
    secure(&mut response, &state, &headers, "no-store");
    response
}

const UNAUTHORIZED_PAGE: &str = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Enroute dispatch</title>\
<h1>Enroute dispatch</h1><p>Open this page with <code>?token=</code> and the dispatcher token the server printed at start.</p></html>";

/// One of the console's files. They are not content-hashed, so the browser revalidates them
/// (`no-cache`) and gets `304` while they are unchanged (a strong `ETag` of their content).
async fn asset(State(state): State<AppState>, headers: HeaderMap, Path(name): Path<String>) -> Response {
    let Some((index, (_, content_type, body))) =
        ASSETS.iter().enumerate().find(|(_, (asset, _, _))| *asset == name)
    else {
        let mut response = (StatusCode::NOT_FOUND, "no such file\n").into_response();
        secure(&mut response, &state, &headers, "no-store");
        return response;
    };
    let etag = etag(index);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|given| given.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, *content_type)], *body).into_response()
    };
    if let Ok(value) = HeaderValue::from_str(etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    secure(&mut response, &state, &headers, "no-cache");
    response
}

/// `"<first 16 hex digits of the SHA-256 of the file>"`, computed once per file.
fn etag(index: usize) -> &'static str {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    &TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|(_, _, body)| {
                let digest = Sha256::digest(body);
                format!("\"{}\"", digest.iter().take(8).map(|byte| format!("{byte:02x}")).collect::<String>())
            })
            .collect()
    })[index]
}

/// What the console needs to know besides the feed: `{"tiles": null}` (draw a coordinate grid)
/// or `{"tiles": {"url_template": …, "attribution": …}}`.
async fn config(State(state): State<AppState>, headers: HeaderMap, _dispatcher: Dispatcher) -> Response {
    let mut response = Json(ConsoleConfig { tiles: state.tiles.as_deref() }).into_response();
    secure(&mut response, &state, &headers, "no-store");
    response
}

/// The answer of `GET /dispatch/config`.
#[derive(serde::Serialize)]
struct ConsoleConfig<'a> {
    /// `null`: the console draws a coordinate grid.
    tiles: Option<&'a TileSource>,
}

/// Adds the console's security headers and `cache_control`.
fn secure(response: &mut Response, state: &AppState, headers: &HeaderMap, cache_control: &'static str) {
    let host = headers.get(header::HOST).and_then(|value| value.to_str().ok());
    let policy = content_security_policy(host, state.tiles.as_deref());
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // The page's address holds the dispatcher token: never send it to the tile server.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}

/// The console's Content Security Policy. Scripts and styles only from this server (no inline
/// ones); connections only to this server, its feed included (`ws://` and `wss://` of the
/// request's `Host`, for browsers whose `'self'` does not cover WebSockets); images from this
/// server, `data:` URLs and the tile server's origin when there is one.
pub fn content_security_policy(host: Option<&str>, tiles: Option<&TileSource>) -> String {
    let mut connect = String::from("'self'");
    if let Some(host) = host.filter(|host| is_plain_host(host)) {
        connect.push_str(&format!(" ws://{host} wss://{host}"));
    }
    let mut images = String::from("'self' data:");
    if let Some(origin) = tiles.and_then(|tiles| tile_origin(&tiles.url_template)) {
        images.push(' ');
        images.push_str(&origin);
    }
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src {connect}; img-src {images}; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// A host with an optional port and nothing else (no `;` or space to end the directive).
fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host.chars().all(|character| {
            character.is_ascii_alphanumeric() || matches!(character, '.' | '-' | ':' | '[' | ']')
        })
}

/// The origin of a tile URL template, as a CSP source: `https://tile.example:8443`; Leaflet's
/// `{s}` subdomain becomes `*` (`https://*.tile.example`). `None` if it is not a plain
/// `http(s)://host[:port]/…` URL.
fn tile_origin(template: &str) -> Option<String> {
    let (scheme, rest) = template.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let authority = rest.split('/').next()?;
    let host = authority.replace("{s}", "*");
    let (wildcard, plain) = match host.strip_prefix("*.") {
        Some(plain) => ("*.", plain),
        None => ("", host.as_str()),
    };
    is_plain_host(plain).then(|| format!("{scheme}://{wildcard}{plain}"))
}

#[cfg(test)]
mod tests {
    use super::{content_security_policy, routes, tile_origin};
    use crate::router::{AppState, TileSource};
    use crate::store::SqliteStore;
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use tower::ServiceExt;

    async fn get(
        state: &AppState,
        uri: &str,
        extra: Option<(header::HeaderName, &str)>,
    ) -> axum::response::Response {
        let mut request = Request::get(uri).header(header::HOST, "127.0.0.1:8080");
        if let Some((name, value)) = extra {
            request = request.header(name, value);
        }
        routes().with_state(state.clone()).oneshot(request.body(Body::empty()).unwrap()).await.unwrap()
    }

    async fn text(response: axum::response::Response) -> String {
        String::from_utf8(axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec())
            .unwrap()
    }

    #[tokio::test]
    async fn the_page_and_config_need_the_token_and_the_assets_do_not() {
        let state = AppState::new(SqliteStore::in_memory());
        let refused = get(&state, "/dispatch", None).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert!(refused.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        assert!(text(refused).await.contains("?token="));
        assert_eq!(get(&state, "/dispatch/config", None).await.status(), StatusCode::UNAUTHORIZED);

        let page = get(&state, "/dispatch?token=test-dispatcher-token", None).await;
        assert_eq!(page.status(), StatusCode::OK);
        let policy = page.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
        assert!(policy.contains("connect-src 'self' ws://127.0.0.1:8080 wss://127.0.0.1:8080;"), "{policy}");
        assert_eq!(page.headers()[header::REFERRER_POLICY], "no-referrer");
        let html = text(page).await;
        assert!(html.contains("Enroute dispatch") && html.contains("/dispatch/assets/console.js"));
        assert!(
            !html.contains("<script>") && !html.contains("<style") && !html.contains(" style="),
            "no inline script or style"
        );

        let config =
            get(&state, "/dispatch/config", Some((header::AUTHORIZATION, "Bearer test-dispatcher-token")))
                .await;
        assert_eq!(config.status(), StatusCode::OK);
        assert_eq!(text(config).await, r#"{"tiles":null}"#);
        let tiles = TileSource {
            url_template: "https://tiles.example/{z}/{x}/{y}.png".into(),
            attribution: "© Example".into(),
        };
        let with_tiles = state.clone().with_tiles(Some(tiles));
        let config = get(&with_tiles, "/dispatch/config?token=test-dispatcher-token", None).await;
        assert!(
            config.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("img-src 'self' data: https://tiles.example;")
        );
        assert_eq!(
            text(config).await,
            r#"{"tiles":{"url_template":"https://tiles.example/{z}/{x}/{y}.png","attribution":"© Example"}}"#
        );

        let script = get(&state, "/dispatch/assets/console.js", None).await;
        assert_eq!(script.status(), StatusCode::OK);
        assert!(script.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/javascript"));
        assert_eq!(script.headers()[header::CACHE_CONTROL], "no-cache");
        let etag = script.headers()[header::ETAG].to_str().unwrap().to_string();
        let again = get(&state, "/dispatch/assets/console.js", Some((header::IF_NONE_MATCH, &etag))).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(get(&state, "/dispatch/assets/console.css", None).await.status(), StatusCode::OK);
        assert_eq!(get(&state, "/dispatch/assets/leaflet.js", None).await.status(), StatusCode::OK);
        assert_eq!(get(&state, "/dispatch/assets/secret.txt", None).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            get(&state, "/dispatch/assets/..%2Fconsole_files.rs", None).await.status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn the_policy_allows_this_host_and_the_tile_server_and_nothing_inline() {
        let tiles = TileSource {
            url_template: "https://{s}.tile.example/{z}/{x}/{y}.png".into(),
            attribution: "© Example".into(),
        };
        let policy = content_security_policy(Some("127.0.0.1:8080"), Some(&tiles));
        assert!(policy.contains("connect-src 'self' ws://127.0.0.1:8080 wss://127.0.0.1:8080;"), "{policy}");
        assert!(policy.contains("img-src 'self' data: https://*.tile.example;"), "{policy}");
        assert!(policy.contains("script-src 'self';") && policy.contains("style-src 'self';"), "{policy}");
        assert!(!policy.contains("unsafe"), "{policy}");
        let plain = content_security_policy(Some("evil; script-src *"), None);
        assert!(plain.contains("connect-src 'self';") && plain.contains("img-src 'self' data:;"), "{plain}");
    }

    #[test]
    fn tile_origins_are_plain_origins_or_nothing() {
        assert_eq!(
            tile_origin("https://tiles.example:8443/{z}/{x}/{y}.png").as_deref(),
            Some("https://tiles.example:8443")
        );
        assert_eq!(tile_origin("http://127.0.0.1:9/{z}/{x}/{y}.png").as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(tile_origin("ftp://tiles.example/{z}"), None);
        assert_eq!(tile_origin("https://tiles.example; script-src */{z}"), None);
        assert_eq!(tile_origin("tiles.example/{z}/{x}/{y}"), None);
    }
}

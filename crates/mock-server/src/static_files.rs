//! Serves the built app: files from `dist/`, and `index.html` for the app's own routes
//! (`/settings`, `/assignments/7`), so a reload on any route works.

use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use std::path::{Path, PathBuf};
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

/// A service for everything that is not an API route, with `policy` as the app's Content
/// Security Policy (see [`content_security_policy`]).
pub fn static_files(dist: &Path, policy: std::sync::Arc<str>) -> MethodRouter {
    let dist = dist.to_path_buf();
    let policy = HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static(APP_CONTENT_SECURITY_POLICY));
    get(move |request: Request<Body>| serve(dist.clone(), policy.clone(), request))
}

async fn serve(dist: PathBuf, policy: HeaderValue, request: Request<Body>) -> Response {
    let path = request.uri().path().to_string();
    let index = dist.join("index.html");
    // The build writes brotli and gzip copies of its files (scripts/precompress.js): a browser
    // gets the smallest it accepts, with `Content-Encoding` set and the original's
    // `Content-Type` (`application/wasm` exactly, which streaming compilation needs). A copy
    // older than its file (the file changed after the build) is not used: the file is sent,
    // compressed on the way.
    let mut response = if looks_like_app_route(&path) {
        let serve = ServeFile::new(&index);
        let serve =
            if copies_are_current(&index) { serve.precompressed_br().precompressed_gzip() } else { serve };
        serve.oneshot(request).await.into_response()
    } else {
        let current =
            plain_relative_path(&path).is_some_and(|relative| copies_are_current(&dist.join(relative)));
        let serve = ServeDir::new(&dist);
        let serve = if current { serve.precompressed_br().precompressed_gzip() } else { serve };
        serve.oneshot(request).await.into_response()
    };
    if response.status() == StatusCode::NOT_FOUND && looks_like_app_route(&path) && !index.exists() {
        return (StatusCode::NOT_FOUND, "the app is not built: run scripts/serve\n").into_response();
    }
    let cache_control = if looks_like_app_route(&path) || path.ends_with("service-worker.js") {
        // Always revalidate the page and the worker so a new build is picked up.
        "no-cache"
    } else if is_content_hashed(&path) {
        // A new build has new names, so these never change.
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=3600"
    };
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, policy);
    response.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// The app's Content Security Policy when it may connect to `connect_origins` besides this
/// server (`--connect-origin`: the servers a driver may name as "Server address"). Each must be
/// a plain origin (`wss://dispatch.example`, `ws://127.0.0.1:9000`), checked by
/// [`parse_connect_origin`].
pub fn content_security_policy(connect_origins: &[String]) -> String {
    if connect_origins.is_empty() {
        return APP_CONTENT_SECURITY_POLICY.to_string();
    }
    let sources = connect_origins.join(" ");
    APP_CONTENT_SECURITY_POLICY.replace("connect-src 'self';", &format!("connect-src 'self' {sources};"))
}

/// Checks an origin for `--connect-origin`: a `ws`, `wss`, `http` or `https` scheme and a host
/// (with a port if any), nothing else, so it cannot smuggle another directive into the policy.
/// A WebSocket origin also allows its HTTP twin (the service worker uploads there).
pub fn parse_connect_origin(text: &str) -> Result<Vec<String>, String> {
    let (scheme, rest) =
        text.split_once("://").ok_or_else(|| format!("{text}: expected scheme://host[:port]"))?;
    let twin = match scheme {
        "ws" => "http",
        "wss" => "https",
        "http" => "ws",
        "https" => "wss",
        _ => return Err(format!("{text}: the scheme must be ws, wss, http or https")),
    };
    let host_ok = !rest.is_empty()
        && rest.chars().all(|character| {
            character.is_ascii_alphanumeric() || matches!(character, '.' | '-' | ':' | '[' | ']')
        });
    if !host_ok {
        return Err(format!("{text}: expected only a host and a port after the scheme, no path"));
    }
    Ok(vec![format!("{scheme}://{rest}"), format!("{twin}://{rest}")])
}

/// The app's Content Security Policy (docs/security.md explains each part). Scripts only from
/// this server and no inline script (the build moves trunk's start script into a file);
/// `'wasm-unsafe-eval'` is what compiling the app's WebAssembly needs, and no more than that.
/// The app connects only to the server it was loaded from (`'self'` covers its `ws:`/`wss:`),
/// and to the servers `--connect-origin` names.
pub const APP_CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; \
     manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Whether the compressed copies of `file` that exist (`.br`, `.gz`) are at least as new as it.
fn copies_are_current(file: &Path) -> bool {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|metadata| metadata.modified()).ok();
    let Some(original) = modified(file) else { return false };
    ["br", "gz"].iter().all(|extension| {
        let mut copy = file.as_os_str().to_owned();
        copy.push(".");
        copy.push(extension);
        modified(Path::new(&copy)).is_none_or(|copied| copied >= original)
    })
}

/// A request path as a path under `dist/` when it is plainly one (no `..`, no escapes), else
/// `None` (then no copy is used, and `ServeDir` decides what the path means).
fn plain_relative_path(path: &str) -> Option<&str> {
    let relative = path.trim_start_matches('/');
    let plain = !relative.is_empty()
        && relative.split('/').all(|segment| !segment.is_empty() && segment != ".." && segment != ".")
        && !relative.contains(['%', '\\']);
    plain.then_some(relative)
}

/// App routes have no file extension in their last segment; assets always do.
fn looks_like_app_route(path: &str) -> bool {
    let last_segment = path.rsplit('/').next().unwrap_or("");
    !last_segment.contains('.')
}

/// Trunk names the files it builds `name-<hash>.ext` (`enroute-3f2a…_bg.wasm`), the hash being up
/// to 16 hex digits (leading zeros are dropped).
fn is_content_hashed(path: &str) -> bool {
    let last_segment = path.rsplit('/').next().unwrap_or("");
    let stem = last_segment.split('.').next().unwrap_or("");
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(_, hash)| {
        (8..=16).contains(&hash.len()) && hash.bytes().all(|byte| byte.is_ascii_hexdigit())
    })
}

#[cfg(test)]
mod tests {
    use super::{content_security_policy, is_content_hashed, looks_like_app_route, parse_connect_origin};

    #[test]
    fn connect_origins_join_connect_src_and_nothing_else() {
        let origins = parse_connect_origin("wss://dispatch.example").unwrap();
        assert_eq!(origins, vec!["wss://dispatch.example", "https://dispatch.example"]);
        let policy = content_security_policy(&origins);
        assert!(
            policy.contains("connect-src 'self' wss://dispatch.example https://dispatch.example;"),
            "{policy}"
        );
        assert_eq!(content_security_policy(&[]), super::APP_CONTENT_SECURITY_POLICY);
        for bad in ["dispatch.example", "ftp://x", "wss://x/path", "wss://x; script-src *", "wss://"] {
            assert!(parse_connect_origin(bad).is_err(), "{bad} is refused");
        }
    }

    #[test]
    fn trunks_hashed_files_are_recognised() {
        assert!(is_content_hashed("/enroute-f2070f18e3af0301_bg.wasm"));
        assert!(is_content_hashed("/enroute-f2070f18e3af0301.js"));
        assert!(is_content_hashed("/main-28964f5e3436c31b.css"));
        assert!(is_content_hashed("/enroute-58b7314b9b1632d.js"), "a hash with its leading zero dropped");
        assert!(!is_content_hashed("/manifest.json"));
        assert!(!is_content_hashed("/public/icons/icon-192.png"));
        assert!(!is_content_hashed("/public/icons/icon-maskable-512.png"));
    }

    #[test]
    fn routes_and_assets_are_told_apart() {
        assert!(looks_like_app_route("/"));
        assert!(looks_like_app_route("/settings"));
        assert!(looks_like_app_route("/assignments/17"));
        assert!(!looks_like_app_route("/enroute-3f2a_bg.wasm"));
        assert!(!looks_like_app_route("/public/icons/icon-192.png"));
        assert!(!looks_like_app_route("/manifest.json"));
    }
}

//! Serves the built app: files from `dist/`, and `index.html` for the app's own routes
//! (`/settings`, `/assignments/7`), so a reload on any route works.

use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use std::path::{Path, PathBuf};
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

/// A service for everything that is not an API route.
pub fn static_files(dist: &Path) -> MethodRouter {
    let dist = dist.to_path_buf();
    get(move |request: Request<Body>| serve(dist.clone(), request))
}

async fn serve(dist: PathBuf, request: Request<Body>) -> Response {
    let path = request.uri().path().to_string();
    let index = dist.join("index.html");
    let mut response = if looks_like_app_route(&path) {
        ServeFile::new(&index).oneshot(request).await.into_response()
    } else {
        ServeDir::new(&dist).oneshot(request).await.into_response()
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
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(APP_CONTENT_SECURITY_POLICY));
    response.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// The app's Content Security Policy (docs/security.md explains each part). Scripts only from
/// this server and no inline script (the build moves trunk's start script into a file);
/// `'wasm-unsafe-eval'` is what compiling the app's WebAssembly needs, and no more than that.
/// The app connects only to the server it was loaded from (`'self'` covers its `ws:`/`wss:`).
pub const APP_CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; \
     manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

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
    use super::{is_content_hashed, looks_like_app_route};

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

//! The HTTP side: health, the app's files with the right types, and routes falling back to the page.

#![cfg(not(target_arch = "wasm32"))] // the server is native only

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use enroute_mock_server::router;
use tower::ServiceExt;

fn fake_dist() -> tempdir::TempDist {
    tempdir::TempDist::new(&[
        ("index.html", "<!doctype html><title>Enroute</title>"),
        ("enroute-0123abcd_bg.wasm", "\0asm"),
        ("enroute-0123abcd.js", "export default 1;"),
        ("manifest.json", "{}"),
    ])
}

async fn get(dist: &std::path::Path, path: &str) -> (StatusCode, String, String) {
    get_with(dist, path, Some("test-dispatcher-token")).await
}

async fn get_with(dist: &std::path::Path, path: &str, token: Option<&str>) -> (StatusCode, String, String) {
    let app = router(support::test_state(), dist);
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = app.oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|value| value.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, content_type, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn health_answers_ok() {
    let dist = fake_dist();
    assert_eq!(get(dist.path(), "/health").await.2, "ok\n");
}

#[tokio::test]
async fn wasm_is_served_as_application_wasm() {
    let dist = fake_dist();
    let (status, content_type, _) = get(dist.path(), "/enroute-0123abcd_bg.wasm").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/wasm");
    let (_, content_type, _) = get(dist.path(), "/enroute-0123abcd.js").await;
    assert!(content_type.starts_with("text/javascript"), "{content_type}");
}

#[tokio::test]
async fn app_routes_fall_back_to_index_html() {
    let dist = fake_dist();
    for route in ["/", "/settings", "/assignments", "/assignments/42", "/no-such-page"] {
        let (status, content_type, body) = get(dist.path(), route).await;
        assert_eq!(status, StatusCode::OK, "{route}");
        assert!(content_type.starts_with("text/html"), "{route}: {content_type}");
        assert!(body.contains("<title>Enroute</title>"), "{route}");
    }
}

#[tokio::test]
async fn missing_assets_are_404_not_the_page() {
    let dist = fake_dist();
    let (status, _, _) = get(dist.path(), "/missing-0000_bg.wasm").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unbuilt_app_says_how_to_build_it() {
    let (status, _, body) = get(std::path::Path::new("/nonexistent-dist"), "/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("scripts/serve"), "{body}");
}

/// A throwaway directory for a fake `dist/`, removed on drop.
mod tempdir {
    pub struct TempDist(std::path::PathBuf);

    impl TempDist {
        pub fn new(files: &[(&str, &str)]) -> TempDist {
            static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let unique = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("enroute-dist-{}-{unique}", std::process::id()));
            std::fs::create_dir_all(&path).unwrap();
            for (name, content) in files {
                std::fs::write(path.join(name), content).unwrap();
            }
            TempDist(path)
        }

        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }

    impl Drop for TempDist {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let dist = fake_dist();
    let (status, content_type, body) = get(dist.path(), "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert!(body.contains("# TYPE enroute_open_connections gauge"), "{body}");
    assert!(body.contains("# TYPE enroute_ack_latency_seconds histogram"), "{body}");
}

#[tokio::test]
async fn unknown_driver_is_404_and_the_list_starts_empty() {
    let dist = fake_dist();
    assert_eq!(get(dist.path(), "/api/drivers/nobody").await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(dist.path(), "/api/drivers").await.2, "[]");
}

#[tokio::test]
async fn the_dispatcher_api_and_page_require_the_token() {
    let dist = fake_dist();
    for path in ["/api/drivers", "/api/assignments", "/api/drivers/d/records", "/dispatch"] {
        assert_eq!(get_with(dist.path(), path, None).await.0, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(get_with(dist.path(), path, Some("wrong")).await.0, StatusCode::UNAUTHORIZED, "{path}");
    }
    let (status, _, body) = get_with(dist.path(), "/dispatch?token=test-dispatcher-token", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Enroute dispatch"));
}

#[tokio::test]
async fn app_files_are_gzipped_when_the_browser_accepts_it() {
    // Drivers pay for the first load in mobile data: the wasm and the script travel compressed.
    let big_script = format!("export default {:?};", "enroute ".repeat(2_000));
    let dist = tempdir::TempDist::new(&[("index.html", "<!doctype html>"), ("enroute-big.js", &big_script)]);
    let app = router(support::test_state(), dist.path());
    let request =
        Request::get("/enroute-big.js").header(header::ACCEPT_ENCODING, "gzip").body(Body::empty()).unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers().get(header::CONTENT_ENCODING).unwrap(), "gzip");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    assert!(body.len() < big_script.len() / 10, "{} compressed bytes of {}", body.len(), big_script.len());
}

/// The build writes brotli and gzip copies (scripts/precompress.js): each browser gets the
/// smallest it accepts, with the original's exact type (streaming wasm compilation needs
/// `application/wasm`), and one that accepts neither gets the file itself.
#[tokio::test]
async fn precompressed_copies_are_sent_to_browsers_that_accept_them_with_the_files_own_type() {
    let dist = tempdir::TempDist::new(&[
        ("index.html", "<!doctype html>"),
        ("index.html.br", "brotli page"),
        ("enroute-0123abcd_bg.wasm", "\0asm plain"),
        ("enroute-0123abcd_bg.wasm.br", "brotli wasm"),
        ("enroute-0123abcd_bg.wasm.gz", "gzip wasm"),
    ]);
    for (accepts, encoding, body) in [
        (Some("gzip, deflate, br, zstd"), Some("br"), "brotli wasm"),
        (Some("gzip"), Some("gzip"), "gzip wasm"),
        (None, None, "\0asm plain"),
    ] {
        let app = router(support::test_state(), dist.path());
        let mut request = Request::get("/enroute-0123abcd_bg.wasm");
        if let Some(accepts) = accepts {
            request = request.header(header::ACCEPT_ENCODING, accepts);
        }
        let response = app.oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers().get(header::CONTENT_TYPE).unwrap(), "application/wasm", "{accepts:?}");
        assert_eq!(
            response.headers().get(header::CONTENT_ENCODING).map(|value| value.to_str().unwrap()),
            encoding,
            "{accepts:?}"
        );
        let got = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert_eq!(String::from_utf8_lossy(&got), body, "{accepts:?}");
    }
    // The page on an app route too.
    let app = router(support::test_state(), dist.path());
    let request =
        Request::get("/settings").header(header::ACCEPT_ENCODING, "br").body(Body::empty()).unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.headers().get(header::CONTENT_ENCODING).unwrap(), "br");
    assert!(response.headers().get(header::CONTENT_TYPE).unwrap().to_str().unwrap().starts_with("text/html"));
}

/// Regression (e2e tests that change a copy of the build saw the old files): a compressed copy
/// older than its file is not sent; the file is.
#[tokio::test]
async fn a_compressed_copy_older_than_its_file_is_not_sent() {
    let dist = tempdir::TempDist::new(&[
        ("index.html", "<!doctype html>"),
        ("service-worker.js", "const VERSION = 'b';"),
        ("service-worker.js.br", "brotli of version a"),
        ("service-worker.js.gz", "gzip of version a"),
    ]);
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for copy in ["service-worker.js.br", "service-worker.js.gz"] {
        std::fs::File::options()
            .write(true)
            .open(dist.path().join(copy))
            .unwrap()
            .set_modified(an_hour_ago)
            .unwrap();
    }
    let app = router(support::test_state(), dist.path());
    let request =
        Request::get("/service-worker.js").header(header::ACCEPT_ENCODING, "br").body(Body::empty()).unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&body), "const VERSION = 'b';");
}

#[tokio::test]
async fn the_app_is_served_with_a_content_security_policy_that_allows_no_inline_script() {
    let dist = fake_dist();
    for path in ["/", "/settings", "/enroute-0123abcd.js"] {
        let app = router(support::test_state(), dist.path());
        let response = app.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        let policy = response
            .headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .unwrap_or_else(|| panic!("{path} has no CSP"))
            .to_str()
            .unwrap();
        assert!(policy.contains("script-src 'self' 'wasm-unsafe-eval';"), "{path}: {policy}");
        assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
        assert!(policy.contains("connect-src 'self'"), "{path}: {policy}");
        assert_eq!(response.headers().get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
    }
}

//! Accepts TCP connections and serves the router over HTTP/1.1 on each, with what
//! `axum::serve` cannot set: a deadline for a request's headers (a client that trickles them
//! is cut off, instead of holding its socket for ever) and the peer's address for the router
//! (`ConnectInfo`, for the per-address cap on connections not signed in).
//!
//! This module knows nothing of the protocol; it must not depend on the session or the store.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// Serves `app` on `listener` until `shutdown` resolves, then lets open requests finish (for at
/// most 5 s). `header_timeout` bounds how long a client may take to send a request's headers,
/// on a new connection and between requests on a kept-alive one.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    // Every connection task holds a receiver: the sender's `closed()` says they all ended.
    let (shutting_down, watch_shutdown) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: wait a moment instead of spinning.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone().layer(axum::Extension(ConnectInfo(peer)));
        let service = TowerToHyperService::new(app);
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let mut watch_shutdown = watch_shutdown.clone();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = async { let _ = watch_shutdown.wait_for(|stopping| *stopping).await; } => {
                    // Finish the request in progress, then close.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = ended {
                tracing::debug!(%peer, %error, "an HTTP connection ended with an error");
            }
            drop(watch_shutdown);
        });
    }
    drop(listener);
    drop(watch_shutdown);
    let _ = shutting_down.send(true);
    tokio::select! {
        () = shutting_down.closed() => {}
        () = tokio::time::sleep(Duration::from_secs(5)) => {
            tracing::warn!("connections still open 5 s after shutdown began; closing them");
        }
    }
    Ok(())
}

/// Serves `state` (with no app files) on a free port of 127.0.0.1 until the process ends, with
/// the same accept loop and limits as the real server; returns the address. For tests and tools.
pub async fn serve_on_loopback(state: crate::AppState) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let header_timeout = state.limits.http_header_timeout;
    let app = crate::router(state, std::path::Path::new("no-such-dist"));
    tokio::spawn(serve(listener, app, header_timeout, std::future::pending()));
    Ok(address)
}

//! The HTTP accept loop: what a connection may cost before it has sent a request.
//!
//! `axum::serve` installs no timer in hyper, so a client that sends half a header, or keeps
//! an idle keep-alive connection open, holds a task and a file descriptor forever; a few
//! thousand such clients take the server down without sending one complete request. Here:
//! - at most `max_connections` connections are open; the next client waits in the kernel's
//!   listen backlog until one closes (accepting and dropping would only spin);
//! - hyper's `header_read_timeout` runs on a real timer, from the moment a connection is
//!   accepted (so a client that never sends a byte is closed too);
//! - a keep-alive connection with no request in flight for `keep_alive_timeout` is closed
//!   (hyper has no idle timeout of its own);
//! - shutdown stops accepting, lets in-flight requests finish and closes idle connections.
//!
//! Only HTTP/1.1 is served: a reverse proxy or load balancer in front speaks HTTP/1.1 to
//! its backends, and hyper-util's protocol detection for HTTP/2 runs without a timer.
//! Bodies are bounded elsewhere (the webhook route reads its own; `body_deadline` the rest).

use std::{
    future::Future,
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use axum::{extract::ConnectInfo, Router};
use hyper::{body::Incoming, server::conn::http1, Request};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    net::TcpListener,
    sync::{watch, Semaphore},
    time::Instant,
};
use tower::ServiceExt;

#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub max_connections: usize,
}

/// Serves `router` on `listener` until `shutdown` completes, then waits up to `grace` for
/// open connections to finish their requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopped) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let stopped = stopped.clone();
        tokio::spawn(async move {
            serve_connection(stream, peer, router, limits, stopped).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a permit until it is closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(grace, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period");
    }
}

/// When the connection last finished a request, and how many it is serving now.
struct Activity {
    started: Instant,
    in_flight: AtomicUsize,
    last_done_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_done_ms: AtomicU64::new(0),
        }
    }

    fn begin(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    fn end(&self) {
        let now = self.started.elapsed().as_millis() as u64;
        self.last_done_ms.store(now, Ordering::Release);
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    /// `None` while a request is in flight, else the moment the connection turns idle-expired.
    fn idle_deadline(&self, timeout: Duration) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let last = Duration::from_millis(self.last_done_ms.load(Ordering::Acquire));
        Some(self.started + last + timeout)
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    mut stopped: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            activity.begin();
            let router = router.clone();
            let activity = activity.clone();
            async move {
                let response = router.oneshot(request).await;
                activity.end();
                response
            }
        })
    };
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let mut closing = false;
    loop {
        // Before the first request the header read timeout applies; after it, idleness.
        let idle_check = match activity.idle_deadline(limits.keep_alive_timeout) {
            Some(deadline) if !closing => deadline,
            _ => Instant::now() + limits.keep_alive_timeout,
        };
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(error = %err, %peer, "connection ended with an error");
                }
                return;
            }
            changed = stopped.changed(), if !closing => {
                if changed.is_err() || *stopped.borrow() {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
            () = tokio::time::sleep_until(idle_check), if !closing => {
                let expired = activity
                    .idle_deadline(limits.keep_alive_timeout)
                    .is_some_and(|deadline| deadline <= Instant::now());
                if expired {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

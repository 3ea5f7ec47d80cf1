//! The client-facing side: MS-WUSP web services and `/Content/...` downloads for local
//! Windows clients. It reads the replica (`store`) and cached bytes (`content`); it never
//! talks to the upstream itself.
//!
//! So far: `/Content` (with `Range` resolution as a pure function); every other path is a
//! plain 404 until the web services arrive.

mod content;
pub mod range;

use crate::content::Content;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// What the handlers share.
#[derive(Clone)]
pub struct Served {
    pub content: Content,
}

/// How long a stop waits for responses in flight before dropping them.
const DRAIN: Duration = Duration::from_secs(10);

pub fn router(served: Served) -> Router {
    Router::new().fallback(route).with_state(served)
}

/// Serve on `listener` until `cancel`; then stop accepting, give responses in flight a
/// bounded time to finish, and return.
pub async fn run(
    listener: TcpListener,
    served: Served,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let app = router(served);
    let stop = cancel.clone();
    let server =
        axum::serve(listener, app).with_graceful_shutdown(async move { stop.cancelled().await });
    tokio::select! {
        result = server => result,
        () = async { cancel.cancelled().await; tokio::time::sleep(DRAIN).await } => {
            tracing::warn!("responses still in flight after {DRAIN:?}; closing them");
            Ok(())
        }
    }
}

async fn route(State(served): State<Served>, req: Request) -> Response {
    let path = req.uri().path();
    if path
        .get(..9)
        .is_some_and(|p| p.eq_ignore_ascii_case("/Content/"))
    {
        return content::handle(&served.content, req.method(), path, req.headers()).await;
    }
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

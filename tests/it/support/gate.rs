//! A pass-through HTTP proxy between the operator and the sandbox that can hold one chosen
//! request until the test lets it go: a request that is provably in flight, for as long as the
//! test needs, without sleeps or injected latency. It can also hang altogether (an API server
//! that stopped answering), holding every request until its client gives up on it.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::{oneshot, watch};

use super::WAIT;

struct Shared {
    upstream: kube::Client,
    /// The request to hold next (method and path), taken by the first request that matches.
    armed: Mutex<Option<(Method, String)>>,
    /// Answers the held request when fired.
    waiting: Mutex<Option<oneshot::Sender<()>>>,
    /// How many requests were held so far.
    held: watch::Sender<usize>,
    /// Requests whose path contains one of these are held until their client gives up
    /// ([`Gate::hang`]).
    hanging: Mutex<Vec<String>>,
    /// The requests held now (`METHOD path`), each with an id; one leaves the list when it is
    /// answered or its client gives up on it.
    holding: watch::Sender<Vec<(u64, String)>>,
    next_id: std::sync::atomic::AtomicU64,
    /// Every request that came through, as (method, path).
    log: Mutex<Vec<(Method, String)>>,
}

/// Keeps one held request in [`Shared::holding`] for as long as it is held.
struct Holding {
    shared: Arc<Shared>,
    id: u64,
}

impl Holding {
    fn new(shared: &Arc<Shared>, method: &Method, path: &str) -> Self {
        let id = shared
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        shared
            .holding
            .send_modify(|held| held.push((id, format!("{method} {path}"))));
        Self {
            shared: shared.clone(),
            id,
        }
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        let id = self.id;
        self.shared
            .holding
            .send_modify(|held| held.retain(|(i, _)| *i != id));
    }
}

/// The proxy; [`Gate::client`] talks through it.
pub struct Gate {
    shared: Arc<Shared>,
    client: kube::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Gate {
    /// Serves on a port of 127.0.0.1 chosen (and kept) by the listener, forwarding to `upstream`.
    pub async fn start(upstream: kube::Client) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the gate");
        let addr = listener.local_addr().expect("the gate's address");
        let shared = Arc::new(Shared {
            upstream,
            armed: Mutex::default(),
            waiting: Mutex::default(),
            held: watch::channel(0).0,
            hanging: Mutex::default(),
            holding: watch::channel(Vec::new()).0,
            next_id: std::sync::atomic::AtomicU64::new(0),
            log: Mutex::default(),
        });
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let uri = format!("http://{addr}").parse().expect("the gate's URL");
        let mut config = kube::Config::new(uri);
        config.default_namespace = "default".into();
        let client = kube::Client::try_from(config).expect("a client for the gate");
        Self {
            shared,
            client,
            server,
        }
    }

    /// A client whose requests go through the gate.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// Holds the next request with `method` on `path` (exactly, without the query).
    pub fn hold(&self, method: Method, path: &str) {
        *lock(&self.shared.armed) = Some((method, path.to_string()));
    }

    /// Waits until the request asked for by [`Gate::hold`] has arrived and is held.
    pub async fn until_held(&self) {
        let mut held = self.shared.held.subscribe();
        tokio::time::timeout(WAIT, held.wait_for(|n| *n > 0))
            .await
            .unwrap_or_else(|_| panic!("timed out after {WAIT:?} waiting for the request to hold"))
            .expect("the gate runs");
    }

    /// From now on, holds every request whose path contains `path_part` (`""`: every request)
    /// until its client gives up on it (drops the connection): an API server that stopped
    /// answering, without sleeps or injected latency.
    pub fn hang(&self, path_part: &str) {
        lock(&self.shared.hanging).push(path_part.to_string());
    }

    /// The requests held now, as `METHOD path`.
    pub fn holding(&self) -> Vec<String> {
        self.shared
            .holding
            .borrow()
            .iter()
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// Waits (at most [`WAIT`]) until the requests held now satisfy `check`; panics naming `what`.
    pub async fn until_holding(&self, what: &str, check: impl Fn(&[String]) -> bool) {
        let mut holding = self.shared.holding.subscribe();
        tokio::time::timeout(
            WAIT,
            holding.wait_for(|held| {
                let held: Vec<String> = held.iter().map(|(_, r)| r.clone()).collect();
                check(&held)
            }),
        )
        .await
        .unwrap_or_else(|_| {
            panic!(
                "timed out after {WAIT:?} waiting for {what}; holding {:?}",
                self.holding()
            )
        })
        .expect("the gate runs");
    }

    /// Every request that came through the gate so far, as (method, path without the query).
    pub fn requests(&self) -> Vec<(Method, String)> {
        lock(&self.shared.log).clone()
    }

    /// Answers the held request with a 500 (it never reaches the sandbox).
    pub fn fail_held(&self) {
        let waiting = lock(&self.shared.waiting).take().expect("a held request");
        let _ = waiting.send(());
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Headers that belong to one connection, not to the request or response.
fn hop_by_hop(name: &HeaderName) -> bool {
    [
        header::CONNECTION,
        header::HOST,
        header::TRANSFER_ENCODING,
        header::CONTENT_LENGTH,
        header::UPGRADE,
        HeaderName::from_static("keep-alive"),
    ]
    .contains(name)
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    lock(&shared.log).push((parts.method.clone(), parts.uri.path().to_string()));
    let hold = {
        let mut armed = lock(&shared.armed);
        let matches = armed
            .as_ref()
            .is_some_and(|(method, path)| *method == parts.method && path == parts.uri.path());
        if matches {
            *armed = None;
        }
        matches
    };
    let hang = lock(&shared.hanging)
        .iter()
        .any(|part| parts.uri.path().contains(part.as_str()));
    if hang {
        // Dropped with this handler when the client closes the connection.
        let _holding = Holding::new(&shared, &parts.method, parts.uri.path());
        std::future::pending::<()>().await;
    }
    if hold {
        let _holding = Holding::new(&shared, &parts.method, parts.uri.path());
        let (tx, rx) = oneshot::channel();
        *lock(&shared.waiting) = Some(tx);
        shared.held.send_modify(|n| *n += 1);
        let _ = rx.await;
        let status = serde_json::json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "reason": "InternalError", "code": 500,
            "message": "failed by the test's gate"});
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "application/json")],
            status.to_string(),
        )
            .into_response();
    }
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut upstream = axum::http::Request::builder()
        .method(parts.method.clone())
        .uri(path);
    for (name, value) in parts.headers.iter().filter(|(n, _)| !hop_by_hop(n)) {
        upstream = upstream.header(name, value);
    }
    let Ok(upstream) = upstream.body(kube::client::Body::from(bytes)) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    match shared.upstream.send(upstream).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            let mut out = Response::new(Body::new(body));
            *out.status_mut() = parts.status;
            for (name, value) in parts.headers.iter().filter(|(n, _)| !hop_by_hop(n)) {
                out.headers_mut().append(name, value.clone());
            }
            out
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

//! A stand-in for the operator's end of the config channel, so the tests run the real protocol
//! over real TLS and HTTP/2: it answers `POST /v1/snapshots` with the newest push (unless the
//! proxy says it serves it) and then each new one, records every request and ack, and can be
//! told to refuse, as a follower (503) or a token check (401) does.

use std::{
    convert::Infallible,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU16, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{
    BodyExt as _,
    channel::{Channel, Sender},
};
use hyper::{body::Incoming, service::service_fn};
use hyper_util::rt::{TokioExecutor, TokioIo};
use switchyard_crds::{
    Snapshot,
    channel::{self, Ack, FrameReader, encode_push},
    compile, manifests,
};
use tokio::{net::TcpListener, task::AbortHandle};

use crate::harness::{Manifests, Pki};

/// The files a proxy in operator mode reads: the CA, the token, and a place for its cache.
pub struct Secrets {
    dir: tempfile::TempDir,
}

impl Secrets {
    pub fn new(pki: &Pki, token: &str) -> Self {
        let secrets = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::write(secrets.ca(), &pki.ca_pem).unwrap();
        secrets.set_token(token);
        secrets
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    pub fn token(&self) -> PathBuf {
        self.dir.path().join("token")
    }

    pub fn cache(&self) -> PathBuf {
        self.dir.path().join("cache").join("snapshot.json")
    }

    /// Rotates the token, as kubelet does: a new file renamed into place.
    pub fn set_token(&self, token: &str) {
        let next = self.dir.path().join("token.next");
        std::fs::write(&next, token).unwrap();
        std::fs::rename(next, self.token()).unwrap();
    }

    /// The flags pointing a proxy at `urls` with these files.
    pub fn flags(&self, urls: &[&str], extra: &[&str]) -> Vec<String> {
        let mut flags = Vec::new();
        for url in urls {
            flags.extend(["--operator-url".to_owned(), (*url).to_owned()]);
        }
        for (flag, path) in [
            ("--operator-ca", self.ca()),
            ("--operator-token-file", self.token()),
        ] {
            flags.extend([flag.to_owned(), path.display().to_string()]);
        }
        flags.extend(extra.iter().map(|flag| (*flag).to_owned()));
        flags
    }
}

/// The snapshot the operator would compile from `manifests`, stamped `version`.
pub fn snapshot(manifests: &Manifests, version: u64) -> Snapshot {
    let loaded = manifests::load_str(manifests.text(), Path::new("test.yaml"), &|_| None);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let compiled = compile(&loaded.inputs).unwrap();
    assert!(compiled.problems.is_empty(), "{:?}", compiled.problems);
    compiled.snapshot.with_version(version)
}

/// A push frame whose snapshot no longer matches its hash.
pub fn tampered_push(snapshot: &Snapshot) -> Vec<u8> {
    let json = String::from_utf8(snapshot.to_json().unwrap()).unwrap();
    let tampered = json.replace(&snapshot.hash, &"0".repeat(64));
    assert_ne!(json, tampered);
    encode_push(snapshot.version, tampered.as_bytes())
}

/// The newest push, and the hash of its snapshot when it has a valid one.
struct Latest {
    frame: Bytes,
    hash: Option<String>,
}

#[derive(Default)]
struct Shared {
    /// What every request is answered with; 200 opens the stream.
    status: AtomicU16,
    latest: Mutex<Option<Latest>>,
    streams: Mutex<Vec<Sender<Bytes>>>,
    requests: Mutex<Vec<HeaderMap>>,
    acks: Mutex<Vec<Ack>>,
    tasks: Mutex<Vec<AbortHandle>>,
}

impl Shared {
    fn track(&self, task: AbortHandle) {
        self.tasks.lock().unwrap().push(task);
    }
}

/// The operator's end of the channel on `127.0.0.1`; stopped (every connection dropped) on
/// drop.
pub struct Operator {
    port: u16,
    shared: Arc<Shared>,
}

impl Operator {
    /// Starts on a free port.
    pub async fn start(pki: &Pki) -> Self {
        Self::start_on(pki, 0).await
    }

    /// Starts on `port` (0: any), as a restarted operator behind the same address would.
    pub async fn start_on(pki: &Pki, port: u16) -> Self {
        let listener = bind(port).await;
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        shared.status.store(200, Ordering::SeqCst);
        let acceptor = pki.acceptor(&[b"h2"]);
        let serving = Arc::clone(&shared);
        let accept = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (acceptor, shared) = (acceptor.clone(), Arc::clone(&serving));
                let task = tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(socket).await else {
                        return;
                    };
                    let service = service_fn(move |request| {
                        let response = answer(request, &shared);
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
                serving.track(task.abort_handle());
            }
        });
        shared.track(accept.abort_handle());
        Self { port, shared }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Answers every new request with `status` (200 opens the stream).
    pub fn answer_with(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }

    /// Pushes a snapshot to every open stream, and to each new one.
    pub fn push(&self, snapshot: &Snapshot) {
        let frame = encode_push(snapshot.version, &snapshot.to_json().unwrap());
        self.push_frame(frame, Some(snapshot.hash.clone()));
    }

    /// Pushes raw frame bytes (a broken push).
    pub fn push_raw(&self, frame: Vec<u8>) {
        self.push_frame(frame, None);
    }

    fn push_frame(&self, frame: Vec<u8>, hash: Option<String>) {
        let frame = Bytes::from(frame);
        let mut streams = self.shared.streams.lock().unwrap();
        streams.retain_mut(|stream| {
            stream
                .try_send(hyper::body::Frame::data(frame.clone()))
                .is_ok()
        });
        *self.shared.latest.lock().unwrap() = Some(Latest { frame, hash });
    }

    /// The headers of every request so far.
    pub fn requests(&self) -> Vec<HeaderMap> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Every ack so far.
    pub fn acks(&self) -> Vec<Ack> {
        self.shared.acks.lock().unwrap().clone()
    }

    /// The ack of `version`, once it arrives.
    pub async fn ack(&self, version: u64) -> Ack {
        eventually(&format!("an ack of version {version}"), || async {
            self.acks().into_iter().find(|ack| ack.version == version)
        })
        .await
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        for task in self.shared.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
        self.shared.streams.lock().unwrap().clear();
    }
}

/// Binds `port`, waiting while the previous holder lets go of it.
async fn bind(port: u16) -> TcpListener {
    for _ in 0..200 {
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)).await {
            return listener;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("port {port} stayed taken");
}

/// The operator's answer to one request: a refusal, or the stream of pushes.
fn answer(request: Request<Incoming>, shared: &Arc<Shared>) -> Response<Channel<Bytes>> {
    shared
        .requests
        .lock()
        .unwrap()
        .push(request.headers().clone());
    let (mut pushes, body) = Channel::new(16);
    let status = shared.status.load(Ordering::SeqCst);
    if status != 200 || request.uri().path() != channel::PATH {
        let reason = Bytes::from(format!("refused by the test operator ({status})\n"));
        let _ = pushes.try_send(hyper::body::Frame::data(reason));
        return Response::builder()
            .status(StatusCode::from_u16(status).unwrap())
            .body(body)
            .unwrap();
    }
    let served = request
        .headers()
        .get(channel::HASH_HEADER)
        .map(|value| value.to_str().unwrap().to_owned());
    if let Some(latest) = shared.latest.lock().unwrap().as_ref()
        && (latest.hash.is_none() || latest.hash != served)
    {
        let _ = pushes.try_send(hyper::body::Frame::data(latest.frame.clone()));
    }
    shared.streams.lock().unwrap().push(pushes);
    let reader = Arc::clone(shared);
    let acks = tokio::spawn(read_acks(request.into_body(), reader));
    shared.track(acks.abort_handle());
    Response::builder()
        .header(http::header::CONTENT_TYPE, channel::CONTENT_TYPE)
        .body(body)
        .unwrap()
}

async fn read_acks(mut body: Incoming, shared: Arc<Shared>) {
    let mut frames = FrameReader::default();
    while let Some(Ok(frame)) = body.frame().await {
        let Ok(data) = frame.into_data() else {
            continue;
        };
        for frame in frames.push(&data).unwrap() {
            let ack: Ack = serde_json::from_slice(&frame).unwrap();
            shared.acks.lock().unwrap().push(ack);
        }
    }
}

/// Polls `check` until it returns something, for up to a minute (a loaded machine is slow;
/// nothing here asserts on time).
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..1200 {
        if let Some(found) = check().await {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("waited a minute for {what}");
}

/// A TCP relay in front of an operator whose open connections can be frozen: bytes stop
/// flowing both ways but nothing is closed, as when a node vanishes from the network.
pub struct Relay {
    port: u16,
    frozen: Arc<tokio::sync::watch::Sender<bool>>,
    accept: AbortHandle,
}

impl Relay {
    pub async fn start(to: u16) -> Self {
        let listener = bind(0).await;
        let port = listener.local_addr().unwrap().port();
        let frozen = Arc::new(tokio::sync::watch::Sender::new(false));
        let freezes = Arc::clone(&frozen);
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                // Only connections open now freeze; later ones flow.
                freezes.send_replace(false);
                let mut frozen = freezes.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(("127.0.0.1", to)).await
                    else {
                        return;
                    };
                    let mut inbound = inbound;
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = async { frozen.wait_for(|frozen| *frozen).await.is_ok() } => {
                            // Hold both sockets open and silent.
                            std::future::pending::<()>().await;
                        }
                    }
                });
            }
        });
        Self {
            port,
            frozen,
            accept: accept.abort_handle(),
        }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Freezes every connection open now.
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

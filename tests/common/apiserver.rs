//! An in-process Kubernetes API server for tests: in-memory objects with resourceVersions, the real HTTP list/watch protocol (JSON lists, watch streams of JSON lines, bookmarks, 410 Gone), create/replace/merge-patch/delete, status subresources, recorded Events, and restarts.
//!
//! It speaks plain HTTP/1.1 on 127.0.0.1, and can listen inside a test
//! network namespace too (the socket is created there, so an agent inside
//! the namespace reaches it on its own loopback). Objects are plain JSON;
//! the server knows only the resources podroute uses.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

type Body = BoxBody<Bytes, Infallible>;

/// One change, as watch streams send it.
#[derive(Debug, Clone)]
struct Change {
    rv: u64,
    collection: String,
    kind: &'static str,
    object: Value,
}

#[derive(Default)]
struct State {
    rv: u64,
    /// Collection path (`/api/v1/nodes`) → name → object.
    objects: BTreeMap<String, BTreeMap<String, Value>>,
    history: Vec<Change>,
    /// Watches from a resourceVersion below this get 410 Gone.
    compacted: u64,
    /// Every request, `METHOD path?query`.
    requests: Vec<String>,
    /// Lists still to fail with 500 (error injection).
    failing_lists: u32,
}

struct Shared {
    state: Mutex<State>,
    changes: broadcast::Sender<Change>,
    /// Bumped by a restart: every connection and watch stream ends.
    generation: watch::Sender<u64>,
    /// While true, new connections are closed at once.
    down: Mutex<bool>,
}

/// The server; stops with its runtime on drop.
pub struct ApiServer {
    shared: Arc<Shared>,
    rt: Option<tokio::runtime::Runtime>,
    pub addr: SocketAddr,
}

/// What a resource plural is.
fn resource(plural: &str) -> Option<(&'static str, &'static str)> {
    Some(match plural {
        "nodes" => ("v1", "Node"),
        "secrets" => ("v1", "Secret"),
        "events" => ("events.k8s.io/v1", "Event"),
        "bgppeers" => ("podroute.io/v1alpha1", "BGPPeer"),
        "bgpconfigurations" => ("podroute.io/v1alpha1", "BGPConfiguration"),
        "bgpnodestatuses" => ("podroute.io/v1alpha1", "BGPNodeStatus"),
        _ => return None,
    })
}

/// The collection path of a resource, e.g. `nodes` or
/// `namespaces/podroute-system/secrets`, as tests name them.
pub fn collection(plural: &str) -> String {
    let (api, _) = resource(plural.rsplit('/').next().unwrap_or(plural))
        .unwrap_or_else(|| panic!("unknown resource {plural}"));
    if api == "v1" {
        format!("/api/v1/{plural}")
    } else {
        format!("/apis/{api}/{plural}")
    }
}

/// A parsed request path.
struct Target {
    collection: String,
    plural: String,
    name: Option<String>,
    status: bool,
}

fn parse_path(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let base = match *segs.first()? {
        "api" => 2,
        "apis" => 3,
        _ => return None,
    };
    let mut i = base;
    if segs.get(i) == Some(&"namespaces") && segs.len() > i + 2 {
        i += 2;
    }
    let plural = segs.get(i)?.to_string();
    resource(&plural)?;
    Some(Target {
        collection: format!("/{}", segs[..=i].join("/")),
        plural,
        name: segs.get(i + 1).map(|s| s.to_string()),
        status: segs.get(i + 2) == Some(&"status"),
    })
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == key).then(|| v.to_string())
    })
}

fn full(status: StatusCode, v: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(v.to_string())).boxed())
        .unwrap()
}

fn status_obj(code: u16, reason: &str, message: &str) -> Value {
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code
    })
}

fn error(code: u16, reason: &str, message: &str) -> Response<Body> {
    full(
        StatusCode::from_u16(code).unwrap(),
        &status_obj(code, reason, message),
    )
}

/// RFC 7386 JSON merge patch.
fn merge(target: &mut Value, patch: &Value) {
    if let Value::Object(p) = patch {
        if !target.is_object() {
            *target = json!({});
        }
        let t = target.as_object_mut().unwrap();
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    } else {
        *target = patch.clone();
    }
}

impl Shared {
    /// Stores `obj` (stamped with a new resourceVersion) and tells the watchers.
    fn put(&self, st: &mut State, collection: &str, kind: &'static str, mut obj: Value) -> Value {
        st.rv += 1;
        let rv = st.rv;
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        if obj["metadata"]["uid"].is_null() {
            obj["metadata"]["uid"] = json!(format!("uid-{rv}"));
            obj["metadata"]["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
        }
        let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
        let coll = st.objects.entry(collection.to_string()).or_default();
        if kind == "DELETED" {
            coll.remove(&name);
        } else {
            coll.insert(name, obj.clone());
        }
        let change = Change {
            rv,
            collection: collection.to_string(),
            kind,
            object: obj.clone(),
        };
        st.history.push(change.clone());
        let _ = self.changes.send(change);
        obj
    }
}

impl ApiServer {
    /// Starts the server on 127.0.0.1 (random port) in the test's namespace.
    pub fn start() -> ApiServer {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (changes, _) = broadcast::channel(4096);
        let (generation, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changes,
            generation,
            down: Mutex::new(false),
        });
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let server = ApiServer {
            shared,
            rt: Some(rt),
            addr,
        };
        server.serve(std_listener);
        server
    }

    /// Also listens on 127.0.0.1 inside network namespace `ns` (the socket
    /// is made there by a thread that entered it); returns the port.
    pub fn listen_in_netns(&self, ns: &str) -> u16 {
        let path = format!("/run/netns/{ns}");
        let l = std::thread::spawn(move || {
            let f = std::fs::File::open(&path).unwrap();
            // SAFETY: setns on a valid namespace fd; this thread only binds a socket and exits.
            let rc =
                unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&f), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns into {path}");
            std::net::TcpListener::bind("127.0.0.1:0").unwrap()
        })
        .join()
        .unwrap();
        let port = l.local_addr().unwrap().port();
        self.serve(l);
        port
    }

    fn serve(&self, l: std::net::TcpListener) {
        l.set_nonblocking(true).unwrap();
        let shared = self.shared.clone();
        self.rt.as_ref().unwrap().spawn(async move {
            let listener = tokio::net::TcpListener::from_std(l).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                if *shared.down.lock().unwrap() {
                    drop(stream);
                    continue;
                }
                let shared = shared.clone();
                tokio::spawn(async move {
                    let mut gen_rx = shared.generation.subscribe();
                    let svc_shared = shared.clone();
                    let svc = hyper::service::service_fn(move |req| {
                        let s = svc_shared.clone();
                        async move { Ok::<_, Infallible>(handle(s, req).await) }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc);
                    // A restart drops the connection, whatever it is doing.
                    tokio::select! {
                        _ = conn => {}
                        _ = gen_rx.changed() => {}
                    }
                });
            }
        });
    }

    /// The base URL for kube's `Config::new`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn with_state<T>(&self, f: impl FnOnce(&Shared, &mut State) -> T) -> T {
        let mut st = self.shared.state.lock().unwrap();
        f(&self.shared, &mut st)
    }

    /// Creates or replaces an object of `plural` (e.g. `nodes`,
    /// `namespaces/podroute-system/secrets`); returns it as stored.
    pub fn apply(&self, plural: &str, obj: Value) -> Value {
        let coll = collection(plural);
        let name = obj["metadata"]["name"].as_str().unwrap().to_string();
        let (api, kind) = resource(plural.rsplit('/').next().unwrap()).unwrap();
        self.with_state(|sh, st| {
            let mut obj = obj;
            obj["apiVersion"] = json!(api);
            obj["kind"] = json!(kind);
            let existing = st.objects.get(&coll).and_then(|c| c.get(&name)).cloned();
            let ty = if let Some(old) = existing {
                obj["metadata"]["uid"] = old["metadata"]["uid"].clone();
                obj["metadata"]["creationTimestamp"] = old["metadata"]["creationTimestamp"].clone();
                "MODIFIED"
            } else {
                "ADDED"
            };
            sh.put(st, &coll, ty, obj)
        })
    }

    /// Merge-patches an existing object.
    pub fn patch(&self, plural: &str, name: &str, patch: Value) -> Value {
        let coll = collection(plural);
        self.with_state(|sh, st| {
            let mut obj = st.objects[&coll][name].clone();
            merge(&mut obj, &patch);
            sh.put(st, &coll, "MODIFIED", obj)
        })
    }

    /// Deletes an object; whether it existed.
    pub fn delete(&self, plural: &str, name: &str) -> bool {
        let coll = collection(plural);
        self.with_state(|sh, st| {
            let Some(obj) = st.objects.get(&coll).and_then(|c| c.get(name)).cloned() else {
                return false;
            };
            sh.put(st, &coll, "DELETED", obj);
            true
        })
    }

    /// An object as stored.
    pub fn get(&self, plural: &str, name: &str) -> Option<Value> {
        let coll = collection(plural);
        self.with_state(|_, st| st.objects.get(&coll).and_then(|c| c.get(name)).cloned())
    }

    /// Every Event posted (events.k8s.io/v1 objects), in order.
    pub fn events(&self) -> Vec<Value> {
        self.with_state(|_, st| {
            st.history
                .iter()
                .filter(|c| c.collection.ends_with("/events") && c.kind == "ADDED")
                .map(|c| c.object.clone())
                .collect()
        })
    }

    /// Every request so far (`GET /api/v1/nodes?...`).
    pub fn requests(&self) -> Vec<String> {
        self.with_state(|_, st| st.requests.clone())
    }

    /// Makes the next `n` list requests fail with 500.
    pub fn fail_lists(&self, n: u32) {
        self.with_state(|_, st| st.failing_lists = n);
    }

    /// Forgets the history: watches resuming from any version seen so far
    /// get 410 Gone and must list again (etcd compaction).
    pub fn compact(&self) {
        self.with_state(|_, st| {
            st.compacted = st.rv + 1;
            st.history.retain(|c| c.collection.ends_with("/events"));
        });
    }

    /// The server goes away: every connection and watch stream is dropped
    /// and new connections are refused until [`ApiServer::resume`]. The
    /// objects stay (they live in etcd) and tests may change them meanwhile.
    pub fn pause(&self) {
        *self.shared.down.lock().unwrap() = true;
        self.shared.generation.send_modify(|g| *g += 1);
    }

    /// The server is back.
    pub fn resume(&self) {
        *self.shared.down.lock().unwrap() = false;
    }

    /// A restart: [`ApiServer::pause`], `down`, [`ApiServer::resume`].
    pub fn restart(&self, down: Duration) {
        self.pause();
        std::thread::sleep(down);
        self.resume();
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

async fn handle(sh: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    sh.state
        .lock()
        .unwrap()
        .requests
        .push(format!("{method} {path}?{query}"));
    let Some(t) = parse_path(&path) else {
        return error(404, "NotFound", &format!("no resource at {path}"));
    };
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return error(400, "BadRequest", "unreadable body"),
    };
    let parsed: Option<Value> = if body.is_empty() {
        None
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => Some(v),
            Err(e) => return error(400, "BadRequest", &format!("body is not JSON: {e}")),
        }
    };
    let (api, kind) = resource(&t.plural).unwrap();
    match (&method, &t.name) {
        (&Method::GET, None) if query_param(&query, "watch").as_deref() == Some("true") => {
            watch_stream(sh, &t, &query)
        }
        (&Method::GET, None) => {
            let mut st = sh.state.lock().unwrap();
            if st.failing_lists > 0 {
                st.failing_lists -= 1;
                return error(500, "InternalError", "injected list failure");
            }
            let items: Vec<Value> = st
                .objects
                .get(&t.collection)
                .map(|c| c.values().cloned().collect())
                .unwrap_or_default();
            full(
                StatusCode::OK,
                &json!({
                    "apiVersion": api, "kind": format!("{kind}List"),
                    "metadata": {"resourceVersion": st.rv.to_string()},
                    "items": items,
                }),
            )
        }
        (&Method::GET, Some(name)) => {
            let st = sh.state.lock().unwrap();
            match st.objects.get(&t.collection).and_then(|c| c.get(name)) {
                Some(o) => full(StatusCode::OK, o),
                None => error(404, "NotFound", &format!("{} {name} not found", t.plural)),
            }
        }
        (&Method::POST, None) => {
            let Some(mut obj) = parsed else {
                return error(400, "BadRequest", "no body");
            };
            let Some(name) = obj["metadata"]["name"].as_str().map(String::from) else {
                return error(422, "Invalid", "metadata.name is required");
            };
            let mut st = sh.state.lock().unwrap();
            if st
                .objects
                .get(&t.collection)
                .is_some_and(|c| c.contains_key(&name))
            {
                return error(409, "AlreadyExists", &format!("{name} already exists"));
            }
            obj["apiVersion"] = json!(api);
            obj["kind"] = json!(kind);
            let stored = sh.put(&mut st, &t.collection, "ADDED", obj);
            full(StatusCode::CREATED, &stored)
        }
        (&Method::PUT | &Method::PATCH, Some(name)) => {
            let Some(body) = parsed else {
                return error(400, "BadRequest", "no body");
            };
            let mut st = sh.state.lock().unwrap();
            let Some(mut obj) = st
                .objects
                .get(&t.collection)
                .and_then(|c| c.get(name))
                .cloned()
            else {
                return error(404, "NotFound", &format!("{} {name} not found", t.plural));
            };
            if method == Method::PUT {
                if t.status {
                    obj["status"] = body["status"].clone();
                } else {
                    let status = obj["status"].clone();
                    obj = body;
                    obj["status"] = status;
                }
            } else if t.status {
                merge(&mut obj["status"], &body["status"]);
            } else {
                merge(&mut obj, &body);
            }
            let stored = sh.put(&mut st, &t.collection, "MODIFIED", obj);
            full(StatusCode::OK, &stored)
        }
        (&Method::DELETE, Some(name)) => {
            let mut st = sh.state.lock().unwrap();
            let Some(obj) = st
                .objects
                .get(&t.collection)
                .and_then(|c| c.get(name))
                .cloned()
            else {
                return error(404, "NotFound", &format!("{} {name} not found", t.plural));
            };
            let stored = sh.put(&mut st, &t.collection, "DELETED", obj);
            full(StatusCode::OK, &stored)
        }
        _ => error(405, "MethodNotAllowed", &format!("{method} {path}")),
    }
}

fn line(kind: &str, object: &Value) -> Result<Frame<Bytes>, Infallible> {
    let mut text = json!({"type": kind, "object": object}).to_string();
    text.push('\n');
    Ok(Frame::data(Bytes::from(text)))
}

/// A watch: what happened after `resourceVersion`, then changes as they
/// come, with a BOOKMARK every second when asked for; ends at
/// `timeoutSeconds` or a restart.
fn watch_stream(sh: Arc<Shared>, t: &Target, query: &str) -> Response<Body> {
    let from: u64 = query_param(query, "resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let bookmarks = query_param(query, "allowWatchBookmarks").as_deref() == Some("true");
    let timeout = query_param(query, "timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(290u64);
    let (api, kind) = resource(&t.plural).unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(256);
    let (mut changes, backlog, gone, mut seen) = {
        let st = sh.state.lock().unwrap();
        let changes = sh.changes.subscribe();
        let gone = from != 0 && from < st.compacted;
        let backlog: Vec<Change> = st
            .history
            .iter()
            .filter(|c| c.collection == t.collection && c.rv > from)
            .cloned()
            .collect();
        (changes, backlog, gone, st.rv)
    };
    let collection = t.collection.clone();
    let mut gen_rx = sh.generation.subscribe();
    tokio::spawn(async move {
        if gone {
            // What a real API server sends for a compacted version: a 200
            // stream with one ERROR event carrying Status 410 (Expired).
            let _ = tx
                .send(line(
                    "ERROR",
                    &status_obj(410, "Expired", &format!("too old resource version: {from}")),
                ))
                .await;
            return;
        }
        for c in backlog {
            if tx.send(line(c.kind, &c.object)).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(Duration::from_secs(timeout));
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                // A pause ends the stream before anything changed after it
                // is sent (tests change objects right after pausing).
                biased;
                _ = gen_rx.changed() => return,
                _ = &mut deadline => return,
                // Only a version this stream has passed: resuming from it
                // must not skip a change still on its way.
                _ = tick.tick(), if bookmarks => {
                    let bm = json!({"apiVersion": api, "kind": kind, "metadata": {"resourceVersion": seen.to_string()}});
                    if tx.send(line("BOOKMARK", &bm)).await.is_err() {
                        return;
                    }
                }
                c = changes.recv() => match c {
                    Ok(c) => {
                        seen = seen.max(c.rv);
                        if c.collection == collection && c.rv > from && tx.send(line(c.kind, &c.object)).await.is_err() {
                            return;
                        }
                    }
                    // Lagging behind: end the stream; the client resumes.
                    Err(_) => return,
                },
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .unwrap()
}

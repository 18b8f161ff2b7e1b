//! HTTP routing: parses Kubernetes API paths, decodes bodies, applies test hooks, dispatches to verbs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize as _;
use serde_json::{Value, json};

use crate::api::convert::Served;
use crate::api::errors::{ApiError, Result};
use crate::api::resources::ResourceInfo;
use crate::api::selectors::{FieldSelector, LabelSelector};
use crate::api::store::Store;
use crate::api::verbs::{
    self, DeleteOptions, FieldValidation, ListQuery, PatchType, Sub, WriteOptions,
};
use crate::hooks::LoggedRequest;
use crate::http::discovery;
use crate::http::openapi;
use crate::http::protobuf;
use crate::http::reviews;
use crate::http::table;
use crate::http::watch::{self, WatchParams};
use crate::shared::Shared;
use crate::writes;

/// The router serving the API.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

enum Route {
    Version,
    Health,
    CoreVersions,
    GroupList,
    Group(String),
    ResourceList(String, String),
    OpenApiV2,
    OpenApiIndex,
    OpenApi(String, String),
    Review(Arc<ResourceInfo>),
    Resource(Box<ResourceRoute>),
}

struct ResourceRoute {
    res: Arc<ResourceInfo>,
    namespace: Option<String>,
    name: Option<String>,
    sub: Sub,
    watch_prefix: bool,
}

fn parse_route(path: &str, store: &Store) -> Result<Route> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest) = match segs.as_slice() {
        ["version"] => return Ok(Route::Version),
        ["healthz" | "livez" | "readyz", ..] => return Ok(Route::Health),
        ["api"] => return Ok(Route::CoreVersions),
        ["apis"] => return Ok(Route::GroupList),
        ["apis", g] => return Ok(Route::Group(g.to_string())),
        ["api", v] => return Ok(Route::ResourceList(String::new(), v.to_string())),
        ["apis", g, v] => return Ok(Route::ResourceList(g.to_string(), v.to_string())),
        ["openapi", "v2"] => return Ok(Route::OpenApiV2),
        ["openapi", "v3"] => return Ok(Route::OpenApiIndex),
        ["openapi", "v3", "api", v] => return Ok(Route::OpenApi(String::new(), v.to_string())),
        ["openapi", "v3", "apis", g, v] => return Ok(Route::OpenApi(g.to_string(), v.to_string())),
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(ApiError::no_route()),
    };
    let (watch_prefix, rest) = match rest {
        ["watch", r @ ..] => (true, r),
        r => (false, r),
    };
    let reg = &store.registry;
    let (namespace, plural, name, sub) = match rest {
        ["namespaces", ns, plural, tail @ ..]
            if reg
                .find(group, version, plural)
                .is_some_and(|r| r.namespaced) =>
        {
            if tail.len() > 2 {
                return Err(ApiError::no_route());
            }
            (Some(ns.to_string()), *plural, tail.first(), tail.get(1))
        }
        [plural, tail @ ..] => {
            if tail.len() > 2 {
                return Err(ApiError::no_route());
            }
            (None, *plural, tail.first(), tail.get(1))
        }
        [] => return Err(ApiError::no_route()),
    };
    let res = reg
        .find(group, version, plural)
        .cloned()
        .ok_or_else(ApiError::no_route)?;
    if res.review {
        return match (name, sub, watch_prefix) {
            (None, None, false) => Ok(Route::Review(res)),
            _ => Err(ApiError::no_route()),
        };
    }
    if res.namespaced && namespace.is_none() && name.is_some() {
        return Err(ApiError::no_route());
    }
    let sub = match sub.copied() {
        None => Sub::Main,
        Some("status") if res.status => Sub::Status,
        Some("scale") if res.scale => Sub::Scale,
        Some("finalize") if verbs::is_namespaces(&res) => Sub::Finalize,
        Some(_) => return Err(ApiError::no_route()),
    };
    Ok(Route::Resource(Box::new(ResourceRoute {
        res,
        namespace,
        name: name.map(|n| n.to_string()),
        sub,
        watch_prefix,
    })))
}

fn verb_of(method: &Method, r: &ResourceRoute, query: &HashMap<String, String>) -> &'static str {
    let watch = r.watch_prefix || query.get("watch").is_some_and(|w| go_bool(w));
    match (method.as_str(), r.name.is_some()) {
        ("GET", true) if watch => "watch",
        ("GET", true) => "get",
        ("GET", false) if watch => "watch",
        ("GET", false) => "list",
        ("POST", false) => "create",
        ("PUT", true) => "update",
        ("PATCH", true) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => "",
    }
}

/// A boolean query parameter as the API server's Go decoding reads it (strconv.ParseBool):
/// the official Python client sends `watch=True`.
fn go_bool(v: &str) -> bool {
    matches!(v, "1" | "t" | "T" | "true" | "TRUE" | "True")
}

fn header(h: &HeaderMap, name: &str) -> String {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn json_response(code: StatusCode, v: &Value) -> Response {
    (
        code,
        [("content-type", "application/json")],
        serde_json::to_vec(v).unwrap_or_default(),
    )
        .into_response()
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let latency = shared.hooks.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query_str = req.uri().query().unwrap_or_default().to_string();
    let content_type = header(req.headers(), "content-type");
    // A client waiting for `100 Continue` has sent no body: Go's server closes such a
    // connection rather than ask for a body it will not use, and so does hyper.
    let expects_continue = header(req.headers(), "expect").eq_ignore_ascii_case("100-continue");
    let (mut parts, body) = req.into_parts();
    let unread = UnreadBody::new(body);
    parts.extensions.insert(unread.clone());
    let req = Request::from_parts(parts, Body::empty());
    let (verb, resource, resp) = serve(&shared, req, &query_str).await;
    if !expects_continue {
        unread.drain().await;
    }
    tracing::debug!(%method, %path, query = %query_str, %content_type, status = resp.status().as_u16(), "request");
    shared.hooks.log(LoggedRequest {
        method: method.to_string(),
        path,
        query: query_str,
        content_type,
        status: resp.status().as_u16(),
        verb: verb.to_string(),
        resource,
    });
    resp
}

async fn serve(
    shared: &Arc<Shared>,
    req: Request,
    query_str: &str,
) -> (&'static str, String, Response) {
    let query: HashMap<String, String> =
        serde_urlencoded::from_str::<Vec<(String, String)>>(query_str)
            .map(|v| v.into_iter().collect())
            .unwrap_or_default();
    if let Some(token) = &shared.token
        && !authenticated(req.headers(), token)
    {
        // kube-apiserver with anonymous requests disabled (--anonymous-auth=false) answers
        // every request without valid credentials so.
        return (
            "",
            String::new(),
            ApiError::new(401, "Unauthorized", "Unauthorized").into_response(),
        );
    }
    let route = {
        let store = shared.lock();
        parse_route(req.uri().path(), &store)
    };
    let route = match route {
        Ok(r) => r,
        Err(e) => return ("", String::new(), e.into_response()),
    };
    let (verb, resource) = match &route {
        Route::Resource(r) => {
            let sub = match r.sub {
                Sub::Main => "",
                Sub::Status => "/status",
                Sub::Scale => "/scale",
                Sub::Finalize => "/finalize",
            };
            (
                verb_of(req.method(), r, &query),
                format!("{}{sub}", r.res.plural),
            )
        }
        Route::Review(res) => ("create", res.plural.clone()),
        _ => ("", String::new()),
    };
    if !verb.is_empty()
        && let Some(code) = shared.hooks.take_failure(verb, &resource)
    {
        return (verb, resource, ApiError::injected(code).into_response());
    }
    if let Err(e) = check_dry_run(verb, query_str) {
        return (verb, resource, e.into_response());
    }
    let accept = header(req.headers(), "accept");
    let resp = match route {
        // The version whose API definitions the sandbox serves and validates against
        // (crates/sandbox/data, crates/k8s-rules/data: Kubernetes 1.34).
        Route::Version => Ok(json_response(
            StatusCode::OK,
            &json!({
                "major": "1", "minor": "34", "gitVersion": "v1.34.0-sandbox", "gitCommit": "0000000000000000000000000000000000000000",
                "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24.6", "compiler": "gc", "platform": "linux/amd64",
                "emulationMajor": "1", "emulationMinor": "34", "minCompatibilityMajor": "1", "minCompatibilityMinor": "33",
            }),
        )),
        Route::Health => {
            Ok((StatusCode::OK, [("content-type", "text/plain")], "ok").into_response())
        }
        Route::CoreVersions | Route::GroupList => {
            let core = matches!(route, Route::CoreVersions);
            let store = shared.lock();
            if let Some(av) = aggregated_version(&accept) {
                let doc = discovery::aggregated(&store.registry, core, av);
                let ct = format!(
                    "application/json;g=apidiscovery.k8s.io;v={};as=APIGroupDiscoveryList",
                    av.trim_start_matches("apidiscovery.k8s.io/")
                );
                Ok((
                    StatusCode::OK,
                    [("content-type", ct)],
                    serde_json::to_vec(&doc).unwrap_or_default(),
                )
                    .into_response())
            } else if core {
                Ok(json_response(StatusCode::OK, &discovery::core_versions()))
            } else {
                Ok(json_response(
                    StatusCode::OK,
                    &discovery::group_list(&store.registry),
                ))
            }
        }
        Route::Group(g) => {
            let store = shared.lock();
            discovery::group(&store.registry, &g)
                .map(|d| json_response(StatusCode::OK, &d))
                .ok_or_else(ApiError::no_route)
        }
        Route::ResourceList(g, v) => {
            let store = shared.lock();
            discovery::resource_list(&store.registry, &g, &v)
                .map(|d| json_response(StatusCode::OK, &d))
                .ok_or_else(ApiError::no_route)
        }
        Route::OpenApiV2 => {
            if accepts_json(&accept) {
                Ok(json_response(
                    StatusCode::OK,
                    &openapi::v2(&shared.lock().registry),
                ))
            } else {
                Err(ApiError::new(
                    406,
                    "NotAcceptable",
                    format!(
                        "the sandbox serves /openapi/v2 as application/json only, not {accept:?}"
                    ),
                ))
            }
        }
        Route::OpenApiIndex => Ok(json_response(
            StatusCode::OK,
            &openapi::index(&shared.lock().registry),
        )),
        Route::OpenApi(g, v) => {
            let store = shared.lock();
            openapi::group_version(&store.registry, &g, &v)
                .map(|d| json_response(StatusCode::OK, &d))
                .ok_or_else(ApiError::no_route)
        }
        Route::Review(res) => serve_review(shared, req, &res).await,
        Route::Resource(r) => serve_resource(shared, req, *r, verb, &query, &accept).await,
    };
    (
        verb,
        resource,
        resp.unwrap_or_else(IntoResponse::into_response),
    )
}

/// The kind of options a write verb decodes its query into, as upstream names them in errors.
fn options_kind(verb: &str) -> Option<&'static str> {
    match verb {
        "create" => Some("CreateOptions"),
        "update" => Some("UpdateOptions"),
        "patch" => Some("PatchOptions"),
        "delete" | "deletecollection" => Some("DeleteOptions"),
        _ => None,
    }
}

/// `dryRun` may only be `All` (apimachinery's ValidateDryRun, called by the create, update,
/// patch and delete handlers): anything else is 422 Invalid on the verb's options, e.g.
/// `CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"x"}: …`.
fn check_dry_run(verb: &str, query_str: &str) -> Result<()> {
    let Some(kind) = options_kind(verb) else {
        return Ok(());
    };
    let values: Vec<String> = serde_urlencoded::from_str::<Vec<(String, String)>>(query_str)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k == "dryRun")
        .map(|(_, v)| v)
        .collect();
    dry_run_values_ok(kind, &values)
}

/// Refuses dry-run values other than `All` for options of `kind`.
fn dry_run_values_ok(kind: &str, values: &[String]) -> Result<()> {
    if values.iter().all(|v| v == "All") {
        return Ok(());
    }
    let listed: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    Err(ApiError::invalid(
        "meta.k8s.io",
        kind,
        "",
        &[(
            "dryRun".into(),
            format!(
                "Unsupported value: []string{{{}}}: supported values: \"All\"",
                listed.join(", ")
            ),
        )],
    ))
}

/// Whether the request carries `Authorization: Bearer <token>`.
fn authenticated(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get_all("authorization")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.strip_prefix("Bearer "))
        .any(|t| t.trim() == token)
}

/// Whether `accept` allows a JSON answer (no Accept header does).
fn accepts_json(accept: &str) -> bool {
    accept.trim().is_empty()
        || accept.split(',').any(|p| {
            let base = p.split(';').next().unwrap_or_default().trim();
            matches!(base, "application/json" | "*/*" | "application/*")
        })
}

fn aggregated_version(accept: &str) -> Option<&'static str> {
    for part in accept.split(',') {
        let p = part.replace(' ', "");
        if p.contains("as=APIGroupDiscoveryList") && p.contains("g=apidiscovery.k8s.io") {
            if p.contains("v=v2beta1") {
                return Some("apidiscovery.k8s.io/v2beta1");
            }
            if p.contains("v=v2") {
                return Some("apidiscovery.k8s.io/v2");
            }
        }
    }
    None
}

/// A review is only ever created (POST), and answered without being stored.
async fn serve_review(shared: &Shared, req: Request, res: &ResourceInfo) -> Result<Response> {
    if req.method() != Method::POST {
        return Err(ApiError::method_not_allowed());
    }
    let content_type = header(req.headers(), "content-type");
    let body = object_body(&read_body(shared, req).await?, &content_type)?;
    Ok(json_response(
        StatusCode::CREATED,
        &reviews::answer(res, body)?,
    ))
}

/// How much of a body its handler did not read is read and dropped after the answer, so that
/// the connection can carry the client's next request (Go's net/http, kube-apiserver's server,
/// reads up to 256 KiB for the same reason; a larger rest closes the connection).
const DRAIN_LIMIT: usize = 256 * 1024;

/// The request's body, kept aside until a handler takes it ([`read_body`]); what no handler
/// took (an answer given before the body mattered: a 401, 404 or a refused `dryRun`) is
/// drained after the answer. Without this hyper closes the connection when the body has not
/// arrived yet, and a client that sent the next request on it sees the connection end with
/// no answer.
#[derive(Clone)]
struct UnreadBody(Arc<std::sync::Mutex<Option<Body>>>);

impl UnreadBody {
    fn new(body: Body) -> Self {
        Self(Arc::new(std::sync::Mutex::new(Some(body))))
    }

    /// The body, if no one has taken it yet.
    fn take(&self) -> Option<Body> {
        self.0.lock().ok()?.take()
    }

    /// Reads and drops what no handler took, up to [`DRAIN_LIMIT`].
    async fn drain(&self) {
        if let Some(body) = self.take() {
            let _ = axum::body::to_bytes(body, DRAIN_LIMIT).await;
        }
    }
}

async fn read_body(shared: &Shared, req: Request) -> Result<Vec<u8>> {
    let limit = shared.config.body_limit;
    let declared: Option<usize> = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::too_large(limit));
    }
    let body = match req
        .extensions()
        .get::<UnreadBody>()
        .and_then(UnreadBody::take)
    {
        Some(body) => body,
        None => req.into_body(),
    };
    axum::body::to_bytes(body, limit)
        .await
        .map(|b| b.to_vec())
        .map_err(|_| ApiError::too_large(limit))
}

fn decode(bytes: &[u8], content_type: &str, yaml_ok: bool) -> Result<Value> {
    let base = content_type.split(';').next().unwrap_or_default().trim();
    let is_yaml = base.ends_with("yaml");
    if is_yaml && !yaml_ok {
        return Err(ApiError::unsupported_media_type(content_type));
    }
    if bytes.is_empty() {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    let mut value = decode_text(bytes, is_yaml)?;
    whole_floats_as_integers(&mut value);
    Ok(value)
}

/// How deeply a JSON body may nest. Kubernetes' JSON decoder allows 10,000 levels; the
/// sandbox, whose handling of values recurses, stops at this many, which is still far past the
/// 128 levels that serde_json-based clients (kube-rs among them) decode by default, so a client
/// can be tested against objects it cannot read.
pub(crate) const MAX_BODY_NESTING: usize = 512;

/// How deeply the JSON text `bytes` nests mappings and lists, counted without parsing (and so
/// without recursion); text inside strings is skipped.
fn json_nesting(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &byte in bytes {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Parses JSON nested up to [`MAX_BODY_NESTING`] levels (serde_json alone stops at 128).
fn parse_json(bytes: &[u8]) -> std::result::Result<Value, String> {
    let nesting = json_nesting(bytes);
    if nesting > MAX_BODY_NESTING {
        return Err(format!(
            "it nests {nesting} levels deep; the sandbox accepts at most {MAX_BODY_NESTING} (Kubernetes 10,000)"
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    deserializer.disable_recursion_limit();
    let value = Value::deserialize(&mut deserializer).map_err(|e| e.to_string())?;
    deserializer.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// Parses a JSON body, or a YAML one where YAML is acceptable.
fn decode_text(bytes: &[u8], is_yaml: bool) -> Result<Value> {
    match parse_json(bytes) {
        Ok(v) => Ok(v),
        Err(e) if !is_yaml => Err(ApiError::bad_request(format!(
            "the request body is not valid JSON: {e}"
        ))),
        Err(_) => {
            let y: serde_yaml::Value = serde_yaml::from_slice(bytes).map_err(|e| {
                ApiError::bad_request(format!("the request body is not valid YAML: {e}"))
            })?;
            serde_json::to_value(y).map_err(|e| {
                ApiError::bad_request(format!("the request body is not valid YAML: {e}"))
            })
        }
    }
}

/// Whole floats become integers (`1.0` → `1`), as the real API server's Go decoding and encoding
/// turn them: without this, `1.0` from one client and `1` from another would differ, and a
/// server-side apply of identical values would conflict.
fn whole_floats_as_integers(value: &mut Value) {
    match value {
        Value::Number(_) => *value = k8s_rules::whole_number(value),
        Value::Array(items) => items.iter_mut().for_each(whole_floats_as_integers),
        Value::Object(map) => map.values_mut().for_each(whole_floats_as_integers),
        _ => {}
    }
}

fn object_body(bytes: &[u8], content_type: &str) -> Result<Value> {
    let base = content_type.split(';').next().unwrap_or_default().trim();
    if base == "application/vnd.kubernetes.protobuf" {
        return protobuf::decode(bytes).map_err(|e| match e {
            protobuf::Error::KindUnsupported(_) => {
                ApiError::new(415, "UnsupportedMediaType", e.to_string())
            }
            other => ApiError::bad_request(other.to_string()),
        });
    }
    if !matches!(
        base,
        "" | "application/json" | "application/yaml" | "*/*" | "text/plain"
    ) {
        return Err(ApiError::unsupported_media_type(content_type));
    }
    let v = decode(bytes, content_type, true)?;
    if !v.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    Ok(v)
}

fn manager(query: &HashMap<String, String>, headers: &HeaderMap) -> String {
    query.get("fieldManager").cloned().unwrap_or_else(|| {
        let ua = header(headers, "user-agent");
        let m = ua.split('/').next().unwrap_or_default().to_string();
        if m.is_empty() { "unknown".into() } else { m }
    })
}

fn selectors(query: &HashMap<String, String>) -> Result<(LabelSelector, FieldSelector)> {
    let labels = LabelSelector::parse(
        query
            .get("labelSelector")
            .map(String::as_str)
            .unwrap_or_default(),
    )
    .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let fields = FieldSelector::parse(
        query
            .get("fieldSelector")
            .map(String::as_str)
            .unwrap_or_default(),
    )
    .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok((labels, fields))
}

async fn serve_resource(
    shared: &Arc<Shared>,
    req: Request,
    r: ResourceRoute,
    verb: &str,
    query: &HashMap<String, String>,
    accept: &str,
) -> Result<Response> {
    let ns = r.namespace.clone().unwrap_or_default();
    let opts = WriteOptions {
        manager: manager(query, req.headers()),
        dry_run: query.get("dryRun").is_some_and(|d| d == "All"),
        force: query.get("force").is_some_and(|f| go_bool(f)),
        now: k8s_rules::now(),
        validation: FieldValidation::parse(query.get("fieldValidation").map(String::as_str)),
        warnings: Default::default(),
    };
    let resp = serve_verb(shared, req, &r, verb, query, accept, &ns, &opts).await;
    let warnings = std::mem::take(&mut *opts.warnings.lock().unwrap_or_else(|e| e.into_inner()));
    resp.map(|mut resp| {
        for w in warnings {
            // RFC 7234 warn-code 299 ("Miscellaneous persistent warning"), as the API server
            // sends them (https://kubernetes.io/blog/2020/09/03/warnings/).
            let text = format!("299 - {}", Value::String(w));
            if let Ok(v) = axum::http::HeaderValue::from_str(&text) {
                resp.headers_mut().append("warning", v);
            }
        }
        resp
    })
}

#[allow(clippy::too_many_arguments)]
async fn serve_verb(
    shared: &Arc<Shared>,
    req: Request,
    r: &ResourceRoute,
    verb: &str,
    query: &HashMap<String, String>,
    accept: &str,
    ns: &str,
    opts: &WriteOptions,
) -> Result<Response> {
    let ns = ns.to_string();
    let content_type = header(req.headers(), "content-type");
    let now = opts.now.clone();
    let wants_table = accept.contains("as=Table");
    let wants_meta = accept.contains("as=PartialObjectMetadata");
    if r.sub == Sub::Finalize && verb != "update" {
        return Err(ApiError::method_not_allowed());
    }
    match verb {
        "get" => {
            let store = shared.lock();
            let name = r.name.as_deref().unwrap_or_default();
            let obj = match r.sub {
                Sub::Scale => Served::Owned(verbs::get_scale(&store, &r.res, &ns, name)?),
                _ => verbs::get(&store, &r.res, &ns, name)?,
            };
            if wants_table && r.sub == Sub::Main {
                return Ok(json_response(
                    StatusCode::OK,
                    &table::table(&r.res, &[obj.into_owned()], store.rv()),
                ));
            }
            if wants_meta && r.sub == Sub::Main {
                return Ok(json_response(
                    StatusCode::OK,
                    &table::partial_metadata(&obj),
                ));
            }
            Ok(json_response(StatusCode::OK, &obj))
        }
        "list" => {
            let (labels, fields) = selectors(query)?;
            let q = ListQuery {
                labels,
                fields,
                limit: query.get("limit").and_then(|l| l.parse().ok()),
                continue_token: query.get("continue").filter(|c| !c.is_empty()).cloned(),
                resource_version: query.get("resourceVersion").cloned(),
                resource_version_match: query.get("resourceVersionMatch").cloned(),
            };
            let mut store = shared.lock();
            verbs::check_field_selector(&store, &r.res, &q.fields)?;
            store.expire_old();
            let list = verbs::list(&store, &r.res, r.namespace.as_deref(), &q)?;
            if wants_table {
                let items = list["items"].as_array().cloned().unwrap_or_default();
                let mut t = table::table(&r.res, &items, store.rv());
                t["metadata"] = list["metadata"].clone();
                return Ok(json_response(StatusCode::OK, &t));
            }
            if wants_meta {
                let items: Vec<Value> = list["items"]
                    .as_array()
                    .map(|a| a.iter().map(table::partial_metadata).collect())
                    .unwrap_or_default();
                let meta_list = json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": list["metadata"], "items": items});
                return Ok(json_response(StatusCode::OK, &meta_list));
            }
            Ok(json_response(StatusCode::OK, &list))
        }
        "watch" => {
            let (labels, mut fields) = selectors(query)?;
            if let Some(name) = &r.name {
                fields = FieldSelector::parse(&format!("metadata.name={name}"))
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
            }
            let params = WatchParams {
                resource_version: query.get("resourceVersion").cloned().unwrap_or_default(),
                send_initial_events: query.get("sendInitialEvents").is_some_and(|v| go_bool(v)),
                bookmarks: query.get("allowWatchBookmarks").is_some_and(|v| go_bool(v)),
                timeout: query
                    .get("timeoutSeconds")
                    .and_then(|t| t.parse().ok())
                    .map(Duration::from_secs),
                namespace: r.namespace.clone(),
                labels,
                fields,
                metadata_only: wants_meta,
                table: wants_table,
            };
            verbs::check_field_selector(&shared.lock(), &r.res, &params.fields)?;
            let body = watch::start(shared.clone(), r.res.clone(), params)?;
            Ok(Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "application/json")
                .header("transfer-encoding", "chunked")
                .body(body)
                .unwrap_or_else(|_| Response::new(Body::empty())))
        }
        "create" => {
            let body = object_body(&read_body(shared, req).await?, &content_type)?;
            let mut store = shared.lock();
            let obj = writes::create(&mut store, &r.res, &ns, body, opts)?;
            Ok(json_response(StatusCode::CREATED, &obj))
        }
        "update" => {
            let body = object_body(&read_body(shared, req).await?, &content_type)?;
            let mut store = shared.lock();
            let obj = writes::update(
                &mut store,
                &r.res,
                &ns,
                r.name.as_deref().unwrap_or_default(),
                body,
                r.sub,
                opts,
            )?;
            Ok(json_response(StatusCode::OK, &obj))
        }
        "patch" => {
            let base = content_type
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
            let kind = match base.as_str() {
                "application/merge-patch+json" => PatchType::Merge,
                "application/json-patch+json" => PatchType::Json,
                "application/strategic-merge-patch+json" => PatchType::Strategic,
                "application/apply-patch+yaml" => PatchType::Apply,
                _ => return Err(ApiError::unsupported_media_type(&content_type)),
            };
            let bytes = read_body(shared, req).await?;
            let body = decode(&bytes, &content_type, kind == PatchType::Apply)?;
            let name = r.name.as_deref().unwrap_or_default();
            let mut store = shared.lock();
            let existed = store
                .get(
                    &r.res.storage,
                    &(
                        if r.res.namespaced {
                            ns.clone()
                        } else {
                            String::new()
                        },
                        name.to_string(),
                    ),
                )
                .is_some();
            let obj = writes::patch(&mut store, &r.res, &ns, name, kind, &body, r.sub, opts)?;
            Ok(json_response(
                if existed {
                    StatusCode::OK
                } else {
                    StatusCode::CREATED
                },
                &obj,
            ))
        }
        "delete" | "deletecollection" => {
            let bytes = read_body(shared, req).await?;
            let body: Value = if bytes.is_empty() {
                json!({})
            } else {
                object_body(&bytes, &content_type)?
            };
            let body_dry_run: Vec<String> = body["dryRun"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|d| d.as_str().unwrap_or_default().to_string())
                        .collect()
                })
                .unwrap_or_default();
            dry_run_values_ok("DeleteOptions", &body_dry_run)?;
            let dopts = DeleteOptions {
                propagation: body["propagationPolicy"]
                    .as_str()
                    .map(String::from)
                    .or_else(|| query.get("propagationPolicy").cloned()),
                uid: body["preconditions"]["uid"].as_str().map(String::from),
                resource_version: body["preconditions"]["resourceVersion"]
                    .as_str()
                    .map(String::from),
                dry_run: opts.dry_run
                    || body["dryRun"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|d| d == "All")),
                now,
            };
            let mut store = shared.lock();
            if verb == "delete" {
                let obj = writes::delete(
                    &mut store,
                    &r.res,
                    &ns,
                    r.name.as_deref().unwrap_or_default(),
                    &dopts,
                )?;
                return Ok(json_response(StatusCode::OK, &obj));
            }
            let (labels, fields) = selectors(query)?;
            let list = verbs::list(
                &store,
                &r.res,
                r.namespace.as_deref(),
                &ListQuery {
                    labels,
                    fields,
                    ..Default::default()
                },
            )?;
            let mut deleted = Vec::new();
            for item in list["items"].as_array().cloned().unwrap_or_default() {
                let m = &item["metadata"];
                let (ins, name) = (
                    m["namespace"].as_str().unwrap_or_default(),
                    m["name"].as_str().unwrap_or_default(),
                );
                if let Ok(o) = writes::delete(&mut store, &r.res, ins, name, &dopts) {
                    deleted.push(o);
                }
            }
            let mut out = list;
            out["items"] = Value::Array(deleted);
            Ok(json_response(StatusCode::OK, &out))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_BODY_NESTING, json_nesting, parse_json};

    #[test]
    fn nesting_is_counted_outside_strings() {
        assert_eq!(json_nesting(br#"{"a":[1,{"b":"{[\"{"}]}"#), 3);
        assert_eq!(json_nesting(b"1"), 0);
        let deep = format!(
            "{}{}",
            "[".repeat(MAX_BODY_NESTING),
            "]".repeat(MAX_BODY_NESTING)
        );
        assert!(parse_json(deep.as_bytes()).is_ok());
        let deeper = format!("[{deep}]");
        let error = parse_json(deeper.as_bytes()).unwrap_err();
        assert!(error.contains("nests 513 levels deep"), "{error}");
    }
}

//! HTTP: restJson1 over axum, SigV4 region, faults, quotas, call log, control endpoints.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::clock::VirtualClock;
use super::error::ApiError;
use super::model::{State, StateFile, Timings};
use super::ops::{self, Ctx, Req, Route};
use super::quota::Quotas;

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    #[serde(default)]
    pub operation: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub error_rate: Option<f64>,
    #[serde(default)]
    pub error_type: Option<String>,
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// Delay the answer by this much *after* the operation took effect (a write Connect took
    /// whose answer has not arrived yet: the window in which a client may crash).
    #[serde(default)]
    pub latency_after_ms: Option<u64>,
    #[serde(default)]
    pub region_down: bool,
    /// Stop after this many injected errors.
    #[serde(default)]
    pub count: Option<u64>,
}

impl Fault {
    fn matches(&self, op: &str, region: Option<&str>) -> bool {
        self.operation.as_deref().is_none_or(|o| o == op)
            && self.region.as_deref().is_none_or(|r| Some(r) == region)
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Call {
    pub time: f64,
    pub region: Option<String>,
    pub operation: String,
    pub status: u16,
    pub error_type: Option<String>,
    /// The access key id of the request's SigV4 credential (null when unsigned): which client
    /// made the call.
    pub access_key_id: Option<String>,
    pub method: String,
    pub path: String,
    /// The error was injected by a fault (or the request had no SigV4 signature).
    pub injected: bool,
}

pub struct Inner {
    pub state: State,
    pub clock: VirtualClock,
    pub quotas: Quotas,
    pub faults: Vec<Fault>,
    pub calls: Vec<Call>,
}

pub struct Shared {
    pub inner: Mutex<Inner>,
    pub file: StateFile,
    pub extra_pairs: Vec<(String, String)>,
    pub timings: Timings,
    pub max_users: usize,
    pub max_calls: usize,
    pub recorder: Option<Mutex<std::fs::File>>,
}

pub type App = Arc<Shared>;

impl Shared {
    pub fn reset(&self) -> anyhow::Result<()> {
        let mut g = self.inner.lock();
        let now = g.clock.now();
        g.state = State::build(&self.file, &self.extra_pairs, now, &self.timings)?;
        g.quotas.reset();
        g.faults.clear();
        g.calls.clear();
        Ok(())
    }
}

pub fn router(app: App) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(app)
}

fn json_response(status: u16, body: &Value, error_type: Option<&str>) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut r = Response::new(Body::from(bytes));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        h.insert("x-amzn-RequestId", v);
    }
    if let Some(t) = error_type
        && let Ok(v) = HeaderValue::from_str(t)
    {
        h.insert("X-Amzn-ErrorType", v);
    }
    r
}

fn error_response(e: &ApiError) -> Response {
    json_response(e.status, &e.body(), Some(e.error_type))
}

/// Access key id from `Authorization: AWS4-HMAC-SHA256 Credential=AKID/date/REGION/...`.
pub fn sigv4_access_key_id(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let rest = auth.strip_prefix("AWS4-HMAC-SHA256")?;
    let cred = rest.split("Credential=").nth(1)?;
    let akid = cred.split([',', ' ', '/']).next()?;
    (!akid.is_empty()).then(|| akid.to_string())
}

/// Region from `Authorization: AWS4-HMAC-SHA256 Credential=AKID/date/REGION/service/aws4_request`.
pub fn sigv4_region(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let rest = auth.strip_prefix("AWS4-HMAC-SHA256")?;
    let cred = rest.split("Credential=").nth(1)?;
    let cred = cred.split([',', ' ']).next()?;
    let mut parts = cred.split('/');
    let _akid = parts.next()?;
    let _date = parts.next()?;
    let region = parts.next()?;
    if region.is_empty() || !super::validate::REGION.is_match(region) {
        return None;
    }
    Some(region.to_string())
}

fn parse_query(q: Option<&str>) -> HashMap<String, String> {
    parse_query_all(q).into_iter().collect()
}

fn parse_query_all(q: Option<&str>) -> Vec<(String, String)> {
    let mut m = Vec::new();
    if let Some(q) = q {
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            m.push((dec(k), dec(v)));
        }
    }
    m
}

async fn handle(AxState(app): AxState<App>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, 16 * 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => {
            return error_response(&ApiError::new(
                "InvalidRequestException",
                "request body too large or unreadable",
            ));
        }
    };
    let path = parts.uri.path().to_string();
    let mut response = if let Some(rest) = path.strip_prefix("/_emulator/") {
        control(&app, &parts.method, rest, parts.uri.query(), &bytes)
    } else {
        api(
            &app,
            &parts.method,
            &path,
            parts.uri.query(),
            &parts.headers,
            &bytes,
        )
        .await
    };
    // The `Date` header tells the virtual time, as AWS's tells its own: what a client that
    // takes Connect's clock (a drill's schedule) sees move when a test moves the clock.
    let now = app.inner.lock().clock.now();
    let date = jiff::Timestamp::from_millisecond((now * 1000.0) as i64)
        .map(|t| t.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .ok()
        .and_then(|d| axum::http::HeaderValue::from_str(&d).ok());
    if let Some(d) = date {
        response.headers_mut().insert(axum::http::header::DATE, d);
    }
    response
}

async fn api(
    app: &App,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    bytes: &Bytes,
) -> Response {
    let akid = sigv4_access_key_id(headers);
    let (op, labels) = match ops::route(method.as_str(), path) {
        Route::Op(op, labels) => (op, labels),
        Route::WrongMethod => {
            let e = ApiError::new(
                "UnknownOperationException",
                format!("{method} is not supported on {path}"),
            );
            let mut e = e;
            e.status = 405;
            return finish(
                app,
                akid.as_deref(),
                "Unknown",
                None,
                method,
                path,
                Err(e),
                true,
            );
        }
        Route::Unknown => {
            let e = ApiError::new(
                "UnknownOperationException",
                format!("No operation matches {method} {path}"),
            );
            return finish(
                app,
                akid.as_deref(),
                "Unknown",
                None,
                method,
                path,
                Err(e),
                true,
            );
        }
    };
    let Some(region) = sigv4_region(headers) else {
        let e = ApiError::new(
            "AccessDeniedException",
            "Missing or malformed SigV4 Authorization header: sign the request (any access key works); the region of the credential scope selects the Connect region",
        );
        return finish(app, akid.as_deref(), op, None, method, path, Err(e), true);
    };
    // Faults: latency first (outside the lock), then outages and injected errors.
    let (latency, injected, latency_after) = {
        let mut g = app.inner.lock();
        let mut latency = 0u64;
        let mut latency_after = 0u64;
        let mut injected: Option<ApiError> = None;
        for f in g.faults.iter_mut() {
            if !f.matches(op, Some(&region)) {
                continue;
            }
            latency += f.latency_ms.unwrap_or(0);
            latency_after += f.latency_after_ms.unwrap_or(0);
            if injected.is_some() {
                continue;
            }
            if f.region_down {
                injected = Some(ApiError::new(
                    "ServiceUnavailableException",
                    format!("Region {region} is unavailable (emulated outage)"),
                ));
                continue;
            }
            let rate = f
                .error_rate
                .unwrap_or(if f.error_type.is_some() { 1.0 } else { 0.0 });
            if f.count == Some(0) || rate <= 0.0 {
                continue;
            }
            if rate >= 1.0 || rand::random::<f64>() < rate {
                let t = f
                    .error_type
                    .clone()
                    .unwrap_or_else(|| "InternalServiceException".into());
                let t = intern(&t);
                injected = Some(ApiError::new(
                    t,
                    format!("Injected fault: {t} for {op} in {region}"),
                ));
                if let Some(c) = f.count.as_mut() {
                    *c -= 1;
                }
            }
        }
        (latency, injected, latency_after)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if let Some(e) = injected {
        return finish(
            app,
            akid.as_deref(),
            op,
            Some(&region),
            method,
            path,
            Err(e),
            true,
        );
    }
    let parsed: Result<Value, ApiError> = if bytes.is_empty() {
        Ok(json!({}))
    } else {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(_) => Err(ApiError::new(
                ops::param_error_type(op),
                "The request body must be a JSON object",
            )),
            Err(e) => Err(ApiError::new(
                ops::param_error_type(op),
                format!("The request body is not valid JSON: {e}"),
            )),
        }
    };
    let result = {
        let mut g = app.inner.lock();
        let now = g.clock.now();
        let account = g.state.account().to_string();
        match g.quotas.check(&account, &region, op, now_real()) {
            Err(_) => Err(ApiError::new(
                "ThrottlingException",
                format!(
                    "Rate exceeded for {op} in {region} (quota {:.0} requests/s)",
                    g.quotas.limit(op).rate
                ),
            )),
            Ok(()) => match parsed {
                Err(e) => Err(e),
                Ok(body) => {
                    let req = Req {
                        labels,
                        query: parse_query(query),
                        query_all: parse_query_all(query),
                        body,
                    };
                    let ctx = Ctx {
                        op,
                        region: &region,
                        now,
                        t: &app.timings,
                        max_users: app.max_users,
                    };
                    ops::execute(&mut g.state, &ctx, &req)
                }
            },
        }
    };
    if latency_after > 0 {
        tokio::time::sleep(Duration::from_millis(latency_after)).await;
    }
    finish(
        app,
        akid.as_deref(),
        op,
        Some(&region),
        method,
        path,
        result,
        false,
    )
}

/// Error type names are a small closed set in practice; keep one leaked copy of each.
fn intern(t: &str) -> &'static str {
    static SEEN: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut s = SEEN.lock();
    if let Some(x) = s.iter().find(|x| **x == t) {
        return x;
    }
    let leaked: &'static str = Box::leak(t.to_string().into_boxed_str());
    s.push(leaked);
    leaked
}

fn now_real() -> f64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
}

#[allow(clippy::too_many_arguments)]
fn finish(
    app: &App,
    akid: Option<&str>,
    op: &str,
    region: Option<&str>,
    method: &Method,
    path: &str,
    result: Result<Value, ApiError>,
    injected: bool,
) -> Response {
    let (status, body, et) = match &result {
        Ok(v) => (200u16, v.clone(), None),
        Err(e) => (e.status, e.body(), Some(e.error_type)),
    };
    {
        let mut g = app.inner.lock();
        let time = g.clock.now();
        if g.calls.len() >= app.max_calls {
            let n = (app.max_calls / 10 + 1).min(g.calls.len());
            g.calls.drain(..n);
        }
        g.calls.push(Call {
            time,
            region: region.map(str::to_string),
            operation: op.to_string(),
            status,
            error_type: et.map(str::to_string),
            access_key_id: akid.map(str::to_string),
            method: method.to_string(),
            path: path.to_string(),
            injected,
        });
    }
    if let Some(rec) = &app.recorder {
        let line = json!({"operation": op, "status": status, "errorType": et, "injected": injected, "body": body});
        let mut f = rec.lock();
        let _ = writeln!(f, "{line}");
    }
    json_response(status, &body, et)
}

fn control(app: &App, method: &Method, rest: &str, query: Option<&str>, bytes: &Bytes) -> Response {
    let body: Value = if bytes.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => {
                return json_response(400, &json!({"error": format!("invalid JSON: {e}")}), None);
            }
        }
    };
    let ok = |v: Value| json_response(200, &v, None);
    let bad = |m: String| json_response(400, &json!({"error": m}), None);
    match (method.as_str(), rest.trim_end_matches('/')) {
        ("GET", "state") => {
            let g = app.inner.lock();
            let now = g.clock.now();
            ok(g.state.dump(now, &app.timings))
        }
        ("GET", "calls") => {
            let q = parse_query(query);
            let g = app.inner.lock();
            let since = q
                .get("since")
                .and_then(|s| s.parse::<usize>().ok())
                .unwrap_or(0);
            let calls: Vec<&Call> = g.calls.iter().skip(since).collect();
            ok(json!(calls))
        }
        ("DELETE", "calls") => {
            app.inner.lock().calls.clear();
            ok(json!({}))
        }
        ("GET", "faults") => ok(json!(app.inner.lock().faults)),
        ("POST", "faults") => match serde_json::from_value::<Fault>(body) {
            Ok(f) => {
                if f.error_rate.is_some_and(|r| !(0.0..=1.0).contains(&r)) {
                    return bad("errorRate must be between 0 and 1".into());
                }
                let mut g = app.inner.lock();
                g.faults.push(f);
                ok(json!({"faults": g.faults}))
            }
            Err(e) => bad(format!("invalid fault: {e}")),
        },
        ("DELETE", "faults") => {
            app.inner.lock().faults.clear();
            ok(json!({"faults": []}))
        }
        ("GET", "clock") | ("POST", "clock") => {
            let mut g = app.inner.lock();
            if let Some(s) = body.get("advanceSeconds") {
                match s.as_f64() {
                    Some(s) if s >= 0.0 => g.clock.advance(s),
                    _ => return bad("advanceSeconds must be a non-negative number".into()),
                }
            }
            if let Some(s) = body.get("speed") {
                match s.as_f64() {
                    Some(s) if s >= 0.0 => g.clock.set_speed(s),
                    _ => return bad("speed must be a non-negative number".into()),
                }
            }
            ok(json!({"now": g.clock.now(), "speed": g.clock.speed()}))
        }
        ("POST", "reset") => match app.reset() {
            Ok(()) => ok(json!({"reset": true})),
            Err(e) => json_response(500, &json!({"error": e.to_string()}), None),
        },
        ("POST", "users") => {
            let mut g = app.inner.lock();
            let now = g.clock.now();
            match ops::control_create_user(&mut g.state, now, &app.timings, &body) {
                Ok(v) => ok(v),
                Err(m) => bad(m),
            }
        }
        ("GET", "presence") => ok(json!(app.inner.lock().state.presence)),
        ("POST", "presence") => {
            match serde_json::from_value::<crate::emulator::presence::PresenceUpdate>(body) {
                Ok(u) => match app.inner.lock().state.presence.update(&u) {
                    Ok(p) => ok(json!({"region": u.region, "presence": p})),
                    Err(m) => bad(m),
                },
                Err(e) => bad(format!("invalid presence: {e}")),
            }
        }
        ("POST", "replication-findings") => {
            let mut g = app.inner.lock();
            match ops::control_set_findings(&mut g.state, &body) {
                Ok(v) => ok(v),
                Err(m) => bad(m),
            }
        }
        ("GET", "quotas") | ("POST", "quotas") => {
            let mut g = app.inner.lock();
            if let Some(e) = body.get("enabled").and_then(|v| v.as_bool()) {
                g.quotas.enabled = e;
            }
            if let Some(s) = body.get("scale").and_then(|v| v.as_f64())
                && s > 0.0
            {
                g.quotas.scale = s;
                g.quotas.reset();
            }
            ok(json!({"enabled": g.quotas.enabled, "scale": g.quotas.scale}))
        }
        _ => json_response(
            404,
            &json!({"error": format!("no control endpoint {method} /_emulator/{rest}")}),
            None,
        ),
    }
}

//! A fault-injecting HTTP proxy between the plugin and the real MLflow server, for what a healthy
//! server cannot be made to do on demand: answer 429/503 with Retry-After, hold a response past the
//! client's timeout after the server has accepted the request, cut connections, refuse one bad
//! trace with 400, or refuse credentials. Every other request goes to the real server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer this status (with `Retry-After` seconds if given) without forwarding.
    Status { code: u16, retry_after: Option<u64> },
    /// Forward, then hold the server's answer this long before relaying it.
    DelayResponse(Duration),
    /// Read the request, then close the connection without an answer.
    Cut,
    /// Answer 400 (as MLflow does for a bad trace) when the body contains this text; else forward.
    RejectBodyContaining(String),
    /// Answer this status with a hostile text body, as a misbehaving proxy might: it echoes the
    /// request's `Authorization` header and holds a newline, a forged log line and an ANSI escape.
    HostileAnswer(u16),
}

/// The log line `Fault::HostileAnswer` tries to forge.
pub const FORGED_LINE: &str = "[mlflow] FORGED: all traces delivered";

#[derive(Clone, Debug)]
pub struct Rule {
    /// Requests whose path starts with this.
    pub path_prefix: String,
    pub fault: Fault,
    /// How many matching requests get the fault (`None`: all).
    pub times: Option<usize>,
}

/// One request the proxy saw, and what it did.
#[derive(Clone, Debug)]
pub struct Seen {
    pub at: Instant,
    pub path: String,
    pub fault: Option<Fault>,
    pub headers: Vec<(String, String)>,
    /// Requests to this path awaiting their answer when this one came, itself included.
    pub out_at_once: usize,
}

struct State {
    rules: Vec<Rule>,
    seen: Vec<Seen>,
    /// Per path: requests awaiting their answer now.
    in_flight: std::collections::HashMap<String, usize>,
}

pub struct FaultProxy {
    pub url: String,
    state: Arc<Mutex<State>>,
}

pub(crate) struct Request {
    head: String,
    pub(crate) path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

pub(crate) fn read_request(reader: &mut impl BufRead) -> Option<Request> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).ok()? == 0 {
        return None;
    }
    let path = request_line.split_whitespace().nth(1)?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (k, v) = trimmed.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request { head: request_line, path, headers, body })
}

/// Sends the request to the real server on a fresh connection and returns its whole answer.
pub(crate) fn forward(upstream: &str, request: &Request) -> std::io::Result<Vec<u8>> {
    let mut server = TcpStream::connect(upstream)?;
    let mut out = Vec::new();
    out.extend_from_slice(request.head.as_bytes());
    for (k, v) in &request.headers {
        if k.eq_ignore_ascii_case("connection") || k.eq_ignore_ascii_case("host") {
            continue;
        }
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("Host: {upstream}\r\nConnection: close\r\n\r\n").as_bytes());
    out.extend_from_slice(&request.body);
    server.write_all(&out)?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer)?;
    Ok(answer)
}

fn status_answer(code: u16, retry_after: Option<u64>, body: &str) -> Vec<u8> {
    let retry = retry_after.map(|s| format!("Retry-After: {s}\r\n")).unwrap_or_default();
    format!("HTTP/1.1 {code} Fault\r\nContent-Type: application/json\r\n{retry}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
        .into_bytes()
}

impl FaultProxy {
    /// A proxy to `upstream` (`http://host:port`).
    pub fn start(upstream: &str) -> FaultProxy {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State { rules: Vec::new(), seen: Vec::new(), in_flight: Default::default() }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (state, upstream) = (shared.clone(), upstream.clone());
                std::thread::spawn(move || {
                    let mut writer = client.try_clone().unwrap();
                    let mut reader = BufReader::new(client);
                    // One request per connection: the answer says Connection: close.
                    let Some(request) = read_request(&mut reader) else { return };
                    let fault = {
                        let mut s = state.lock().unwrap();
                        let rule = s.rules.iter_mut().find(|r| {
                            request.path.starts_with(&r.path_prefix)
                                && r.times != Some(0)
                                && match &r.fault {
                                    Fault::RejectBodyContaining(marker) => {
                                        request.body.windows(marker.len()).any(|w| w == marker.as_bytes())
                                    }
                                    _ => true,
                                }
                        });
                        let fault = rule.map(|r| {
                            if let Some(n) = r.times.as_mut() {
                                *n -= 1;
                            }
                            r.fault.clone()
                        });
                        let out = s.in_flight.entry(request.path.clone()).or_default();
                        *out += 1;
                        let out_at_once = *out;
                        s.seen.push(Seen {
                            at: Instant::now(),
                            path: request.path.clone(),
                            fault: fault.clone(),
                            headers: request.headers.clone(),
                            out_at_once,
                        });
                        fault
                    };
                    let answer = match fault {
                        None => forward(&upstream, &request).ok(),
                        Some(Fault::Status { code, retry_after }) => {
                            Some(status_answer(code, retry_after, r#"{"error_code":"FAULT"}"#))
                        }
                        Some(Fault::RejectBodyContaining(_)) => Some(status_answer(
                            400,
                            None,
                            r#"{"error_code":"INVALID_PARAMETER_VALUE","message":"bad trace (injected)"}"#,
                        )),
                        Some(Fault::HostileAnswer(code)) => {
                            let auth = request
                                .headers
                                .iter()
                                .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                                .map_or("", |(_, v)| v.as_str());
                            let body = format!(
                                "proxy error\n{FORGED_LINE}\n\u{1b}[2J\u{1b}[31mred\nyou sent Authorization: {auth}"
                            );
                            Some(status_answer(code, None, &body))
                        }
                        Some(Fault::DelayResponse(d)) => {
                            let answer = forward(&upstream, &request).ok();
                            std::thread::sleep(d);
                            answer
                        }
                        Some(Fault::Cut) => None,
                    };
                    // Counted out until answered: before the answer goes, so that the request a
                    // client sends on reading it never finds this one still counted.
                    *state.lock().unwrap().in_flight.entry(request.path).or_default() -= 1;
                    if let Some(answer) = answer {
                        let _ = writer.write_all(&answer);
                    }
                });
            }
        });
        FaultProxy { url, state }
    }

    pub fn add(&self, rule: Rule) {
        self.state.lock().unwrap().rules.push(rule);
    }

    pub fn clear(&self) {
        self.state.lock().unwrap().rules.clear();
    }

    /// The requests to `path` awaiting their answer now.
    pub fn in_flight_now(&self, path: &str) -> usize {
        self.state.lock().unwrap().in_flight.get(path).copied().unwrap_or(0)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }
}

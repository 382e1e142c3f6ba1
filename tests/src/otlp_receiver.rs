//! A test OTLP/HTTP receiver: accepts requests on 127.0.0.1, keeps each one (path, headers, body)
//! and answers 200 (with a partial success when a test asks for one), so tests can decode what a
//! backend would get with the official OTLP protobuf definitions. Not a stand-in for MLflow (the MLflow tests use the real server): it stands for
//! "any OTLP backend", whose side of the protocol is just this.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    /// Lower-cased names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

pub struct OtlpReceiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    /// The body of the answer to each trace request (empty: a plain success).
    trace_answer: Arc<Mutex<Vec<u8>>>,
}

fn serve(stream: TcpStream, received: Arc<Mutex<Vec<Received>>>, trace_answer: Arc<Mutex<Vec<u8>>>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut headers = HashMap::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let length: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let close = headers.get("connection").is_some_and(|c| c.eq_ignore_ascii_case("close"));
        let answer = if path == "/v1/traces" { trace_answer.lock().unwrap().clone() } else { Vec::new() };
        received.lock().unwrap().push(Received { path, headers, body });
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\n\r\n",
            answer.len()
        );
        // A client that asked for the connection to close (a proxy reading to the end) gets it.
        if writer.write_all(&[head.as_bytes(), &answer].concat()).is_err() || close {
            return;
        }
    }
}

impl OtlpReceiver {
    pub fn start() -> OtlpReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let trace_answer = Arc::new(Mutex::new(Vec::new()));
        let (shared, answer) = (received.clone(), trace_answer.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (shared, answer) = (shared.clone(), answer.clone());
                std::thread::spawn(move || serve(stream, shared, answer));
            }
        });
        OtlpReceiver { url, received, trace_answer }
    }

    /// From now on, each trace request is accepted with a partial success: `rejected_spans` of it
    /// rejected, for `message`.
    pub fn answer_partial_success(&self, rejected_spans: i64, message: &str) {
        let partial = ExportTracePartialSuccess { rejected_spans, error_message: message.into() };
        *self.trace_answer.lock().unwrap() =
            ExportTraceServiceResponse { partial_success: Some(partial) }.encode_to_vec();
    }

    pub fn requests(&self, path: &str) -> Vec<Received> {
        self.received.lock().unwrap().iter().filter(|r| r.path == path).cloned().collect()
    }

    pub fn traces(&self) -> Vec<ExportTraceServiceRequest> {
        self.requests("/v1/traces")
            .iter()
            .map(|r| ExportTraceServiceRequest::decode(r.body.as_slice()).unwrap())
            .collect()
    }

    pub fn metrics(&self) -> Vec<ExportMetricsServiceRequest> {
        self.requests("/v1/metrics")
            .iter()
            .map(|r| ExportMetricsServiceRequest::decode(r.body.as_slice()).unwrap())
            .collect()
    }
}

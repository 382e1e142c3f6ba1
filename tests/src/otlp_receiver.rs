//! A test OTLP/HTTP receiver: accepts requests on 127.0.0.1, keeps each one (path, headers, body)
//! and answers 200, so tests can decode what a backend would get with the official OTLP protobuf
//! definitions. Not a stand-in for MLflow (the MLflow tests use the real server): it stands for
//! "any OTLP backend", whose side of the protocol is just this.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
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
}

fn serve(stream: TcpStream, received: Arc<Mutex<Vec<Received>>>) {
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
        received.lock().unwrap().push(Received { path, headers, body });
        let reply = "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
        // A client that asked for the connection to close (a proxy reading to the end) gets it.
        if writer.write_all(reply.as_bytes()).is_err() || close {
            return;
        }
    }
}

impl OtlpReceiver {
    pub fn start() -> OtlpReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let shared = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                std::thread::spawn(move || serve(stream, shared));
            }
        });
        OtlpReceiver { url, received }
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

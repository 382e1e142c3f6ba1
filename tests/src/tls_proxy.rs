//! A TLS front for the real MLflow server, with a certificate from a CA made for the test, so that
//! the plugin's TLS settings (system roots, `caBundle`, `insecureSkipVerify`) meet a real handshake.

use crate::fault_proxy::{forward, read_request};
use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

pub struct TlsProxy {
    /// `https://localhost:<port>`
    pub url: String,
    /// PEM of the CA that signed the proxy's certificate.
    pub ca_pem_file: PathBuf,
}

impl TlsProxy {
    pub fn start(upstream: &str) -> TlsProxy {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_string();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "openclaw-mlflow test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let ca = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&key, &ca).unwrap();

        let dir = crate::scratch_dir("tls");
        let ca_pem_file = dir.join("test-ca.pem");
        std::fs::write(&ca_pem_file, ca_cert.pem()).unwrap();

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://localhost:{}", listener.local_addr().unwrap().port());
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let (config, upstream) = (config.clone(), upstream.clone());
                std::thread::spawn(move || {
                    let Ok(conn) = rustls::ServerConnection::new(config) else { return };
                    let mut reader = BufReader::new(rustls::StreamOwned::new(conn, tcp));
                    // A failed handshake (an untrusting client) ends here.
                    let Some(request) = read_request(&mut reader) else { return };
                    if let Ok(answer) = forward(&upstream, &request) {
                        let stream = reader.get_mut();
                        let _ = stream.write_all(&answer);
                        let _ = stream.flush();
                        stream.conn.send_close_notify();
                        let _ = stream.flush();
                    }
                });
            }
        });
        TlsProxy { url, ca_pem_file }
    }
}

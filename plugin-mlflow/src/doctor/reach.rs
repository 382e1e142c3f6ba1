//! Can the server be reached: the name resolved, a TCP connection, TLS, an HTTP answer. Each step
//! fails with the fix for that step, so "connection refused" and "wrong scheme" read differently.

use openclaw_plugin_api::DoctorCheck;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Where a URL points.
pub struct Target {
    pub host: String,
    pub port: u16,
    pub https: bool,
}

pub fn target(url: &str) -> Result<Target, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    let https = uri.scheme_str().is_some_and(|s| s.eq_ignore_ascii_case("https"));
    let host = uri.host().ok_or_else(|| format!("{url:?} names no host"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    Ok(Target { port: uri.port_u16().unwrap_or(if https { 443 } else { 80 }), host, https })
}

/// The host's addresses (DNS, or a literal address).
pub fn resolve(name: &str, t: &Target) -> Result<(DoctorCheck, Vec<SocketAddr>), DoctorCheck> {
    match (t.host.as_str(), t.port).to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            let shown: Vec<String> = addrs.iter().take(3).map(|a| a.ip().to_string()).collect();
            Ok((DoctorCheck::pass(name, format!("{} resolves to {}", t.host, shown.join(", "))), addrs))
        }
        Err(e) => Err(DoctorCheck::fail(
            name,
            format!("{} does not resolve: {e}", t.host),
            "check the host name in the URL, and this machine's DNS (a name known only inside a cluster does not resolve outside it)",
        )),
    }
}

/// A TCP connection to one of `addrs`.
pub fn connect(t: &Target, addrs: &[SocketAddr], timeout: Duration) -> DoctorCheck {
    const NAME: &str = "TCP connection";
    let mut last = String::new();
    for addr in addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(_) => return DoctorCheck::pass(NAME, format!("{addr} accepts connections")),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    let fix = if last.contains("refused") {
        format!(
            "nothing listens on port {}: start MLflow (mlflow server --port {}) or correct the port in the URL",
            t.port, t.port
        )
    } else {
        "check that the server is up, and that no firewall or proxy drops the connection".to_string()
    };
    DoctorCheck::fail(NAME, last, fix)
}

/// Whether a transport error happened in TLS (a handshake, a certificate), as opposed to before
/// (DNS, TCP) or after (HTTP).
pub fn is_tls_error(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => true,
        ureq::Error::Io(io) => {
            let text = io.to_string().to_ascii_lowercase();
            ["tls", "certificate", "handshake", "corrupt message", "invalidcontenttype", "peer sent"]
                .iter()
                .any(|w| text.contains(w))
        }
        _ => false,
    }
}

/// The fix for a TLS failure: a plain-HTTP server behind an https:// URL reads as a corrupt
/// message, an unknown CA as a certificate error.
pub fn tls_fix(error: &str) -> &'static str {
    let e = error.to_ascii_lowercase();
    if e.contains("corrupt") || e.contains("invalidcontenttype") || e.contains("invalid content type") {
        "the server does not speak TLS on this port: if it serves plain HTTP, write the URL with http://"
    } else if e.contains("certificate") || e.contains("unknownissuer") || e.contains("unknown issuer") {
        "the server's certificate is not trusted: set caBundle to a PEM file with its CA (or SSL_CERT_FILE), or fix the certificate's name"
    } else {
        "check that the port serves HTTPS, and the server's certificate and TLS versions"
    }
}

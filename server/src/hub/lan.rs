//! The hub on its clinic's network (issue 11): the same API as the group server's, over
//! TLS with the hub's own certificate, the one pinned at its registration
//! (`vaidya_client::pinned_tls` on the PCs). Nothing is served in plaintext.
//!
//! Handshakes run on tasks of their own, each bounded in time, and only finished ones are
//! handed to the server, so a slow or silent client never holds up the others.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use vaidya_client::credentials::HubTls;

use super::HubError;

/// The longest a client may take over its TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// A TCP listener that hands out connections once their TLS handshake is done.
pub struct TlsListener {
    local: SocketAddr,
    certificate_sha256: String,
    accepted: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Serves `tls` (the hub's certificate and key) on `tcp`.
    pub fn new(tcp: TcpListener, tls: &HubTls) -> Result<TlsListener, HubError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let bad = |what: &str| HubError::Tls(format!("the kept {what} is not readable"));
        let certificate = CertificateDer::from(
            b64.decode(&tls.certificate)
                .map_err(|_| bad("certificate"))?,
        );
        let certificate_sha256 = vaidya_client::pinned_tls::certificate_sha256(&certificate);
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            b64.decode(&tls.private_key).map_err(|_| bad("key"))?,
        ));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| HubError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(vec![certificate], key)
        .map_err(|e| HubError::Tls(e.to_string()))?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let local = tcp.local_addr().map_err(|e| HubError::Tls(e.to_string()))?;
        let (handed, accepted) = mpsc::channel(64);
        let accepting = tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors, say: wait a moment rather than spin.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let handed = handed.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = handed.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "a TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "a TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener {
            local,
            certificate_sha256,
            accepted,
            accepting,
        })
    }

    /// The SHA-256 (hex) of the certificate served: what the clinic's PCs pin, and what
    /// their device sign-ins must name (`Settings::lan_certificate_sha256`).
    pub fn certificate_sha256(&self) -> &str {
        &self.certificate_sha256
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(connection) => connection,
            // The accepting task is gone only when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// The address this machine is reached at on the network that leads to `server` (the
/// group server's URL): the local end of a route to it, with `port`, as `https://ip:port`.
/// A UDP "connection" sends nothing; it only asks the system for the route, so this works
/// during an outage as long as the clinic's network is up.
pub fn lan_address(server: &str, port: u16) -> Option<String> {
    let uri: axum::http::Uri = server.parse().ok()?;
    let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
    let remote_port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    let remote = std::net::ToSocketAddrs::to_socket_addrs(&(host, remote_port))
        .ok()?
        .next()?;
    let bind: SocketAddr = if remote.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = std::net::UdpSocket::bind(bind).ok()?;
    socket.connect(remote).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    Some(match ip {
        std::net::IpAddr::V4(v4) => format!("https://{v4}:{port}"),
        std::net::IpAddr::V6(v6) => format!("https://[{v6}]:{port}"),
    })
}

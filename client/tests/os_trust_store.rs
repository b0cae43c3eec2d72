//! The client trusts the operating system's certificate store, not only a built-in list.
//!
//! Behind an HTTPS-inspecting antivirus or proxy, or with a clinic group's private CA, the
//! server's certificate chains to a root the PC's administrator installed in the OS store;
//! the browser trusts it, and so must sync. On Linux the OS store is read as OpenSSL reads
//! it, so `SSL_CERT_FILE` stands in for the administrator here: a server whose certificate
//! a private CA issued is reached once that CA is in the store, and one whose CA is not is
//! refused. (Windows' and macOS' stores are their own APIs; the same reqwest feature reads
//! them.)
//!
//! One test in its own binary: it sets the process's environment before any other thread
//! could read it.
#![cfg(target_os = "linux")]

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use vaidya_client::api::{ApiError, ServerApi};

/// A certificate authority, as a clinic group's IT or an antivirus makes one.
struct Authority {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Authority {
    fn new(name: &str) -> Authority {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        Authority { cert, key }
    }

    /// A server certificate for `localhost` issued by this authority, with its key.
    fn issue(&self) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        (
            cert.der().clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
    }
}

/// An HTTPS server on a free local port that answers every request with a Vaidya error
/// (401, wrong email or password); its port.
async fn serve(identity: (CertificateDer<'static>, PrivateKeyDer<'static>)) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![identity.0], identity.1)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake is the client's verdict, not this server's error.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = vec![0u8; 16 * 1024];
                let _ = tls.read(&mut request).await;
                let body = r#"{"code":"unauthenticated","message":"wrong email or password"}"#;
                let answer = format!(
                    "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

#[test]
fn a_private_ca_in_the_os_store_is_trusted_and_no_other() {
    let store = tempfile::tempdir().unwrap();
    let clinic_ca = Authority::new("Clinic group private CA");
    let stranger_ca = Authority::new("Some other CA");
    let bundle = store.path().join("ca-certificates.crt");
    std::fs::write(&bundle, clinic_ca.cert.pem()).unwrap();
    // The only thread of this binary that reads the environment is this one.
    std::env::set_var("SSL_CERT_FILE", &bundle);
    std::env::remove_var("SSL_CERT_DIR");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let trusted = serve(clinic_ca.issue()).await;
        let untrusted = serve(stranger_ca.issue()).await;

        let api = ServerApi::new(&format!("https://localhost:{trusted}"), "trust-test").unwrap();
        match api.login("reception@example.in", "wrong").await {
            Err(ApiError::Network(e)) => {
                panic!("a server issued by the CA in the OS store was not reached: {e}")
            }
            Ok(_) => panic!("the stand-in server signed nobody in"),
            // The server answered (its 401): TLS was trusted.
            Err(_) => {}
        }

        let api = ServerApi::new(&format!("https://localhost:{untrusted}"), "trust-test").unwrap();
        match api.login("reception@example.in", "wrong").await {
            Err(ApiError::Network(e)) => assert!(
                e.to_lowercase().contains("certificate"),
                "refused, but not for its certificate: {e}"
            ),
            other => panic!("a server whose CA is in no store was trusted: {other:?}"),
        }
    });
}

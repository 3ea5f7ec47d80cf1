//! Upstream TLS: the lab upstream behind an HTTPS front with a self-signed certificate. With
//! the certificate as `upstream.ca_file` the sync succeeds; without it the upstream is not
//! trusted and the sync fails in one line, before any metadata is taken.

use crate::support::{reason, run_outpost};
use outpost::lab::{Lab, LabOptions};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// Terminates TLS on 127.0.0.1 and forwards the bytes to `backend`. Returns the port and the
/// certificate (PEM).
async fn https_front(backend: String) -> (u16, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let pem = certified.cert.pem();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let backend = backend.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                if let Ok(mut plain) = TcpStream::connect(&backend).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                }
            });
        }
    });
    (port, pem)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_upstream_is_verified_against_ca_file() {
    let lab = Lab::new(LabOptions {
        updates: 5,
        ..LabOptions::default()
    })
    .start()
    .await
    .expect("lab");
    let backend = lab.url.trim_start_matches("http://").to_owned();
    let (port, pem) = https_front(backend).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("upstream-ca.pem");
    std::fs::write(&ca, pem).expect("write CA");

    let write_config = |name: &str, ca_line: &str| {
        let path = dir.path().join(name);
        let text = format!(
            "[upstream]\nurl = \"https://localhost:{port}\"\n# Content through the same TLS front (by default it would be http on port - 1).\ncontent_url = \"https://localhost:{port}\"\n{ca_line}timeout = \"10s\"\n\n[storage]\ndata_dir = \"{}\"\n\n[log]\nlevel = \"off\"\n",
            dir.path().join(name).with_extension("data").display()
        );
        std::fs::write(&path, text).expect("write config");
        path.to_string_lossy().into_owned()
    };

    let untrusted = write_config("untrusted.toml", "");
    let out = run_outpost(&["sync", "--config", &untrusted]).await;
    assert!(!out.status.success(), "an unknown CA must not be trusted");
    let line = reason(&out);
    assert!(line.contains("config"), "{line}");
    assert!(line.to_lowercase().contains("certificate"), "{line}");

    let trusted = write_config("trusted.toml", &format!("ca_file = \"{}\"\n", ca.display()));
    let out = run_outpost(&["sync", "--config", &trusted]).await;
    assert!(out.status.success(), "{}", reason(&out));
    let out = run_outpost(&["status", "--json", "--config", &trusted]).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["updates"], lab.lab.counts().updates);
}

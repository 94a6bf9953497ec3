//! The worker's upstream TLS trusts the roots `SSL_CERT_FILE` names (as well as
//! webpki's): a ChatGPT login goes through a CONNECT proxy to `chatgpt.com:443`,
//! which here is a local TLS mock whose CA only that file holds. Its own test
//! binary: the roots are read from the environment once per process.

mod support;

use std::sync::Arc;

use http::{Method, StatusCode};
use hyper_util::client::proxy::matcher::Matcher;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use support::*;
use switchyard_daemon::apps::App;
use tokio::sync::mpsc;

#[tokio::test]
async fn a_chatgpt_login_reaches_chatgpt_com_through_a_proxy_with_the_ca_of_ssl_cert_file()
-> TestResult {
    within(SCENARIO, async {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Switchyard test CA");
        let ca = ca_params.self_signed(&ca_key)?;
        let leaf_key = KeyPair::generate()?;
        let leaf = CertificateParams::new(vec!["chatgpt.com".to_owned()])?
            .signed_by(&leaf_key, &Issuer::new(ca_params, ca_key))?;
        let dir = tempfile::tempdir()?;
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.pem())?;
        // SAFETY: this binary's only test sets the variable before anything
        // else (the proxy below included) reads the environment.
        unsafe { std::env::set_var("SSL_CERT_FILE", &ca_file) };

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
            )?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let (seen_tx, mut seen) = mpsc::unbounded_channel();
        let (tunnel_tx, mut tunnels) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(stream) = tunnels.recv().await {
                let (acceptor, seen_tx) = (acceptor.clone(), seen_tx.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(stream).await {
                        serve_mock(tls, 200, "from the chatgpt mock", seen_tx).await;
                    }
                });
            }
        });
        let (logger, mut targets) = connect_logger(Some(tunnel_tx)).await?;

        let config = config(
            App::Codex,
            vec![official(App::Codex, App::Codex.official_base_url())],
        );
        let matcher = Matcher::builder().https(logger).build();
        let mut h = start_with(config, matcher, std::time::Duration::from_secs(5)).await?;
        let sent = [
            ("authorization", "Bearer not-a-jwt"),
            ("chatgpt-account-id", "acc-1"),
            ("openai-organization", "org-1"),
            ("originator", "codex_cli_rs"),
        ];
        let req = request(h.addr, Method::POST, "/responses", &sent)?;
        let (status, _, body) = send(h.addr, req).await?;
        assert_eq!(
            (status, &body[..]),
            (StatusCode::OK, &b"from the chatgpt mock"[..])
        );
        assert_eq!(next(&mut targets).await?, "chatgpt.com:443");
        let got = next(&mut seen).await?;
        assert_eq!(got.uri.to_string(), "/backend-api/codex/responses");
        assert_eq!(
            got.headers.get("host").map(|v| v.as_bytes()),
            Some(&b"chatgpt.com"[..])
        );
        for (k, v) in sent {
            assert_eq!(
                got.headers.get(k).and_then(|v| v.to_str().ok()),
                Some(v),
                "{k}"
            );
        }
        let summary = h.next_summary().await?;
        assert_eq!(
            (summary.provider.as_deref(), summary.route, summary.status),
            (Some("openai"), Some("chatgpt"), 200)
        );
        Ok(())
    })
    .await?
}

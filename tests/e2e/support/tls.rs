//! A throw-away certificate authority for the TLS mock: one CA, one leaf
//! certificate for every official host the suite tunnels. The daemon is told
//! to trust the CA through `SSL_CERT_FILE`, as a user behind a corporate
//! TLS-intercepting proxy would tell it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The hosts the official providers reach, by login mode: what the leaf
/// certificate names (the wildcard covers Vertex AI's regional hosts).
pub const OFFICIAL_HOSTS: [&str; 7] = [
    "api.anthropic.com",
    "api.openai.com",
    "chatgpt.com",
    "generativelanguage.googleapis.com",
    "cloudcode-pa.googleapis.com",
    "aiplatform.googleapis.com",
    "*.googleapis.com",
];

pub struct TestCa {
    /// The CA certificate, PEM, as `SSL_CERT_FILE` wants it.
    pub pem_path: PathBuf,
    /// A server configuration presenting the leaf certificate.
    pub server: Arc<ServerConfig>,
}

impl TestCa {
    /// Makes the CA and the leaf, and writes the CA's PEM into `dir`.
    pub fn new(dir: &Path) -> TestCa {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "Switchyard e2e test CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key).expect("self-signed CA");
        let issuer = Issuer::new(ca, ca_key);

        let leaf_key = KeyPair::generate().expect("leaf key");
        let mut leaf = CertificateParams::new(
            OFFICIAL_HOSTS
                .iter()
                .map(|h| (*h).to_owned())
                .collect::<Vec<_>>(),
        )
        .expect("leaf params");
        leaf.distinguished_name
            .push(DnType::CommonName, "official hosts (e2e mock)");
        let leaf_cert = leaf.signed_by(&leaf_key, &issuer).expect("leaf cert");

        let pem_path = dir.join("e2e-ca.pem");
        std::fs::write(&pem_path, ca_cert.pem()).expect("write CA PEM");

        let chain = vec![
            CertificateDer::from(leaf_cert.der().to_vec()),
            CertificateDer::from(ca_cert.der().to_vec()),
        ];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut server = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server certificate");
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        TestCa {
            pem_path,
            server: Arc::new(server),
        }
    }
}

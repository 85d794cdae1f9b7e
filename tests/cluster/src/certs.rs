//! Fresh certificates for every control plane: a CA, the API server's serving certificate
//! (SANs `IP:127.0.0.1` and `DNS:localhost`, since rustls rejects anything less), an admin
//! client certificate in `system:masters`, and the service-account signing key pair.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::Error;

/// PEM-encoded certificates and keys for one control plane.
pub(crate) struct Pki {
    /// The CA certificate: trusted by clients, and the API server's `--client-ca-file`.
    pub(crate) ca_cert: String,
    /// The API server's serving certificate.
    pub(crate) serving_cert: String,
    /// The serving certificate's private key.
    pub(crate) serving_key: String,
    /// The admin client certificate (`O=system:masters`).
    pub(crate) admin_cert: String,
    /// The admin client certificate's private key.
    pub(crate) admin_key: String,
    /// The private key that signs service-account tokens.
    pub(crate) service_account_key: String,
    /// Its public key, which verifies service-account tokens.
    pub(crate) service_account_public_key: String,
}

impl Pki {
    /// Generates a new CA and everything it signs.
    pub(crate) fn generate() -> Result<Self, Error> {
        let ca_key = key("CA key")?;
        let mut ca_params = params(&[], "CA")?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "switchyard-test-ca");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .map_err(|source| Error::Certificate {
                what: "CA certificate",
                source,
            })?;
        let ca = Issuer::new(ca_params, ca_key);

        let serving_key = key("serving key")?;
        let mut serving = params(
            &[
                "127.0.0.1",
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
            ],
            "serving certificate",
        )?;
        serving
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let serving_cert =
            serving
                .signed_by(&serving_key, &ca)
                .map_err(|source| Error::Certificate {
                    what: "serving certificate",
                    source,
                })?;

        let admin_key = key("admin key")?;
        let mut admin = params(&[], "admin certificate")?;
        admin
            .distinguished_name
            .push(DnType::CommonName, "switchyard-test-admin");
        admin
            .distinguished_name
            .push(DnType::OrganizationName, "system:masters");
        admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let admin_cert = admin
            .signed_by(&admin_key, &ca)
            .map_err(|source| Error::Certificate {
                what: "admin certificate",
                source,
            })?;

        let service_account = key("service-account key")?;
        Ok(Self {
            ca_cert: ca_cert.pem(),
            serving_cert: serving_cert.pem(),
            serving_key: serving_key.serialize_pem(),
            admin_cert: admin_cert.pem(),
            admin_key: admin_key.serialize_pem(),
            service_account_key: service_account.serialize_pem(),
            service_account_public_key: service_account.public_key_pem(),
        })
    }
}

/// An ECDSA P-256 key (rcgen's default), which Go's TLS stack and token signer both accept.
fn key(what: &'static str) -> Result<KeyPair, Error> {
    KeyPair::generate().map_err(|source| Error::Certificate { what, source })
}

fn params(subject_alt_names: &[&str], what: &'static str) -> Result<CertificateParams, Error> {
    let names: Vec<String> = subject_alt_names
        .iter()
        .map(|name| (*name).to_owned())
        .collect();
    CertificateParams::new(names).map_err(|source| Error::Certificate { what, source })
}

//! The config channel's certificate, from PEM files that cert-manager (or a Secret update)
//! replaces in place: the files are read again every `reload` interval off the async threads,
//! and new handshakes get the new certificate; connections already open keep theirs.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::Context as _;
use arc_swap::ArcSwap;
use rustls::{
    crypto::ring::sign::any_supported_type,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// The current certificate and where it comes from.
pub struct Certificates {
    cert: PathBuf,
    key: PathBuf,
    current: ArcSwap<CertifiedKey>,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Certificates({})", self.cert.display())
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

impl Certificates {
    /// Reads the files once; fails when they are missing, unreadable or do not match.
    pub fn load(cert: &Path, key: &Path) -> anyhow::Result<Arc<Self>> {
        let current = read(cert, key)?;
        Ok(Arc::new(Self {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: ArcSwap::from_pointee(current),
        }))
    }

    /// A TLS acceptor (HTTP/2 only) that always presents the current certificate.
    pub fn acceptor(self: &Arc<Self>) -> anyhow::Result<TlsAcceptor> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("choosing TLS versions")?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }

    /// Reads the files every `every` until `shutdown`; a change is taken, a broken file is
    /// logged and the current certificate kept.
    pub async fn reload(self: Arc<Self>, every: Duration, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            let this = Arc::clone(&self);
            let read = tokio::task::spawn_blocking(move || read(&this.cert, &this.key)).await;
            match read {
                Ok(Ok(next)) if next.cert != self.current.load().cert => {
                    self.current.store(Arc::new(next));
                    tracing::info!(cert = %self.cert.display(), "channel certificate reloaded");
                }
                Ok(Ok(_)) => {}
                Ok(Err(error)) => tracing::warn!(
                    error = format!("{error:#}"),
                    "channel certificate files unusable; keeping the current certificate"
                ),
                Err(error) => tracing::warn!(%error, "the certificate reload task failed"),
            }
        }
    }
}

fn read(cert: &Path, key: &Path) -> anyhow::Result<CertifiedKey> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .with_context(|| format!("reading the certificate chain {}", cert.display()))?;
    anyhow::ensure!(!chain.is_empty(), "{} holds no certificate", cert.display());
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading the private key {}", key.display()))?;
    let signing = any_supported_type(&key).context("the private key is of no supported type")?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .context("the certificate does not match its key")?;
    Ok(certified)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap_or_else(|e| unreachable!("{e}"));
        let params = rcgen::CertificateParams::new(vec![name.to_owned()])
            .unwrap_or_else(|e| unreachable!("{e}"));
        let cert = params
            .self_signed(&key)
            .unwrap_or_else(|e| unreachable!("{e}"));
        let (cert_path, key_path) = (dir.join("tls.crt"), dir.join("tls.key"));
        std::fs::write(&cert_path, cert.pem()).unwrap_or_else(|e| unreachable!("{e}"));
        std::fs::write(&key_path, key.serialize_pem()).unwrap_or_else(|e| unreachable!("{e}"));
        (cert_path, key_path)
    }

    #[tokio::test(start_paused = true)]
    async fn a_replaced_certificate_is_served_and_a_broken_one_is_not() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let (cert, key) = write_pair(dir.path(), "first.example");
        let certificates = Certificates::load(&cert, &key)?;
        let first = certificates.current.load().cert.clone();
        let (stop, shutdown) = watch::channel(false);
        let reloading =
            tokio::spawn(Arc::clone(&certificates).reload(Duration::from_secs(30), shutdown));

        write_pair(dir.path(), "second.example");
        let mut replaced = false;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_secs(31)).await;
            if certificates.current.load().cert != first {
                replaced = true;
                break;
            }
        }
        assert!(replaced, "the new certificate is served");
        let second = certificates.current.load().cert.clone();

        std::fs::write(&key, "not a key")?;
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_secs(31)).await;
        }
        assert_eq!(
            certificates.current.load().cert,
            second,
            "a broken file changes nothing"
        );
        stop.send_replace(true);
        reloading.await?;
        assert!(
            Certificates::load(&cert, &key).is_err(),
            "a broken pair does not start"
        );
        Ok(())
    }
}

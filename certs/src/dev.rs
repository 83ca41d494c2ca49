//! `credgate certs dev`: the whole development PKI, generated in memory and then written
//! to a directory in the layout SPEC §11 names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::crl::{make_crl_with, serial_of};
use crate::issue::{client_spec, server_spec, Ca, CertPair, Validity, GATEWAY_SPIFFE_ID};
use crate::{client_spiffe_id, ed25519_keypair_pem, CertsError};

mod readme;
mod write;

/// The client certificates under `clients/`, by name.
///
/// `revoked` is listed in `crl.pem`; `expired` has a validity window entirely in the past.
pub const CLIENT_NAMES: [&str; 6] = [
    "bank-nb", "dept-nb", "peer-hz", "auditor", "revoked", "expired",
];

/// The simulated platforms whose server certificates are under `upstream/`.
pub const UPSTREAM_PLATFORMS: [&str; 4] =
    ["xinyong-ningbo", "xinyong-zhejiang", "hangzhou", "xiamen"];

/// Subject CN of the client-facing CA (`ca.crt`).
pub const CLIENT_CA_NAME: &str = "credgate dev client CA";
/// Subject CN of the untrusted CA (`rogue/ca.crt`).
pub const ROGUE_CA_NAME: &str = "credgate dev rogue CA";
/// Subject CN of the platform-side CA (`upstream/ca.crt`).
pub const UPSTREAM_CA_NAME: &str = "credgate dev upstream CA";
/// Subject CN of credgate's upstream client certificate (`upstream/gateway.crt`).
pub const GATEWAY_CLIENT_NAME: &str = "credgate-gateway";
/// The client whose URI SAN the rogue certificate copies.
pub const ROGUE_IMPERSONATES: &str = "bank-nb";
/// SANs of credgate's server certificate and of every simulated platform's certificate.
pub const SERVER_SANS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// What [`generate_dev_pki`] should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevPkiOptions {
    /// The output directory; created with its parents when missing.
    pub out: PathBuf,
    /// Overwrite dev PKI files already in `out` instead of refusing.
    pub force: bool,
}

/// A certificate file and its private-key file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePair {
    /// The certificate, PEM.
    pub cert: PathBuf,
    /// The private key, PKCS#8 PEM, mode 0600.
    pub key: PathBuf,
}

/// The paths of a dev PKI directory (see the crate docs for what each one is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevPki {
    /// The directory itself.
    pub dir: PathBuf,
    /// `ca.crt` / `ca.key`: the CA credgate trusts for client certificates.
    pub ca: FilePair,
    /// `server.crt` / `server.key`: credgate's server certificate.
    pub server: FilePair,
    /// `crl.pem`: the CA's CRL, revoking `clients/revoked.crt`.
    pub crl: PathBuf,
    /// `clients/NAME.crt` / `.key` for every name in [`CLIENT_NAMES`].
    pub clients: BTreeMap<String, FilePair>,
    /// `rogue/ca.crt` / `.key`: a CA nobody trusts.
    pub rogue_ca: FilePair,
    /// `rogue/client.crt` / `.key`: a client certificate from the rogue CA.
    pub rogue_client: FilePair,
    /// `upstream/ca.crt` / `.key`: the CA of the platform side.
    pub upstream_ca: FilePair,
    /// `upstream/NAME.crt` / `.key` for every name in [`UPSTREAM_PLATFORMS`].
    pub upstream_platforms: BTreeMap<String, FilePair>,
    /// `upstream/gateway.crt` / `.key`: credgate's client identity towards the platforms.
    pub upstream_gateway: FilePair,
    /// `authz/issuer.key`: the demo authorization issuer's Ed25519 private key (PKCS#8 PEM).
    pub authz_issuer_key: PathBuf,
    /// `authz/issuer.pub`: its public key (SPKI PEM).
    pub authz_issuer_pub: PathBuf,
    /// `README.txt`: what each file is.
    pub readme: PathBuf,
}

/// The generated material, before it is written.
struct Material {
    ca: CertPair,
    server: CertPair,
    crl: String,
    clients: BTreeMap<&'static str, CertPair>,
    rogue_ca: CertPair,
    rogue_client: CertPair,
    upstream_ca: CertPair,
    upstream_platforms: BTreeMap<&'static str, CertPair>,
    upstream_gateway: CertPair,
    issuer_key: String,
    issuer_pub: String,
}

// === impl FilePair ===

impl FilePair {
    fn at(dir: &Path, stem: &str) -> Self {
        Self {
            cert: dir.join(format!("{stem}.crt")),
            key: dir.join(format!("{stem}.key")),
        }
    }
}

// === impl DevPki ===

impl DevPki {
    /// The layout of a dev PKI in `dir`. Pure: touches nothing on disk.
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        let clients_dir = dir.join("clients");
        let rogue_dir = dir.join("rogue");
        let upstream_dir = dir.join("upstream");
        let authz_dir = dir.join("authz");
        Self {
            ca: FilePair::at(&dir, "ca"),
            server: FilePair::at(&dir, "server"),
            crl: dir.join("crl.pem"),
            clients: CLIENT_NAMES
                .iter()
                .map(|n| ((*n).to_owned(), FilePair::at(&clients_dir, n)))
                .collect(),
            rogue_ca: FilePair::at(&rogue_dir, "ca"),
            rogue_client: FilePair::at(&rogue_dir, "client"),
            upstream_ca: FilePair::at(&upstream_dir, "ca"),
            upstream_platforms: UPSTREAM_PLATFORMS
                .iter()
                .map(|n| ((*n).to_owned(), FilePair::at(&upstream_dir, n)))
                .collect(),
            upstream_gateway: FilePair::at(&upstream_dir, "gateway"),
            authz_issuer_key: authz_dir.join("issuer.key"),
            authz_issuer_pub: authz_dir.join("issuer.pub"),
            readme: dir.join("README.txt"),
            dir,
        }
    }

    /// The files of the client named `name` (one of [`CLIENT_NAMES`]).
    pub fn client(&self, name: &str) -> Option<&FilePair> {
        self.clients.get(name)
    }

    /// The files of the simulated platform named `name` (one of [`UPSTREAM_PLATFORMS`]).
    pub fn upstream_platform(&self, name: &str) -> Option<&FilePair> {
        self.upstream_platforms.get(name)
    }

    /// Every file of the layout, private keys included.
    pub fn all_files(&self) -> Vec<&Path> {
        let mut files = self.public_files();
        files.extend(self.private_keys());
        files
    }

    /// The private-key files (written with mode 0600).
    pub fn private_keys(&self) -> Vec<&Path> {
        let mut keys: Vec<&Path> = self.pairs().into_iter().map(|p| p.key.as_path()).collect();
        keys.push(&self.authz_issuer_key);
        keys
    }

    /// Every file that is not a private key.
    fn public_files(&self) -> Vec<&Path> {
        let mut files: Vec<&Path> = self.pairs().into_iter().map(|p| p.cert.as_path()).collect();
        files.extend([
            self.crl.as_path(),
            self.authz_issuer_pub.as_path(),
            self.readme.as_path(),
        ]);
        files
    }

    fn pairs(&self) -> Vec<&FilePair> {
        let mut pairs = vec![&self.ca, &self.server];
        pairs.extend(self.clients.values());
        pairs.extend([&self.rogue_ca, &self.rogue_client, &self.upstream_ca]);
        pairs.extend(self.upstream_platforms.values());
        pairs.push(&self.upstream_gateway);
        pairs
    }
}

// === functions ===

/// Generates the dev PKI and writes it to `opts.out` (see the crate docs for the layout).
///
/// Everything is generated in memory first, so a generation failure writes nothing.
/// When any file of the layout already exists the call fails with
/// [`CertsError::AlreadyExists`] unless `opts.force` is set, in which case existing files
/// are replaced. Private keys are written with mode 0600, everything else 0644.
pub fn generate_dev_pki(opts: &DevPkiOptions) -> Result<DevPki, CertsError> {
    let pki = DevPki::at(&opts.out);
    if !opts.force {
        let existing: Vec<PathBuf> = pki
            .all_files()
            .into_iter()
            .filter(|p| p.symlink_metadata().is_ok())
            .map(|p| p.strip_prefix(&pki.dir).unwrap_or(p).to_path_buf())
            .collect();
        if !existing.is_empty() {
            return Err(CertsError::AlreadyExists {
                dir: pki.dir.clone(),
                existing,
            });
        }
    }
    let material = Material::generate()?;
    material.write(&pki)?;
    Ok(pki)
}

// === impl Material ===

impl Material {
    fn generate() -> Result<Self, CertsError> {
        let ca = Ca::generate(CLIENT_CA_NAME)?;
        let server = ca.issue(server_spec("localhost", &SERVER_SANS, Validity::Normal)?)?;
        let clients = CLIENT_NAMES
            .iter()
            .map(|name| {
                let validity = match *name {
                    "expired" => Validity::Expired,
                    _ => Validity::Normal,
                };
                let pair = ca.issue(client_spec(name, &client_spiffe_id(name), validity)?)?;
                Ok((*name, pair))
            })
            .collect::<Result<BTreeMap<_, _>, CertsError>>()?;
        let revoked = clients
            .get("revoked")
            .map(|pair| serial_of(&pair.cert_pem))
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        let crl = make_crl_with(&ca, revoked)?;

        let rogue = Ca::generate(ROGUE_CA_NAME)?;
        let rogue_client = rogue.issue(client_spec(
            "rogue",
            &client_spiffe_id(ROGUE_IMPERSONATES),
            Validity::Normal,
        )?)?;

        let upstream = Ca::generate(UPSTREAM_CA_NAME)?;
        let upstream_platforms = UPSTREAM_PLATFORMS
            .iter()
            .map(|name| {
                let pair = upstream.issue(server_spec(name, &SERVER_SANS, Validity::Normal)?)?;
                Ok((*name, pair))
            })
            .collect::<Result<BTreeMap<_, _>, CertsError>>()?;
        let upstream_gateway = upstream.issue(client_spec(
            GATEWAY_CLIENT_NAME,
            GATEWAY_SPIFFE_ID,
            Validity::Normal,
        )?)?;

        let (issuer_key, issuer_pub) = ed25519_keypair_pem()?;
        Ok(Self {
            ca: ca.to_pair(),
            server,
            crl,
            clients,
            rogue_ca: rogue.to_pair(),
            rogue_client,
            upstream_ca: upstream.to_pair(),
            upstream_platforms,
            upstream_gateway,
            issuer_key,
            issuer_pub,
        })
    }

    fn write(&self, pki: &DevPki) -> Result<(), CertsError> {
        let mut out = write::Writer::new(&pki.dir)?;
        out.pair(&pki.ca, &self.ca)?;
        out.pair(&pki.server, &self.server)?;
        out.public(&pki.crl, &self.crl)?;
        // Both maps are keyed by CLIENT_NAMES, so their sorted orders agree.
        for (files, pair) in pki.clients.values().zip(self.clients.values()) {
            out.pair(files, pair)?;
        }
        out.pair(&pki.rogue_ca, &self.rogue_ca)?;
        out.pair(&pki.rogue_client, &self.rogue_client)?;
        out.pair(&pki.upstream_ca, &self.upstream_ca)?;
        // Both maps are keyed by UPSTREAM_PLATFORMS, so their sorted orders agree.
        let platforms = pki.upstream_platforms.values();
        for (files, pair) in platforms.zip(self.upstream_platforms.values()) {
            out.pair(files, pair)?;
        }
        out.pair(&pki.upstream_gateway, &self.upstream_gateway)?;
        out.secret(&pki.authz_issuer_key, &self.issuer_key)?;
        out.public(&pki.authz_issuer_pub, &self.issuer_pub)?;
        out.public(&pki.readme, &readme::text())?;
        Ok(())
    }
}

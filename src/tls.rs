//! The TLS crypto provider every store's HTTPS goes through: rustls on
//! *ring*, offering the AES-GCM cipher suites only.
//!
//! rustls' ready-made *ring* provider also offers ChaCha20-Poly1305, whose
//! code (four variants of it, for as many CPU generations) costs every
//! static binary about 50 KB. Object stores all speak AES-GCM: TLS 1.3
//! requires TLS_AES_128_GCM_SHA256, and the TLS 1.2 ECDHE suites with
//! AES-GCM are what every S3 and Azure endpoint offers.
//!
//! Key exchange is P-256 (the group TLS 1.3 requires every server to
//! support, RFC 8446 9.1) or P-384, not X25519; certificates are checked
//! with ECDSA (P-256, P-384) and RSA (PKCS#1 and PSS), not Ed25519, which
//! no public CA issues for servers. Leaving Curve25519 out altogether keeps
//! its tables and code (about 49 KB) out of every static binary; the P-256
//! code is there anyway, for ECDSA certificates. Client certificates are
//! not used.

use std::sync::{Arc, OnceLock};

use rustls::crypto::ring::{cipher_suite, kx_group};
use rustls::crypto::{CryptoProvider, GetRandomFailed, KeyProvider, SecureRandom, WebPkiSupportedAlgorithms};
use rustls::pki_types::PrivateKeyDer;
use rustls::sign::SigningKey;
use rustls::SignatureScheme;
use webpki::ring as alg;

/// The provider, built once per process.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    Arc::clone(PROVIDER.get_or_init(|| {
        Arc::new(CryptoProvider {
            cipher_suites: vec![
                cipher_suite::TLS13_AES_128_GCM_SHA256,
                cipher_suite::TLS13_AES_256_GCM_SHA384,
                cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            ],
            kx_groups: vec![kx_group::SECP256R1, kx_group::SECP384R1],
            signature_verification_algorithms: VERIFY,
            secure_random: &OsRandom,
            key_provider: &NoClientKeys,
        })
    }))
}

/// Which certificate signatures are accepted, and for which TLS signature
/// schemes.
static VERIFY: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[
        alg::ECDSA_P256_SHA256,
        alg::ECDSA_P256_SHA384,
        alg::ECDSA_P384_SHA256,
        alg::ECDSA_P384_SHA384,
        alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
        alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
        alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
        alg::RSA_PKCS1_2048_8192_SHA256,
        alg::RSA_PKCS1_2048_8192_SHA384,
        alg::RSA_PKCS1_2048_8192_SHA512,
        alg::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
        alg::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
        alg::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
    ],
    mapping: &[
        // TLS 1.2 does not tie an ECDSA scheme to one curve; TLS 1.3 does.
        (SignatureScheme::ECDSA_NISTP384_SHA384, &[alg::ECDSA_P384_SHA384, alg::ECDSA_P256_SHA384]),
        (SignatureScheme::ECDSA_NISTP256_SHA256, &[alg::ECDSA_P256_SHA256, alg::ECDSA_P384_SHA256]),
        (SignatureScheme::RSA_PSS_SHA512, &[alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY]),
        (SignatureScheme::RSA_PSS_SHA384, &[alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY]),
        (SignatureScheme::RSA_PSS_SHA256, &[alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY]),
        (SignatureScheme::RSA_PKCS1_SHA512, &[alg::RSA_PKCS1_2048_8192_SHA512]),
        (SignatureScheme::RSA_PKCS1_SHA384, &[alg::RSA_PKCS1_2048_8192_SHA384]),
        (SignatureScheme::RSA_PKCS1_SHA256, &[alg::RSA_PKCS1_2048_8192_SHA256]),
    ],
};

/// The kernel's random numbers (getrandom(2)).
#[derive(Debug)]
struct OsRandom;

impl SecureRandom for OsRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        let mut filled = 0;
        while filled < buf.len() {
            match rustix::rand::getrandom(&mut buf[filled..], rustix::rand::GetRandomFlags::empty()) {
                Ok(n) => filled += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => return Err(GetRandomFailed),
            }
        }
        Ok(())
    }
}

/// blobio presents no client certificate, so loads no private key.
#[derive(Debug)]
struct NoClientKeys;

impl KeyProvider for NoClientKeys {
    fn load_private_key(&self, _: PrivateKeyDer<'static>) -> Result<Arc<dyn SigningKey>, rustls::Error> {
        Err(rustls::Error::General("blobio uses no client certificates".into()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_provider_offers_aes_gcm_only_and_random_bytes_come() {
        let p = super::provider();
        assert!(!p.cipher_suites.is_empty());
        for s in &p.cipher_suites {
            let name = format!("{:?}", s.suite());
            assert!(name.contains("AES") && name.contains("GCM"), "{name}");
        }
        let mut a = [0u8; 64];
        let mut b = [0u8; 64];
        p.secure_random.fill(&mut a).unwrap();
        p.secure_random.fill(&mut b).unwrap();
        assert_ne!(a, b);
        // ECDSA P-256 and P-384, RSA PSS and PKCS#1 at three hashes each.
        assert_eq!(p.signature_verification_algorithms.mapping.len(), 8);
        let groups: Vec<String> = p.kx_groups.iter().map(|g| format!("{:?}", g.name())).collect();
        assert_eq!(groups, ["secp256r1", "secp384r1"]);
    }
}

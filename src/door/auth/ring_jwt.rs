//! A jsonwebtoken crypto provider over `ring`, the crypto rustls already links, for RS256
//! verification only.
//!
//! jsonwebtoken 10 and later ship two providers, and either would link a second RSA implementation
//! next to ring: RustCrypto's `rsa` (under RUSTSEC-2023-0071, the Marvin timing attack, which
//! `cargo audit` reports; the advisory listed no patched release as of 2026-09) or aws-lc-rs (a
//! second native crypto stack, C and assembly, with its own build). Neither is enabled: the crate
//! parses the token and checks its claims, ring checks the signature, as it did inside jsonwebtoken 9.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error, ErrorKind, Result};
use jsonwebtoken::signature;
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey};

/// An RSA public key from a JWKS, checking PKCS#1 v1.5 SHA-256 signatures of 2048 to 8192 bits.
struct Rs256 {
    n: Vec<u8>,
    e: Vec<u8>,
}

impl signature::Verifier<Vec<u8>> for Rs256 {
    fn verify(&self, message: &[u8], sig: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        ring::signature::RsaPublicKeyComponents {
            n: &self.n,
            e: &self.e,
        }
        .verify(&ring::signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
        .map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for Rs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

fn verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    match (algorithm, key.kind()) {
        (Algorithm::RS256, DecodingKeyKind::RsaModulusExponent { n, e }) => Ok(Box::new(Rs256 {
            n: n.clone(),
            e: e.clone(),
        })),
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

fn unsupported() -> Error {
    ErrorKind::Provider("aml-events only verifies RS256 tokens".into()).into()
}

fn no_signer(_: &Algorithm, _: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    Err(unsupported())
}

static RING: CryptoProvider = CryptoProvider {
    signer_factory: no_signer,
    verifier_factory: verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: |_| Err(unsupported()),
        rsa_pub_components_from_public_key: |_| Err(unsupported()),
        ec_pub_components_from_private_key: |_, _| Err(unsupported()),
        ed_pub_components_from_private_key: |_, _| Err(unsupported()),
        compute_digest: |_, _| Err(unsupported()),
    },
};

/// Makes this provider jsonwebtoken's for the process. The first call wins; a program embedding the
/// library that installed its own provider before keeps it (every provider verifies RS256).
pub(super) fn install() {
    let _ = RING.install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rs256_with_an_rsa_public_key_is_verified() {
        let rsa = DecodingKey::from_rsa_raw_components(&[1; 256], &[1, 0, 1]);
        assert!(verifier(&Algorithm::RS256, &rsa).is_ok());
        assert!(verifier(&Algorithm::RS512, &rsa).is_err());
        assert!(verifier(&Algorithm::HS256, &rsa).is_err());
        let secret = DecodingKey::from_secret(b"the public key as an HMAC secret").unwrap();
        assert!(verifier(&Algorithm::RS256, &secret).is_err());
        assert!(no_signer(&Algorithm::RS256, &EncodingKey::from_secret(b"k").unwrap()).is_err());
    }
}

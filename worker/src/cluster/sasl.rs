//! SASL client mechanisms for the membership client: PLAIN (RFC 4616) and SCRAM-SHA-256/512
//! (RFC 5802, RFC 7677), as pure message builders and checkers. The exchange itself
//! (SaslHandshake, then SaslAuthenticate frames) lives in `connection`.

use std::num::NonZeroU32;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::{digest, hmac, pbkdf2};

use crate::config::Mechanism;

/// The PLAIN token: no authorization id, the user name, the password.
pub fn plain_token(username: &str, password: &str) -> Vec<u8> {
    let mut token = Vec::with_capacity(username.len() + password.len() + 2);
    token.push(0);
    token.extend_from_slice(username.as_bytes());
    token.push(0);
    token.extend_from_slice(password.as_bytes());
    token
}

/// One SCRAM conversation from the client's side.
#[derive(Debug)]
pub struct Scram {
    mechanism: Mechanism,
    nonce: String,
    first_bare: String,
    /// What the server's final message must prove (set by `client_final`).
    server_signature: Option<Vec<u8>>,
}

fn algorithms(
    mechanism: Mechanism,
) -> (
    pbkdf2::Algorithm,
    hmac::Algorithm,
    &'static digest::Algorithm,
) {
    match mechanism {
        Mechanism::ScramSha512 => (
            pbkdf2::PBKDF2_HMAC_SHA512,
            hmac::HMAC_SHA512,
            &digest::SHA512,
        ),
        _ => (
            pbkdf2::PBKDF2_HMAC_SHA256,
            hmac::HMAC_SHA256,
            &digest::SHA256,
        ),
    }
}

fn hmac_of(algorithm: hmac::Algorithm, key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(algorithm, key), data)
        .as_ref()
        .to_vec()
}

/// `saslname` escaping of RFC 5802: `=` and `,` are written `=3D` and `=2C`.
fn saslname(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

impl Scram {
    /// Starts a conversation for `username` with a fresh random nonce.
    pub fn new(mechanism: Mechanism, username: &str) -> Result<Self, String> {
        let mut random = [0u8; 24];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random)
            .map_err(|_| "no random numbers for the SCRAM nonce".to_string())?;
        Ok(Self::with_nonce(mechanism, username, &B64.encode(random)))
    }

    fn with_nonce(mechanism: Mechanism, username: &str, nonce: &str) -> Self {
        Self {
            mechanism,
            nonce: nonce.to_string(),
            first_bare: format!("n={},r={nonce}", saslname(username)),
            server_signature: None,
        }
    }

    /// The client-first message (no channel binding, no authorization id).
    pub fn client_first(&self) -> String {
        format!("n,,{}", self.first_bare)
    }

    /// Answers the server-first message with the client-final message (the proof).
    pub fn client_final(&mut self, server_first: &[u8], password: &str) -> Result<String, String> {
        let server_first = std::str::from_utf8(server_first)
            .map_err(|_| "the server's SCRAM challenge is not UTF-8".to_string())?;
        let attribute = |name: char| {
            server_first
                .split(',')
                .find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
        };
        if let Some(error) = attribute('e') {
            return Err(format!("the broker refused the login: {error}"));
        }
        let nonce = attribute('r').ok_or("the server's SCRAM challenge has no nonce")?;
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err("the server's SCRAM nonce does not extend ours".into());
        }
        let salt = attribute('s')
            .and_then(|s| B64.decode(s).ok())
            .ok_or("the server's SCRAM challenge has no valid salt")?;
        let iterations = attribute('i')
            .and_then(|i| i.parse::<u32>().ok())
            .and_then(NonZeroU32::new)
            .ok_or("the server's SCRAM challenge has no valid iteration count")?;
        let (kdf, mac, hash) = algorithms(self.mechanism);
        let mut salted = vec![0u8; hash.output_len()];
        pbkdf2::derive(kdf, iterations, &salt, password.as_bytes(), &mut salted);
        let client_key = hmac_of(mac, &salted, b"Client Key");
        let stored_key = digest::digest(hash, &client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.first_bare);
        let signature = hmac_of(mac, stored_key.as_ref(), auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = hmac_of(mac, &salted, b"Server Key");
        self.server_signature = Some(hmac_of(mac, &server_key, auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", B64.encode(proof)))
    }

    /// Checks the server-final message: the server must prove it knows the password too.
    pub fn verify_server_final(&self, server_final: &[u8]) -> Result<(), String> {
        let text = String::from_utf8_lossy(server_final);
        if let Some(error) = text.strip_prefix("e=") {
            return Err(format!("the broker refused the login: {error}"));
        }
        let given = text
            .strip_prefix("v=")
            .and_then(|v| B64.decode(v.split(',').next().unwrap_or(v)).ok())
            .ok_or("the broker's final SCRAM message has no server signature")?;
        match &self.server_signature {
            Some(expected) if *expected == given => Ok(()),
            _ => Err("the broker's SCRAM signature is wrong: it does not know the password".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_token_is_nul_separated() {
        assert_eq!(plain_token("alice", "pw"), b"\0alice\0pw");
    }

    /// RFC 7677 section 3's example conversation.
    #[test]
    fn scram_sha_256_matches_rfc_7677() {
        let mut scram = Scram::with_nonce(Mechanism::ScramSha256, "user", "rOprNGfwEbeRWgbNEkqO");
        assert_eq!(scram.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                             s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let client_final = scram.client_final(server_first, "pencil").expect("final");
        assert_eq!(
            client_final,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        scram
            .verify_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .expect("the server proves itself");
        let forged = scram.verify_server_final(b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        assert!(forged.expect_err("forged").contains("signature is wrong"));
    }

    #[test]
    fn bad_challenges_are_refused() {
        let mut scram = Scram::with_nonce(Mechanism::ScramSha512, "a,b=c", "abc");
        assert_eq!(scram.client_first(), "n,,n=a=2Cb=3Dc,r=abc");
        for (challenge, expect) in [
            (&b"r=xyz,s=AAAA,i=4096"[..], "does not extend"),
            (b"r=abcd,s=AAAA,i=0", "iteration"),
            (b"r=abcd,i=4096", "salt"),
            (b"e=unknown-user", "refused the login: unknown-user"),
        ] {
            let e = scram.client_final(challenge, "pw").expect_err("refused");
            assert!(e.contains(expect), "{e}");
        }
    }
}

//! Our qualified electronic signature (КЭП). It is never made in-process:
//! Podryad holds no GOST keys and links no GOST cryptography. A [`Signer`]
//! either asks an external signing service that holds the key
//! ([`DssSigner`], CryptoPro DSS style, for production) or — on a staging
//! stand and in tests only — tells the EDO operator to sign with its own
//! test signature ([`TestSignature`]: Diadoc's `SignWithTestSignature`).
//!
//! There are no pretend signatures: outside test mode a [`TestSignature`]
//! cannot be constructed, and the fake signing service lives in the test-only
//! `fakes` crate.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::json;

use super::EdoError;
use super::oauth::TokenSource;
use crate::config::{ConfigError, DssConfig};

/// What a [`Signer`] gives the operator adapter to attach to a document.
#[derive(Clone, PartialEq, Eq)]
pub enum Signature {
    /// A detached CMS (CAdES-BES) signature over the document's bytes.
    Detached(Vec<u8>),
    /// No signature from us: the operator signs with its test certificate
    /// (Diadoc: `SignedContent.SignWithTestSignature = true`). Only ever
    /// produced by [`TestSignature`], only in test mode.
    OperatorTest,
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signature::Detached(bytes) => write!(f, "Detached({} bytes)", bytes.len()),
            Signature::OperatorTest => f.write_str("OperatorTest"),
        }
    }
}

/// Makes our signature over a document.
#[async_trait]
pub trait Signer: Send + Sync + 'static {
    /// `"dss"` or `"test"`, for logs.
    fn name(&self) -> &'static str;

    /// Signs `content`. `key` is the caller's idempotency key (the workflow
    /// action's), passed on to the signing service so its audit log ties
    /// the signature to the document it was made for.
    async fn sign(&self, key: &str, content: &[u8]) -> Result<Signature, EdoError>;
}

/// The operator's test signature; for staging stands and tests.
#[derive(Debug, Clone)]
pub struct TestSignature {
    _private: (),
}

impl TestSignature {
    /// Only in test mode (`PODRYAD_EDO_TEST_MODE=1`): a test signature on a
    /// production stand would send documents nobody legally signed.
    pub fn new(test_mode: bool) -> Result<TestSignature, EdoError> {
        if !test_mode {
            return Err(EdoError::Config(
                "the operator's test signature is allowed only with PODRYAD_EDO_TEST_MODE=1".into(),
            ));
        }
        Ok(TestSignature { _private: () })
    }
}

#[async_trait]
impl Signer for TestSignature {
    fn name(&self) -> &'static str {
        "test"
    }

    async fn sign(&self, _key: &str, _content: &[u8]) -> Result<Signature, EdoError> {
        Ok(Signature::OperatorTest)
    }
}

/// A CryptoPro DSS-style signing service.
///
/// - Token: `POST {token_url}` (the service's STS, `…/STS/oauth/token`),
///   form `grant_type=password&client_id&username&password&resource`,
///   answered with `access_token` and `expires_in`; cached and renewed.
/// - Signing: `POST {base}/api/documents` with `Authorization: Bearer …` and
///   `{"Content": <base64>, "Name": <key>, "Signature": {"Type": "CMS",
///   "Parameters": {"IsDetached": "True", "CADESType": "BES"},
///   "CertificateId": …, "PinCode": …}}`, answered with the signature as a
///   base64 JSON string. This is DSS's v1 "sign a document" call as its
///   documentation describes it (`dss.cryptopro.ru/docs/articles/rest/
///   signserver`); the exact parameter spelling was checked against its
///   samples page only in part — see the README.
/// - The key: DSS has no idempotency parameter. Signing is free of outside
///   effects (nothing is sent anywhere), so a repeated call is harmless; the
///   key is passed as the document's `Name` and as an `Idempotency-Key`
///   header so the service's audit log and any proxy in front of it can tie
///   the call to its document.
/// - Operations that need the user's confirmation (DSS's two-factor
///   "Created" status) are not supported: the signing account must be set up
///   to sign without confirmation, and such an answer is reported as a
///   configuration error.
pub struct DssSigner {
    client: reqwest::Client,
    config: DssConfig,
    token: TokenSource,
}

impl std::fmt::Debug for DssSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DssSigner")
            .field("config", &self.config)
            .finish()
    }
}

impl DssSigner {
    pub fn new(config: DssConfig) -> Result<DssSigner, ConfigError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ConfigError::invalid("PODRYAD_DSS_URL", e))?;
        let token = TokenSource::new(
            client.clone(),
            config.token_url.clone(),
            vec![
                ("grant_type", "password".to_string()),
                ("client_id", config.client_id.clone()),
                ("username", config.login.clone()),
                ("password", config.password.clone()),
                ("resource", config.resource.clone()),
            ],
            vec![("client_id", config.client_id.clone())],
            None,
        );
        Ok(DssSigner {
            client,
            config,
            token,
        })
    }

    async fn call(
        &self,
        token: &str,
        key: &str,
        content: &[u8],
    ) -> Result<reqwest::Response, EdoError> {
        let mut signature = json!({
            "Type": "CMS",
            "Parameters": { "IsDetached": "True", "CADESType": "BES" },
            "CertificateId": self.config.certificate_id,
        });
        if let Some(pin) = &self.config.pin {
            signature["PinCode"] = json!(pin);
        }
        self.client
            .post(format!("{}/api/documents", self.config.base_url))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&json!({
                "Content": BASE64.encode(content),
                "Name": key,
                "Signature": signature,
            }))
            .send()
            .await
            .map_err(EdoError::from_http)
    }
}

#[async_trait]
impl Signer for DssSigner {
    fn name(&self) -> &'static str {
        "dss"
    }

    async fn sign(&self, key: &str, content: &[u8]) -> Result<Signature, EdoError> {
        let token = self.token.token().await?;
        let mut response = self.call(&token, key, content).await?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            let token = self.token.renew_after_rejection(&token).await?;
            response = self.call(&token, key, content).await?;
        }
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.map_err(EdoError::from_http)?;
        if status != 200 {
            return Err(super::error_for_status(status, &headers, &body));
        }
        let encoded: String = match serde_json::from_str::<serde_json::Value>(&body) {
            Ok(serde_json::Value::String(s)) => s,
            // A v2-style operation waiting for the user's confirmation.
            Ok(v) if v.get("OperationId").is_some() || v.get("Status").is_some() => {
                return Err(EdoError::Config(
                    "the signing service asks for confirmation; configure the account to sign without it"
                        .into(),
                ));
            }
            Ok(_) | Err(_) => body.trim().trim_matches('"').to_string(),
        };
        let bytes = BASE64
            .decode(encoded.trim())
            .map_err(|e| EdoError::retry(format!("signing service answered badly: {e}")))?;
        if bytes.is_empty() {
            return Err(EdoError::retry(
                "signing service returned an empty signature",
            ));
        }
        Ok(Signature::Detached(bytes))
    }
}

//! An OAuth 2 / OpenID Connect access token, fetched from a token endpoint,
//! cached and renewed before it expires — shared by the Diadoc adapter
//! (Kontur's identity server) and the DSS signer (its STS).
//!
//! One token serves every concurrent call (Kontur asks for one token shared
//! by all threads); renewal is serialised by a lock so a burst of calls does
//! not fetch a burst of tokens. When the server hands out a refresh token it
//! is used for the next renewal (`grant_type=refresh_token`), falling back to
//! the primary grant when the refresh token is refused.

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::EdoError;

/// The longest we renew ahead of expiry; short-lived tokens are renewed when
/// a tenth of their life is left.
const RENEW_AHEAD: Duration = Duration::from_secs(60);

#[derive(Clone)]
struct Cached {
    access_token: String,
    renew_at: Instant,
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<String>,
}

struct State {
    cached: Option<Cached>,
    refresh_token: Option<String>,
}

/// A cached access token from one token endpoint.
pub(crate) struct TokenSource {
    client: reqwest::Client,
    token_url: String,
    /// The primary grant's form fields (`grant_type`, credentials, scope…).
    grant: Vec<(&'static str, String)>,
    /// Sent with a refresh grant too (`client_id`, `client_secret`).
    client_fields: Vec<(&'static str, String)>,
    state: tokio::sync::Mutex<State>,
}

impl TokenSource {
    pub(crate) fn new(
        client: reqwest::Client,
        token_url: String,
        grant: Vec<(&'static str, String)>,
        client_fields: Vec<(&'static str, String)>,
        refresh_token: Option<String>,
    ) -> TokenSource {
        TokenSource {
            client,
            token_url,
            grant,
            client_fields,
            state: tokio::sync::Mutex::new(State {
                cached: None,
                refresh_token,
            }),
        }
    }

    /// A valid access token: the cached one, or a new one.
    pub(crate) async fn token(&self) -> Result<String, EdoError> {
        let mut state = self.state.lock().await;
        if let Some(c) = &state.cached
            && Instant::now() < c.renew_at
        {
            return Ok(c.access_token.clone());
        }
        self.renew(&mut state).await
    }

    /// Forgets `rejected` (the API answered 401 to it) and returns a fresh
    /// token — unless another call already replaced it.
    pub(crate) async fn renew_after_rejection(&self, rejected: &str) -> Result<String, EdoError> {
        let mut state = self.state.lock().await;
        if let Some(c) = &state.cached
            && c.access_token != rejected
            && Instant::now() < c.renew_at
        {
            return Ok(c.access_token.clone());
        }
        state.cached = None;
        self.renew(&mut state).await
    }

    async fn renew(&self, state: &mut State) -> Result<String, EdoError> {
        if let Some(refresh) = state.refresh_token.clone() {
            let mut form = vec![
                ("grant_type", "refresh_token".to_string()),
                ("refresh_token", refresh),
            ];
            form.extend(self.client_fields.iter().cloned());
            match self.request(&form).await {
                Ok(reply) => return Ok(self.keep(state, reply)),
                // A refresh token expires (30 days at Kontur) or is revoked:
                // fall back to the primary grant.
                Err(EdoError::Config(reason)) => {
                    tracing::info!(%reason, "refresh token refused; using the primary grant");
                    state.refresh_token = None;
                }
                Err(e) => return Err(e),
            }
        }
        let reply = self.request(&self.grant).await?;
        Ok(self.keep(state, reply))
    }

    fn keep(&self, state: &mut State, reply: TokenReply) -> String {
        let life = Duration::from_secs(reply.expires_in.unwrap_or(3600));
        let ahead = RENEW_AHEAD.min(life / 10);
        if reply.refresh_token.is_some() {
            state.refresh_token = reply.refresh_token;
        }
        state.cached = Some(Cached {
            access_token: reply.access_token.clone(),
            renew_at: Instant::now() + life.saturating_sub(ahead),
        });
        reply.access_token
    }

    async fn request(&self, form: &[(&'static str, String)]) -> Result<TokenReply, EdoError> {
        let response = self
            .client
            .post(&self.token_url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(form)
            .send()
            .await
            .map_err(EdoError::from_http)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.map_err(EdoError::from_http)?;
        match status {
            200 => serde_json::from_str::<TokenReply>(&body)
                .map_err(|e| EdoError::retry(format!("token endpoint answered badly: {e}"))),
            // invalid_client / invalid_grant: our credentials.
            400 | 401 | 403 => Err(EdoError::Config(format!(
                "token endpoint refused the credentials ({status}): {}",
                body.chars().take(300).collect::<String>()
            ))),
            _ => Err(super::error_for_status(status, &headers, &body)),
        }
    }
}

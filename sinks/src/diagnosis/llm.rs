//! A client for any OpenAI-compatible chat-completions endpoint (`POST {base}/chat/completions`).
//!
//! reqwest with rustls on the ring provider: no OpenSSL and no aws-lc (which needs cmake),
//! and the same build reqwest already has in the workspace through object_store.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

/// LLM configuration. From the environment: `ARGUS_LLM_BASE_URL` (for example
/// `https://api.openai.com/v1`), `ARGUS_LLM_MODEL`, `ARGUS_LLM_API_KEY` (optional),
/// `ARGUS_LLM_DAILY_TOKENS` (default 200000), `ARGUS_LLM_TIMEOUT_SECS` (default 30),
/// `ARGUS_LLM_MAX_TOKENS` (answer limit, default 800), `ARGUS_LLM_RETRIES` (retries of a
/// transient error, default 3).
#[derive(Clone)]
pub struct LlmConfig {
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    pub daily_token_budget: u64,
    pub timeout: Duration,
    pub max_output_tokens: u32,
    /// Retries after a transient error (timeout, 5xx, 429), each reserved in the budget.
    pub max_retries: u32,
    /// The wait before the first retry; it doubles for each further one. A 429's
    /// `Retry-After` replaces it.
    pub retry_backoff: Duration,
}

impl std::fmt::Debug for LlmConfig {
    // The API key stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("daily_token_budget", &self.daily_token_budget)
            .field("timeout", &self.timeout)
            .field("max_output_tokens", &self.max_output_tokens)
            .field("max_retries", &self.max_retries)
            .field("retry_backoff", &self.retry_backoff)
            .finish()
    }
}

impl LlmConfig {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            daily_token_budget: 200_000,
            timeout: Duration::from_secs(30),
            max_output_tokens: 800,
            max_retries: 3,
            retry_backoff: Duration::from_millis(500),
        }
    }

    /// The configuration from the environment, `None` when `ARGUS_LLM_BASE_URL` is unset
    /// (the LLM step is optional); an error for a value that does not parse.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let Some(base_url) = var("ARGUS_LLM_BASE_URL") else { return Ok(None) };
        let model = var("ARGUS_LLM_MODEL")
            .ok_or_else(|| ConfigError("ARGUS_LLM_BASE_URL is set but ARGUS_LLM_MODEL is not".into()))?;
        let mut config = Self::new(base_url, model);
        config.api_key = var("ARGUS_LLM_API_KEY");
        let number = |name: &str| -> Result<Option<u64>, ConfigError> {
            var(name)
                .map(|v| v.parse().map_err(|_| ConfigError(format!("{name}={v:?} is not a whole number"))))
                .transpose()
        };
        if let Some(n) = number("ARGUS_LLM_DAILY_TOKENS")? {
            config.daily_token_budget = n;
        }
        if let Some(n) = number("ARGUS_LLM_TIMEOUT_SECS")? {
            config.timeout = Duration::from_secs(n);
        }
        if let Some(n) = number("ARGUS_LLM_MAX_TOKENS")? {
            config.max_output_tokens =
                u32::try_from(n).map_err(|_| ConfigError("ARGUS_LLM_MAX_TOKENS is too large".into()))?;
        }
        if let Some(n) = number("ARGUS_LLM_RETRIES")? {
            config.max_retries =
                u32::try_from(n).map_err(|_| ConfigError("ARGUS_LLM_RETRIES is too large".into()))?;
        }
        Ok(Some(config))
    }
}

/// A configuration of the LLM step that cannot work.
#[derive(Debug, thiserror::Error)]
#[error("llm configuration: {0}")]
pub struct ConfigError(pub String);

/// Why a call gave no usable answer (before its content is parsed).
#[derive(Debug)]
pub enum CallError {
    Timeout,
    Http {
        status: u16,
        body: String,
        /// A `Retry-After` in seconds (the HTTP-date form is not honoured).
        retry_after: Option<Duration>,
    },
    Transport(String),
    /// A 2xx response that is not the chat-completions shape.
    BadResponse {
        reason: String,
        tokens: Option<u64>,
    },
}

/// The longest `Retry-After` waited for: a server asking for more is not retried.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

impl CallError {
    /// How long to wait before retry number `retry` (1 for the first), or `None` when the
    /// error is not transient: a timeout, a 5xx, or a 429 (after its `Retry-After`).
    pub fn retry_delay(&self, retry: u32, backoff: Duration) -> Option<Duration> {
        let doubled = backoff.saturating_mul(1 << retry.saturating_sub(1).min(16));
        match self {
            CallError::Timeout => Some(doubled),
            CallError::Http { status: 429, retry_after: Some(after), .. } => {
                (*after <= MAX_RETRY_AFTER).then_some(*after)
            }
            CallError::Http { status, .. } if *status == 429 || *status >= 500 => Some(doubled),
            _ => None,
        }
    }
}

/// A successful call: the message content and the tokens the server says it used.
#[derive(Debug)]
pub struct Completion {
    pub content: String,
    pub total_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct Response {
    choices: Vec<Choice>,
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
}

#[derive(Deserialize)]
struct Message {
    content: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    total_tokens: Option<u64>,
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

impl Usage {
    fn total(&self) -> Option<u64> {
        self.total_tokens.or(match (self.prompt_tokens, self.completion_tokens) {
            (Some(p), Some(c)) => Some(p + c),
            _ => None,
        })
    }
}

/// The HTTP client for one configured endpoint.
#[derive(Debug, Clone)]
pub struct LlmClient {
    config: LlmConfig,
    http: reqwest::Client,
}

impl LlmClient {
    pub fn new(config: LlmConfig) -> Result<Self, ConfigError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| ConfigError(format!("cannot build the http client: {e}")))?;
        Ok(Self { config, http })
    }

    pub fn config(&self) -> &LlmConfig {
        &self.config
    }

    /// Tokens a call is expected to cost: the prompt at about four characters a token,
    /// plus the answer's limit. Over-estimating is the safe side of a budget.
    pub fn estimate(&self, messages: &[serde_json::Value]) -> u64 {
        let chars: usize = messages.iter().map(|m| m.to_string().len()).sum();
        (chars as u64).div_ceil(4) + u64::from(self.config.max_output_tokens)
    }

    pub async fn complete(&self, messages: &[serde_json::Value]) -> Result<Completion, CallError> {
        let url = format!("{}/chat/completions", self.config.base_url.trim_end_matches('/'));
        let body = json!({
            "model": self.config.model,
            "messages": messages,
            "temperature": 0,
            "max_tokens": self.config.max_output_tokens,
            "response_format": {"type": "json_object"},
        });
        let mut request = self.http.post(&url).json(&body);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        let classify = |e: reqwest::Error| {
            if e.is_timeout() {
                CallError::Timeout
            } else {
                CallError::Transport(e.without_url().to_string())
            }
        };
        let response = request.send().await.map_err(classify)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = response.text().await.map_err(classify)?;
        if !status.is_success() {
            let body: String = text.chars().take(200).collect();
            return Err(CallError::Http { status: status.as_u16(), body, retry_after });
        }
        let parsed: Response = serde_json::from_str(&text).map_err(|e| CallError::BadResponse {
            reason: format!("not a chat-completions response: {e}"),
            tokens: None,
        })?;
        let total_tokens = parsed.usage.as_ref().and_then(Usage::total);
        let content = parsed.choices.into_iter().next().and_then(|c| c.message.content);
        match content {
            Some(content) => Ok(Completion { content, total_tokens }),
            None => Err(CallError::BadResponse { reason: "no message content".into(), tokens: total_tokens }),
        }
    }
}

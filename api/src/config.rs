//! The API's settings, with documented defaults, and the check that a server reachable
//! from other hosts has tokens.

use std::net::SocketAddr;
use std::time::Duration;

use crate::auth::Tokens;

/// How the API behaves. `ApiConfig::default()` is the embedded default.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest file one upload may carry; a longer body is refused with 413 while it
    /// streams. Default 8 GiB.
    pub max_file_size: u64,
    /// Bearer tokens by role. Default none: every request is let in, which
    /// [`ApiConfig::validate`] allows only on a loopback address.
    pub tokens: Tokens,
    /// How often an event stream polls the store for its batch. Default 200 ms.
    pub sse_poll_interval: Duration,
    /// Keep-alive comments on idle event streams. Default 15 s.
    pub sse_keep_alive: Duration,
    /// Final reports kept in memory. Default 10,000.
    pub report_cache_capacity: u64,
    /// Page size of `GET /vehicles/{vin}/batches` when `limit` is absent. Default 50
    /// (at most 500).
    pub default_page_size: u32,
    /// Multipart part size for object-store uploads. Default 8 MiB.
    pub upload_part_size: usize,
    /// How long `complete` waits for the queue to accept its events before answering
    /// 503 (the client completes again later). Default 30 s.
    pub publish_timeout: Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_file_size: 8 << 30,
            tokens: Tokens::default(),
            sse_poll_interval: Duration::from_millis(200),
            sse_keep_alive: Duration::from_secs(15),
            report_cache_capacity: 10_000,
            default_page_size: 50,
            upload_part_size: 8 << 20,
            publish_timeout: Duration::from_secs(30),
        }
    }
}

/// Why a configuration may not serve.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "refusing to listen on {0} without tokens: configure ARGUS_API_TOKENS or a token file, or bind to a loopback address"
    )]
    OpenNonLoopback(SocketAddr),
    #[error("tokens: {0}")]
    Tokens(String),
}

impl ApiConfig {
    /// Refuses a bind to a non-loopback address when no tokens are configured.
    pub fn validate(&self, bind: SocketAddr) -> Result<(), ConfigError> {
        if self.tokens.is_empty() && !bind.ip().is_loopback() {
            return Err(ConfigError::OpenNonLoopback(bind));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    #[test]
    fn open_servers_stay_on_loopback() {
        let open = ApiConfig::default();
        assert!(open.validate("127.0.0.1:8080".parse().unwrap()).is_ok());
        assert!(open.validate("[::1]:8080".parse().unwrap()).is_ok());
        assert!(open.validate("0.0.0.0:8080".parse().unwrap()).is_err());
        assert!(open.validate("192.168.1.4:8080".parse().unwrap()).is_err());
        let guarded = ApiConfig { tokens: Tokens::from_pairs([(Role::Reader, "r")]), ..ApiConfig::default() };
        assert!(guarded.validate("0.0.0.0:8080".parse().unwrap()).is_ok());
    }
}

//! The diagnosis step: the rule diagnosis always, then, when an LLM is configured, one
//! call within the daily token budget (retried after transient errors, each retry within
//! the budget too). Any failure of the LLM step (budget exhausted,
//! timeout, HTTP error, an answer that does not parse, the budget table unreachable) falls
//! back on the rule diagnosis with the reason recorded.

use std::time::SystemTime;

use argus_pipeline::report::FinishedBatch;

use super::kb::KnowledgeBase;
use super::llm::{CallError, Completion, ConfigError, LlmClient, LlmConfig};
use super::model::Diagnosis;
use super::{prompt, rules};
use crate::store::{Reservation, Store};

/// Diagnoses finished batches. Shared by every writer of a process (`Arc<Diagnoser>`).
#[derive(Debug)]
pub struct Diagnoser {
    kb: &'static KnowledgeBase,
    llm: Option<LlmClient>,
}

impl Diagnoser {
    /// Rules only.
    pub fn rules_only() -> Self {
        Self { kb: KnowledgeBase::embedded(), llm: None }
    }

    /// Rules, then the LLM of `config`.
    pub fn with_llm(config: LlmConfig) -> Result<Self, ConfigError> {
        Ok(Self { kb: KnowledgeBase::embedded(), llm: Some(LlmClient::new(config)?) })
    }

    /// With the LLM of the environment when `ARGUS_LLM_BASE_URL` is set (see [`LlmConfig::from_env`]).
    pub fn from_env() -> Result<Self, ConfigError> {
        match LlmConfig::from_env()? {
            Some(config) => Self::with_llm(config),
            None => Ok(Self::rules_only()),
        }
    }

    /// The rule diagnosis alone (no I/O).
    pub fn rules(&self, batch: &FinishedBatch) -> Diagnosis {
        rules::diagnose(batch, self.kb)
    }

    /// Diagnoses a batch, charging today's (UTC) token budget.
    pub async fn diagnose(&self, store: &Store, batch: &FinishedBatch) -> Diagnosis {
        self.diagnose_on(store, batch, &utc_day(SystemTime::now())).await
    }

    /// Diagnoses a batch, charging the budget of `day` (`YYYY-MM-DD`).
    pub async fn diagnose_on(&self, store: &Store, batch: &FinishedBatch, day: &str) -> Diagnosis {
        let rules = self.rules(batch);
        let Some(llm) = &self.llm else { return rules };
        let id = batch.report.batch_id.as_str();
        let fallback = |reason: String| {
            tracing::warn!(batch_id = id, reason = %reason, "llm diagnosis not used, rules stand");
            Diagnosis { fallback_reason: Some(reason), ..rules.clone() }
        };
        if batch.report.top_errors.is_empty() {
            return Diagnosis { fallback_reason: Some("no error codes to diagnose".into()), ..rules };
        }
        let messages = prompt::messages(batch, &rules, self.kb);
        let done = match self.call(llm, store, id, day, &messages).await {
            Ok(done) => done,
            Err(reason) => return fallback(reason),
        };
        match prompt::parse_answer(&done.content, batch, &rules, self.kb, &llm.config().model) {
            Ok(diagnosis) => {
                tracing::info!(batch_id = id, "llm diagnosis");
                diagnosis
            }
            Err(why) => fallback(format!("llm answer did not parse: {why}")),
        }
    }

    /// Calls the LLM, retrying transient errors up to `max_retries` times. Every call is
    /// reserved in the day's budget before it is made and settled with what it cost, so a
    /// retry (of a call, or of the whole batch after a crash) is charged like any call.
    async fn call(
        &self,
        llm: &LlmClient,
        store: &Store,
        id: &str,
        day: &str,
        messages: &[serde_json::Value],
    ) -> Result<Completion, String> {
        let estimate = llm.estimate(messages);
        let config = llm.config();
        let mut retry = 0;
        loop {
            let ticket = match store.reserve_tokens(id, day, estimate, config.daily_token_budget).await {
                Ok(Reservation::Granted(ticket)) => ticket,
                Ok(Reservation::Refused { charged, budget }) => {
                    return Err(format!(
                        "daily token budget exhausted: {charged} of {budget} charged, the call needs about {estimate}{}",
                        after_retries(retry)
                    ));
                }
                Err(e) => return Err(format!("token budget unavailable: {e}")),
            };
            let result = llm.complete(messages).await;
            let (used, outcome) = match &result {
                Ok(done) => (done.total_tokens.unwrap_or(estimate), "ok"),
                // A timed-out request may still have been processed: charge the estimate.
                Err(CallError::Timeout) => (estimate, "timeout"),
                // Refused requests (5xx, 429) and unreachable servers are not billed.
                Err(CallError::Http { .. }) => (0, "http_error"),
                Err(CallError::Transport(_)) => (0, "transport_error"),
                Err(CallError::BadResponse { tokens, .. }) => (tokens.unwrap_or(estimate), "unparsable"),
            };
            if let Err(e) = store.settle_tokens(&ticket, used, outcome).await {
                tracing::warn!(batch_id = id, attempt = ticket.attempt, error = %e, "token usage not recorded");
            }
            let error = match result {
                Ok(done) => return Ok(done),
                Err(error) => error,
            };
            let delay = if retry < config.max_retries {
                error.retry_delay(retry + 1, config.retry_backoff)
            } else {
                None
            };
            let reason = match &error {
                CallError::Timeout => format!("llm timed out after {:?}", config.timeout),
                CallError::Http { status, body, .. } => format!("llm http error {status}: {body}"),
                CallError::Transport(e) => format!("llm unreachable: {e}"),
                CallError::BadResponse { reason, .. } => format!("llm answer did not parse: {reason}"),
            };
            let Some(delay) = delay else { return Err(format!("{reason}{}", after_retries(retry))) };
            retry += 1;
            tracing::info!(batch_id = id, retry, delay_ms = delay.as_millis() as u64, reason = %reason, "llm call retried");
            tokio::time::sleep(delay).await;
        }
    }
}

/// ", after 2 retries" for a fallback reason, nothing before any retry.
fn after_retries(retries: u32) -> String {
    match retries {
        0 => String::new(),
        1 => ", after 1 retry".to_owned(),
        n => format!(", after {n} retries"),
    }
}

/// The UTC calendar day of `t`, `YYYY-MM-DD` (the budget's key); a time before the
/// epoch counts as its first day.
pub fn utc_day(t: SystemTime) -> String {
    let mut day = humantime::format_rfc3339_seconds(t.max(SystemTime::UNIX_EPOCH)).to_string();
    day.truncate("YYYY-MM-DD".len());
    day
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::utc_day;

    #[test]
    fn utc_days() {
        assert_eq!(utc_day(UNIX_EPOCH), "1970-01-01");
        assert_eq!(utc_day(UNIX_EPOCH - Duration::from_secs(1)), "1970-01-01");
        assert_eq!(utc_day(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29");
        assert_eq!(utc_day(UNIX_EPOCH + Duration::from_secs(1_767_225_599)), "2025-12-31");
        assert_eq!(utc_day(UNIX_EPOCH + Duration::from_secs(1_767_225_600)), "2026-01-01");
    }
}

//! A local server speaking the OpenAI chat-completions wire format, with one behaviour per
//! test: a good answer, a slow one, a 500, a 429, garbage, or a sequence of those.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

#[derive(Debug, Clone)]
pub enum Behaviour {
    /// 200 with this message content and this `usage.total_tokens`.
    Answer { content: String, total_tokens: u64 },
    /// Waits this long before answering (well).
    Slow(Duration),
    /// This HTTP status with a short body.
    Status(u16),
    /// 429 with `Retry-After: <secs>`.
    RateLimited { retry_after_secs: u64 },
    /// The n-th request gets the n-th behaviour; the last one repeats.
    Sequence(Vec<Behaviour>),
    /// Waits this long before answering a request whose user message contains `needle`;
    /// answers the others at once (as `Slow` answers).
    StallIf { needle: String, delay: Duration },
}

pub struct LlmServer {
    pub base_url: String,
    requests: Arc<AtomicUsize>,
    last_body: Arc<Mutex<Option<serde_json::Value>>>,
    arrivals: Arc<Mutex<Vec<Instant>>>,
}

impl LlmServer {
    pub async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base_url = format!("http://{}/v1", listener.local_addr().expect("addr"));
        let requests = Arc::new(AtomicUsize::new(0));
        let last_body = Arc::new(Mutex::new(None));
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let (count, last, seen) = (requests.clone(), last_body.clone(), arrivals.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (behaviour, count, last, seen) =
                    (behaviour.clone(), count.clone(), last.clone(), seen.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, behaviour, count, last, seen).await;
                });
            }
        });
        LlmServer { base_url, requests, last_body, arrivals }
    }

    /// When each request arrived, in order.
    pub async fn arrivals(&self) -> Vec<Instant> {
        self.arrivals.lock().await.clone()
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    pub async fn last_body(&self) -> Option<serde_json::Value> {
        self.last_body.lock().await.clone()
    }
}

async fn serve(
    mut stream: TcpStream,
    behaviour: Behaviour,
    count: Arc<AtomicUsize>,
    last: Arc<Mutex<Option<serde_json::Value>>>,
    seen: Arc<Mutex<Vec<Instant>>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let index = count.fetch_add(1, Ordering::SeqCst);
    seen.lock().await.push(Instant::now());
    *last.lock().await = serde_json::from_slice(&buf[head_end..]).ok();
    let behaviour = match behaviour {
        Behaviour::Sequence(steps) => steps[index.min(steps.len() - 1)].clone(),
        other => other,
    };
    let mut headers = String::new();
    let (status, body) = match behaviour {
        Behaviour::Sequence(_) => unreachable!("sequences are not nested"),
        Behaviour::Answer { content, total_tokens } => (200, completion(&content, total_tokens)),
        Behaviour::RateLimited { retry_after_secs } => {
            headers = format!("retry-after: {retry_after_secs}\r\n");
            (429, r#"{"error":{"message":"slow down"}}"#.to_owned())
        }
        Behaviour::Slow(delay) => {
            tokio::time::sleep(delay).await;
            (200, completion("{}", 10))
        }
        Behaviour::Status(code) => (code, r#"{"error":{"message":"boom"}}"#.to_owned()),
        Behaviour::StallIf { needle, delay } => {
            let body: Option<serde_json::Value> = serde_json::from_slice(&buf[head_end..]).ok();
            let user = body.as_ref().and_then(|b| b["messages"][1]["content"].as_str()).unwrap_or_default();
            if user.contains(&needle) {
                tokio::time::sleep(delay).await;
            }
            (200, completion("{}", 10))
        }
    };
    let response = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

fn completion(content: &str, total_tokens: u64) -> String {
    serde_json::json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": "test-model",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": total_tokens / 2, "completion_tokens": total_tokens - total_tokens / 2,
                  "total_tokens": total_tokens},
    })
    .to_string()
}

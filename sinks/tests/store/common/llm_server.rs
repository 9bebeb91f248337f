//! A local server speaking the OpenAI chat-completions wire format, with one behaviour per
//! test: a good answer, a slow one, a 500, or garbage.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

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
    /// Waits this long before answering a request whose user message contains `needle`;
    /// answers the others at once (as `Slow` answers).
    StallIf { needle: String, delay: Duration },
}

pub struct LlmServer {
    pub base_url: String,
    requests: Arc<AtomicUsize>,
    last_body: Arc<Mutex<Option<serde_json::Value>>>,
}

impl LlmServer {
    pub async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base_url = format!("http://{}/v1", listener.local_addr().expect("addr"));
        let requests = Arc::new(AtomicUsize::new(0));
        let last_body = Arc::new(Mutex::new(None));
        let (count, last) = (requests.clone(), last_body.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (behaviour, count, last) = (behaviour.clone(), count.clone(), last.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, behaviour, count, last).await;
                });
            }
        });
        LlmServer { base_url, requests, last_body }
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
    count.fetch_add(1, Ordering::SeqCst);
    *last.lock().await = serde_json::from_slice(&buf[head_end..]).ok();
    let (status, body) = match behaviour {
        Behaviour::Answer { content, total_tokens } => (200, completion(&content, total_tokens)),
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
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
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

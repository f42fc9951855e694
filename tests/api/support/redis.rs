//! The Redis that stories about shared rate limits use: `TENANTRY_TEST_REDIS`, by default
//! `redis://127.0.0.1:6379`. When it is unreachable those stories are skipped with a notice,
//! unless `CI=true`, where they fail. Each story keeps its budgets under a prefix of its own,
//! so stories share one redis-server without sharing budgets.

const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";

/// The test Redis's URL, or `None` (with a notice) when it is unreachable outside CI.
pub async fn test_redis() -> Option<String> {
    let url = std::env::var("TENANTRY_TEST_REDIS").unwrap_or_else(|_| DEFAULT_REDIS.to_owned());
    match ping(&url).await {
        Ok(()) => Some(url),
        Err(error) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("Redis at {url} is required when CI=true but unreachable: {error}")
        }
        Err(error) => {
            eprintln!("skipping a Redis story: {url} is unreachable ({error})");
            None
        }
    }
}

async fn ping(url: &str) -> redis::RedisResult<()> {
    let client = redis::Client::open(url)?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    redis::cmd("PING")
        .query_async::<String>(&mut connection)
        .await
        .map(drop)
}

/// A key prefix no other story uses.
pub fn fresh_prefix() -> String {
    format!("tenantry-test:{}", uuid::Uuid::new_v4().simple())
}

/// A Redis URL where nothing listens: a port that was free a moment ago.
pub async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port");
    let port = listener.local_addr().expect("a local address").port();
    drop(listener);
    format!("redis://127.0.0.1:{port}")
}

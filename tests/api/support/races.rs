//! Races: many requests released at once.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::Barrier;

use super::{Answer, Client};

/// Sends every request at once, spread over `clients` in turn.
pub async fn all_at_once(
    clients: &[Client],
    requests: Vec<(reqwest::Method, String, Value)>,
) -> Vec<Answer> {
    let barrier = Arc::new(Barrier::new(requests.len()));
    let tasks: Vec<_> = requests
        .into_iter()
        .enumerate()
        .map(|(i, (method, path, body))| {
            let client = clients[i % clients.len()].clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                client.send(client.request(method, &path).json(&body)).await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("the request task runs"));
    }
    answers
}

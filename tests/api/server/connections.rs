//! Slow and idle clients cannot hold connections: a request head, a request body and the wait
//! between kept-alive requests each have a deadline (one second here), and the connection cap
//! holds further connections back until one closes. Stories talk raw HTTP/1.1 over TCP and
//! assert what the server does (close, answer), never how long it took.

use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::both;
use crate::support::wire::{read_answer, until_closed, RawAnswer, HEALTHZ};
use crate::support::Settings;

/// How often the slow clients below send one more piece.
const DRIP: Duration = Duration::from_millis(300);

both!(
    a_silent_connection_is_closed,
    Settings::short_timeouts(),
    |app| async move {
        let mut stream = app.connect().await;
        assert_eq!(until_closed(&mut stream).await, b"");
    }
);

both!(
    a_slow_header_sender_is_cut_off,
    Settings::short_timeouts(),
    |app| async move {
        let stream = app.connect().await;
        let (mut reader, mut writer) = stream.into_split();
        let drip = tokio::spawn(async move {
            let start = b"GET /healthz HTTP/1.1\r\nhost: tenantry\r\n";
            if writer.write_all(start).await.is_err() {
                return;
            }
            // One more header line at a time, never the blank line that ends the head.
            for n in 0.. {
                tokio::time::sleep(DRIP).await;
                let line = format!("x-slow-{n}: 1\r\n");
                if writer.write_all(line.as_bytes()).await.is_err() {
                    return;
                }
            }
        });
        let received = until_closed(&mut reader).await;
        drip.abort();
        assert_eq!(
            String::from_utf8_lossy(&received),
            "",
            "no answer to a head never finished"
        );
    }
);

both!(
    an_idle_keep_alive_connection_is_closed,
    Settings::short_timeouts(),
    |app| async move {
        let mut stream = app.connect().await;
        stream.write_all(HEALTHZ).await.expect("send a request");
        let answer = read_answer(&mut stream).await;
        assert_eq!(answer.status, 200);
        assert!(
            !answer.head.contains("connection: close"),
            "the first answer keeps the connection alive:\n{}",
            answer.head
        );
        assert_eq!(until_closed(&mut stream).await, b"");
    }
);

both!(
    a_body_that_never_completes_is_answered_408_and_closed,
    Settings::short_timeouts(),
    |app| async move {
        // With an Idempotency-Key, the key's middleware reads the body; without one, the JSON
        // extractor does. Both give the same answer.
        for extra in ["", "idempotency-key: slow-body\r\n"] {
            let stream = app.connect().await;
            let (mut reader, mut writer) = stream.into_split();
            let head = format!(
                "POST /api/v1/tenants HTTP/1.1\r\nhost: tenantry\r\n\
                 authorization: Bearer {}\r\ncontent-type: application/json\r\n\
                 content-length: 100000\r\n{extra}\r\n{{\"name\": \"",
                app.master_key()
            );
            let drip = tokio::spawn(async move {
                if writer.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                // A byte at a time: each arrives well within any per-read timeout, the whole
                // body never does.
                loop {
                    tokio::time::sleep(DRIP).await;
                    if writer.write_all(b"a").await.is_err() {
                        return;
                    }
                }
            });
            let received = until_closed(&mut reader).await;
            drip.abort();
            let answer = RawAnswer::parse(&received).unwrap_or_else(|| {
                panic!(
                    "no answer before closing: {}",
                    String::from_utf8_lossy(&received)
                )
            });
            assert_eq!(answer.status, 408, "{}", answer.head);
            assert!(
                answer
                    .head
                    .contains("content-type: application/problem+json"),
                "{}",
                answer.head
            );
            assert!(answer.head.contains("connection: close"), "{}", answer.head);
            let problem = answer.json();
            assert_eq!(problem["code"], "body_timeout", "{problem}");
            assert_eq!(problem["status"], 408, "{problem}");
        }
        assert!(app.platform().tenant_ids().await.is_empty());
    }
);

both!(
    connections_over_the_cap_wait_until_one_closes,
    Settings::max_connections(2),
    |app| async move {
        let mut first = app.connect().await;
        let mut second = app.connect().await;
        for stream in [&mut first, &mut second] {
            stream.write_all(HEALTHZ).await.expect("send a request");
            assert_eq!(read_answer(stream).await.status, 200);
        }

        // Both places are taken, and kept: a third connection is not served.
        let mut third = app.connect().await;
        third.write_all(HEALTHZ).await.expect("send a request");
        let mut byte = [0u8; 1];
        let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut byte)).await;
        assert!(early.is_err(), "a third connection was served: {early:?}");

        // One place frees up, and the waiting connection gets it.
        drop(first);
        assert_eq!(read_answer(&mut third).await.status, 200);

        drop(second);
        drop(third);
        app.anonymous()
            .get("/healthz")
            .await
            .assert_status(StatusCode::OK);
    }
);

//! The mail outbox delivered to a real SMTP conversation (a minimal SMTP
//! server of the test's own, on loopback).

use std::sync::{Arc, Mutex};

use careservice::config::ServerSettings;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::helpers::{eventually, fresh_database, spawn_app_on};

/// Accepts SMTP sessions and keeps each message's DATA.
async fn smtp_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let store = Arc::clone(&received);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ready\r\n").await.ok();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(message) = data.as_mut() {
                        if line == "." {
                            store.lock().unwrap().push(std::mem::take(message));
                            data = None;
                            write.write_all(b"250 queued\r\n").await.ok();
                        } else {
                            message.push_str(&line);
                            message.push('\n');
                        }
                        continue;
                    }
                    let verb = line.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 sink\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await.ok();
                            break;
                        }
                        _ => b"250 ok\r\n",
                    };
                    write.write_all(reply).await.ok();
                }
            });
        }
    });
    (port, received)
}

#[tokio::test]
async fn with_an_smtp_server_configured_the_reset_mail_is_delivered_by_smtp() {
    let (port, received) = smtp_sink().await;
    let settings = ServerSettings { smtp_url: Some(format!("smtp://127.0.0.1:{port}")), ..ServerSettings::default() };
    let app = spawn_app_on(fresh_database().await, settings).await;
    app.account("anna@voorbeeld.nl", "fiets-kaas-molen-regen", &[]).await;
    let requested = app
        .post("hq.localhost", "/api/v1/auth/password-reset/request", &json!({ "email": "anna@voorbeeld.nl" }), None)
        .await;
    assert_eq!(requested.status(), 202);
    let token = app.mailed_token_soon("anna@voorbeeld.nl").await;
    let delivered =
        eventually(std::time::Duration::from_secs(5), || async { !received.lock().unwrap().is_empty() }).await;
    assert!(delivered.is_some(), "no mail reached the SMTP server");
    let message = received.lock().unwrap()[0].clone();
    assert!(message.contains("To: anna@voorbeeld.nl"), "{message}");
    assert!(message.contains("Subject: Reset your password"), "{message}");
    assert!(message.contains(&token), "{message}");
}

//! Abuse limits through the real server: requests per token and per
//! address answered 429 with Retry-After, the request body size limit, and
//! the cap on one user's waiting jobs. Nothing over a limit changes anything.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod common;

use common::Server;
use serde_json::{Value, json};
use std::time::Duration;

/// Sends `n` requests at once-after-another speed; returns the statuses and the first 429.
async fn burst(
    c: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    n: usize,
) -> (Vec<u16>, Option<reqwest::Response>) {
    let mut statuses = Vec::new();
    let mut refused = None;
    for _ in 0..n {
        let mut req = c.get(url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        statuses.push(res.status().as_u16());
        if res.status() == 429 && refused.is_none() {
            refused = Some(res);
        }
    }
    (statuses, refused)
}

#[tokio::test]
async fn a_token_over_its_rate_is_told_when_to_come_back_and_others_are_not_held_up() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(
        &tmp.path().join("data"),
        &["--rate-limit-token", "5", "--rate-limit-address", "0"],
    );
    let c = common::http();
    let admin = server.token();
    let other: Value = c
        .post(format!("{}/api/v1/tokens", server.url))
        .bearer_auth(&admin)
        .json(&json!({"label": "second"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let other = other["token"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_secs(2)).await; // the allowance refills
    let whoami = format!("{}/api/v1/whoami", server.url);
    let (statuses, refused) = burst(&c, &whoami, Some(&admin), 40).await;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        (10..40).contains(&ok),
        "a burst of about twice the rate passes: {statuses:?}"
    );
    let refused = refused.expect("the rest are refused");
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["status"], 429);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("limit: 5 per second"),
        "{body}"
    );
    let res = c.get(&whoami).bearer_auth(&other).send().await.unwrap();
    assert_eq!(res.status(), 200, "another token has its own allowance");
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let res = c.get(&whoami).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(res.status(), 200, "after Retry-After the token works again");
}

#[tokio::test]
async fn an_address_over_its_rate_is_refused_on_the_api_and_the_portal() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(
        &tmp.path().join("data"),
        &["--rate-limit-address", "5", "--rate-limit-token", "0"],
    );
    let c = common::http();
    let (statuses, refused) = burst(&c, &format!("{}/healthz", server.url), None, 40).await;
    assert!(statuses.contains(&200) && refused.is_some(), "{statuses:?}");
    let res = c.get(format!("{}/login", server.url)).send().await.unwrap();
    assert_eq!(
        res.status(),
        429,
        "the portal shares the address's allowance"
    );
    assert!(res.headers().contains_key("retry-after"));
    assert!(res.headers().contains_key("content-security-policy"));
}

#[test]
fn one_users_waiting_jobs_are_capped_and_a_body_too_large_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = Server::start(&dir.join("data"), &["--max-queued-per-user", "3"]);
    let ids: Vec<i64> = (0..3)
        .map(|_| server.submit(dir, &["--hold", "--", "true"]))
        .collect();
    let out = server.aisc(dir, &["submit", "--hold", "--", "true"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("3 jobs waiting (limit: 3 per user)"), "{err}");
    let listed: Value = serde_json::from_str(&server.ok(dir, &["jobs", "--json"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 3, "nothing was stored");
    server.ok(dir, &["cancel", &ids[0].to_string()]);
    server.wait_state(dir, ids[0], "cancelled");
    server.submit(dir, &["--hold", "--", "true"]);

    // A body past the 4 MiB limit is refused before it is read whole.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, problem) = rt.block_on(async {
        let script = format!("#!/bin/sh\n#{}\ntrue\n", "x".repeat(5 << 20));
        let res = common::http()
            .post(format!("{}/api/v1/jobs", server.url))
            .bearer_auth(server.token())
            .json(&json!({"script": script, "chdir": "/tmp", "hold": true}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json::<Value>().await.unwrap())
    });
    assert_eq!(status, 413);
    assert_eq!(
        (problem["field"].as_str(), problem["limit"].as_str()),
        (Some("body"), Some("4194304 bytes"))
    );
    let listed: Value = serde_json::from_str(&server.ok(dir, &["jobs", "--json"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 4);
}

//! Data protection end to end: what a tenant puts in aisc is sealed at rest
//! (job scripts, environment values, logs, files), files are resumable,
//! checksummed and within quota, master keys rotate without downtime, and a
//! project can be exported, closed (crypto-shredding) and erased.
#![allow(clippy::unwrap_used)] // a test: a panic is a failed test

mod common;

use common::{Server, http};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const SECRET: &str = "unpublished-7c1e-result";

/// A server whose master key file lies outside its data directory, as SECURITY.md asks.
fn start(root: &Path) -> Server {
    let key = root.join("keys").join("master.key");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    Server::start(
        &root.join("data"),
        &[
            "--fake-gpus",
            "1",
            "--master-key-file",
            key.to_str().unwrap(),
        ],
    )
}

fn fails(out: &std::process::Output) -> String {
    assert!(!out.status.success(), "expected a failure: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn holding(dir: &Path, needle: &str) -> Vec<PathBuf> {
    files(dir)
        .into_iter()
        .filter(|f| {
            std::fs::read(f)
                .map(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

/// A job whose script, environment and output all carry the secret, and a file that does.
fn put_secrets(server: &Server, w: &Path) -> i64 {
    std::fs::write(
        w.join("job.sh"),
        format!(
            "#!/bin/sh\n#SBATCH --job-name=secretive\necho script-{SECRET}\necho \"env-$TOKEN\"\n"
        ),
    )
    .unwrap();
    let out = server.aisc_env(
        w,
        &["submit", "-A", "default", "--export", "TOKEN", "job.sh"],
        &[("TOKEN", &format!("{SECRET}-env"))],
    );
    assert!(out.status.success(), "{out:?}");
    let id: i64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    server.wait_state(w, id, "completed");
    std::fs::write(w.join("notes.txt"), format!("file-{SECRET}\n")).unwrap();
    server.ok(
        w,
        &[
            "data",
            "put",
            "notes.txt",
            "papers/notes.txt",
            "-A",
            "default",
            "-q",
        ],
    );
    id
}

/// The log, once sealed (sealing follows the job's end by a moment).
fn sealed_log(server: &Server, w: &Path, id: i64) -> String {
    let sealed = server
        .data_dir
        .join("jobs")
        .join(id.to_string())
        .join("output.log.sealed");
    for _ in 0..100 {
        if sealed.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(sealed.exists(), "the log was not sealed");
    server.ok(w, &["logs", &id.to_string()])
}

#[test]
fn a_known_secret_is_nowhere_in_clear_on_disk_yet_everything_reads_back() {
    let root = tempfile::tempdir().unwrap();
    let w = root.path();
    let mut server = start(w);
    let id = put_secrets(&server, w);
    let log = sealed_log(&server, w, id);
    assert!(log.contains(&format!("script-{SECRET}")), "{log}");
    assert!(log.contains(&format!("env-{SECRET}-env")), "{log}");

    let data = server.data_dir.clone();
    assert_eq!(
        holding(&data, SECRET),
        Vec::<PathBuf>::new(),
        "clear copies"
    );
    // Nor the script file the engine ran.
    assert!(
        !data
            .join("jobs")
            .join(id.to_string())
            .join("script")
            .exists()
    );

    // The same after a restart: everything is there, sealed, and reads back.
    server.stop();
    assert_eq!(holding(&data, SECRET), Vec::<PathBuf>::new());
    let server = start(w);
    let job = server.show(w, id);
    assert!(job["script"].as_str().unwrap().contains(SECRET));
    assert_eq!(job["env_names"], json!(["TOKEN"]));
    assert!(
        !job.to_string().contains(&format!("{SECRET}-env")),
        "env values are never shown"
    );
    assert!(server.ok(w, &["logs", &id.to_string()]).contains(SECRET));
    let got = server.ok(
        w,
        &["data", "get", "papers/notes.txt", "-", "-A", "default"],
    );
    assert_eq!(got, format!("file-{SECRET}\n"));
}

#[test]
fn the_master_key_can_come_from_the_environment_and_a_wrong_one_stops_the_start() {
    let root = tempfile::tempdir().unwrap();
    let w = root.path();
    let key = aisc_vault::MasterKey::generate().encode();
    let data = w.join("data");
    let mut server = Server::start_env(&data, &["--fake-gpus", "1"], &[("AISC_MASTER_KEY", &key)]);
    let id = put_secrets(&server, w);
    sealed_log(&server, w, id);
    let keys: Value = serde_json::from_str(&server.ok(w, &["keys", "list", "--json"])).unwrap();
    assert_eq!(keys["source"], "variable AISC_MASTER_KEY");
    assert!(
        !server.data_dir.join("master.key").exists(),
        "no key file when the variable gives it"
    );
    server.stop();

    let other = aisc_vault::MasterKey::generate().encode();
    let serve_with = |key: &str| {
        std::process::Command::new(common::AISC)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.join("srv"))
            .args(
                common::postgres_for(&data)
                    .map(|url| vec!["--database".to_string(), url])
                    .unwrap_or_default(),
            )
            .env("AISC_MASTER_KEY", key)
            .output()
            .unwrap()
    };
    let err = fails(&serve_with(&other));
    let kid = keys["masters"][0]["kid"].as_str().unwrap();
    assert!(err.contains(kid) && err.contains("not loaded"), "{err}");
    assert!(fails(&serve_with("aisc-mk1:short")).contains("AISC_MASTER_KEY"));
}

#[test]
fn rotation_keeps_everything_readable_and_the_old_key_can_then_be_retired() {
    let root = tempfile::tempdir().unwrap();
    let w = root.path();
    let mut server = start(w);
    let id = put_secrets(&server, w);
    sealed_log(&server, w, id);
    let before: Value = serde_json::from_str(&server.ok(w, &["keys", "list", "--json"])).unwrap();
    let old = before["masters"][0]["kid"].as_str().unwrap().to_string();
    let rotated: Value =
        serde_json::from_str(&server.ok(w, &["keys", "rotate", "--json"])).unwrap();
    assert_eq!(rotated["rewrapped"], before["masters"][0]["data_keys"]);
    let new = rotated["masters"][0]["kid"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(rotated["masters"][1]["data_keys"], 0);
    // No downtime: the same server reads on.
    assert!(server.ok(w, &["logs", &id.to_string()]).contains(SECRET));
    // The current key cannot be retired; the old one can, and leaves the file.
    let out = server.aisc(w, &["keys", "retire", &new]);
    assert!(fails(&out).contains("current"));
    server.ok(w, &["keys", "retire", &old]);
    let file = std::fs::read_to_string(w.join("keys").join("master.key")).unwrap();
    assert!(file.contains(&new) && !file.contains(&old), "{file}");
    // A restart with the new key alone reads everything.
    server.stop();
    let server = start(w);
    assert!(
        server.show(w, id)["script"]
            .as_str()
            .unwrap()
            .contains(SECRET)
    );
    assert!(server.ok(w, &["logs", &id.to_string()]).contains(SECRET));
    let got = server.ok(
        w,
        &["data", "get", "papers/notes.txt", "-", "-A", "default"],
    );
    assert!(got.contains(SECRET));
    // Auditors read the keys' state but cannot rotate.
    server.user_with_password(w, "ava", "auditor", "correct horse battery");
    let token = login(&server, "ava", "correct horse battery");
    let as_ava = |args: &[&str]| server.aisc_env(w, args, &[("AISC_TOKEN", &token)]);
    assert!(as_ava(&["keys", "list"]).status.success());
    assert!(fails(&as_ava(&["keys", "rotate"])).contains("auditors"));
}

fn login(server: &Server, user: &str, password: &str) -> String {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let v: Value = http()
            .post(format!("{}/api/v1/login", server.url))
            .json(&json!({"user": user, "password": password}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["token"].as_str().unwrap().to_string()
    })
}

#[test]
fn uploads_resume_after_a_torn_part_are_checksummed_and_kept_within_quota() {
    let root = tempfile::tempdir().unwrap();
    let w = root.path();
    let server = start(w);
    let token = server.token();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let body: Vec<u8> = (0..(3 * 65536 + 100)).map(|i| (i % 251) as u8).collect();
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
    let url = |p: &str| format!("{}/api/v1{p}", server.url);
    rt.block_on(async {
        let c = http();
        let send = |req: reqwest::RequestBuilder| {
            let token = token.clone();
            async move { req.bearer_auth(token).send().await.unwrap() }
        };
        // Bad paths, sizes and checksums name their field and store nothing.
        for (path, size, sum, field) in [
            ("../escape", 1, sha.as_str(), "path"),
            ("/abs", 1, sha.as_str(), "path"),
            ("a//b", 1, sha.as_str(), "path"),
            ("ok", -1, sha.as_str(), "size"),
            ("ok", 1, "xyz", "sha256"),
        ] {
            let r = send(
                c.post(url("/projects/default/uploads"))
                    .json(&json!({"path": path, "size": size, "sha256": sum})),
            )
            .await;
            assert_eq!(r.status(), 422, "{path} {size} {sum}");
            let p: Value = r.json().await.unwrap();
            assert_eq!(p["field"], field, "{p}");
        }
        let up: Value = send(
            c.post(url("/projects/default/uploads"))
                .json(&json!({"path": "d/x.bin", "size": body.len(), "sha256": sha})),
        )
        .await
        .json()
        .await
        .unwrap();
        let id = up["id"].as_i64().unwrap();
        let part = |offset: usize, bytes: &[u8]| {
            c.put(url(&format!("/uploads/{id}?offset={offset}")))
                .header("content-type", "application/octet-stream")
                .body(bytes.to_vec())
        };
        assert_eq!(send(part(0, &body[..2 * 65536])).await.status(), 200);
        // A crash mid-part leaves a torn chunk: the next status drops it.
        let file = server.data_dir.join("objects/1").join(id.to_string());
        let mut torn = std::fs::read(&file).unwrap();
        torn.extend_from_slice(&[0u8; 777]);
        std::fs::write(&file, torn).unwrap();
        let st: Value = send(c.get(url(&format!("/uploads/{id}"))))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(st["offset"], 2 * 65536);
        // A part at the wrong offset is refused, naming where to resume.
        let r = send(part(65536, &body[65536..])).await;
        assert_eq!(r.status(), 409);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains(&format!("offset {}", 2 * 65536))
        );
        // Completing early says how far it got.
        let r = send(c.post(url(&format!("/uploads/{id}/complete")))).await;
        assert_eq!(r.status(), 422);
        assert_eq!(
            send(part(2 * 65536, &body[2 * 65536..])).await.status(),
            200
        );
        let done: Value = send(c.post(url(&format!("/uploads/{id}/complete"))))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(done["sha256"], sha);
        // A ranged download resumes from a byte.
        let r = send(
            c.get(url("/projects/default/data/d/x.bin"))
                .header("range", "bytes=70000-"),
        )
        .await;
        assert_eq!(r.status(), 206);
        assert_eq!(r.headers()["x-aisc-sha256"], sha.as_str());
        assert_eq!(&r.bytes().await.unwrap()[..], &body[70000..]);

        // A declared checksum the bytes do not have: refused and discarded.
        let wrong = "0".repeat(64);
        let up: Value = send(
            c.post(url("/projects/default/uploads"))
                .json(&json!({"path": "bad", "size": 3, "sha256": wrong})),
        )
        .await
        .json()
        .await
        .unwrap();
        let bad = up["id"].as_i64().unwrap();
        send(
            c.put(url(&format!("/uploads/{bad}?offset=0")))
                .body(b"abc".to_vec()),
        )
        .await;
        let r = send(c.post(url(&format!("/uploads/{bad}/complete")))).await;
        assert_eq!(r.status(), 422);
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["field"], "sha256");
        assert_eq!(
            send(c.get(url(&format!("/uploads/{bad}")))).await.status(),
            404
        );
    });

    // The CLI resumes a download from FILE.part and checks what it gets.
    std::fs::write(w.join("x.bin.part"), &body[..1000]).unwrap();
    server.ok(w, &["data", "get", "d/x.bin", "-A", "default", "-q"]);
    assert_eq!(std::fs::read(w.join("x.bin")).unwrap(), body);
    std::fs::write(w.join("y.bin.part"), vec![9u8; 1000]).unwrap();
    let out = server.aisc(
        w,
        &["data", "get", "d/x.bin", "y.bin", "-A", "default", "-q"],
    );
    assert!(fails(&out).contains("SHA-256"));
    assert!(!w.join("y.bin").exists() && !w.join("y.bin.part").exists());

    // Quota: a file that does not fit is refused, naming the limit; nothing changes.
    server.ok(w, &["data", "quota", "default", "1M"]);
    std::fs::write(w.join("big"), vec![1u8; 2 << 20]).unwrap();
    let err = fails(&server.aisc(w, &["data", "put", "big", "-A", "default", "-q"]));
    assert!(
        err.contains("size") && err.contains("1048576 bytes"),
        "{err}"
    );
    let list: Value =
        serde_json::from_str(&server.ok(w, &["data", "ls", "-A", "default", "--json"])).unwrap();
    assert_eq!(list["files"].as_array().unwrap().len(), 1);
    server.ok(w, &["data", "rm", "d/x.bin", "-A", "default"]);
    let list: Value =
        serde_json::from_str(&server.ok(w, &["data", "ls", "-A", "default", "--json"])).unwrap();
    assert_eq!(list["files"], json!([]));
    assert_eq!(list["used_bytes"], 0);

    // Another tenant's member and an auditor see no file.
    server.ok(w, &["org", "create", "other", "--kind", "enterprise"]);
    server.user_with_password(w, "eve", "user", "correct horse battery");
    server.ok(
        w,
        &[
            "project", "create", "theirs", "--org", "other", "--pi", "eve",
        ],
    );
    let eve = login(&server, "eve", "correct horse battery");
    let out = server.aisc_env(w, &["data", "ls", "-A", "default"], &[("AISC_TOKEN", &eve)]);
    assert!(fails(&out).contains("not found"));
    server.user_with_password(w, "ava", "auditor", "correct horse battery");
    let ava = login(&server, "ava", "correct horse battery");
    let out = server.aisc_env(w, &["data", "ls", "-A", "default"], &[("AISC_TOKEN", &ava)]);
    assert!(fails(&out).contains("auditors"));
}

#[test]
fn a_project_is_exported_then_closed_by_shredding_its_key_then_erased() {
    let root = tempfile::tempdir().unwrap();
    let w = root.path();
    let server = start(w);
    let id = put_secrets(&server, w);
    sealed_log(&server, w, id);

    server.ok(w, &["project", "export", "default", "-o", "out"]);
    let export: Value =
        serde_json::from_str(&std::fs::read_to_string(w.join("out/project.json")).unwrap())
            .unwrap();
    let job = &export["jobs"].as_array().unwrap()[0];
    assert_eq!(job["id"], id);
    assert!(job["script"].as_str().unwrap().contains(SECRET));
    assert!(
        !export.to_string().contains(&format!("{SECRET}-env")),
        "no env values"
    );
    assert!(
        export["audit"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "data.put")
    );
    assert_eq!(export["grants"].as_array().unwrap().len(), 1);
    let log = std::fs::read_to_string(w.join(format!("out/logs/{id}/output.log"))).unwrap();
    assert!(log.contains(SECRET));
    assert_eq!(
        std::fs::read_to_string(w.join("out/files/papers/notes.txt")).unwrap(),
        format!("file-{SECRET}\n")
    );
    // An existing export is not overwritten.
    assert!(
        fails(&server.aisc(w, &["project", "export", "default", "-o", "out"]))
            .contains("not empty")
    );

    // Closing needs the name again, and no job may still run.
    assert!(fails(&server.aisc(w, &["project", "close", "default"])).contains("--confirm default"));
    let out = server.aisc(w, &["project", "close", "default", "--confirm", "defualt"]);
    assert!(fails(&out).contains("confirm"));
    let sleeper = server.submit(w, &["-A", "default", "--", "sleep", "60"]);
    server.wait_state(w, sleeper, "running");
    let out = server.aisc(w, &["project", "close", "default", "--confirm", "default"]);
    assert!(fails(&out).contains("not ended"));
    server.ok(w, &["cancel", &sleeper.to_string()]);
    server.wait_state(w, sleeper, "cancelled");
    let charged_before = server.ok(w, &["grants", "--json"]);
    server.ok(w, &["project", "close", "default", "--confirm", "default"]);

    // Gone: the script, the log, the files; the job's facts and the money stay.
    let job = server.show(w, id);
    assert_eq!(job["script"], Value::Null);
    assert_eq!(job["state"], "completed");
    assert!(fails(&server.aisc(w, &["logs", &id.to_string()])).contains("destroyed"));
    assert!(fails(&server.aisc(w, &["data", "ls", "-A", "default"])).contains("closed"));
    assert!(!server.data_dir.join("jobs").join(id.to_string()).exists());
    assert_eq!(server.ok(w, &["grants", "--json"]), charged_before);
    let keys: Value = serde_json::from_str(&server.ok(w, &["keys", "list", "--json"])).unwrap();
    assert_eq!(keys["destroyed_data_keys"], 1);
    assert!(fails(&server.aisc(w, &["submit", "-A", "default", "--", "true"])).contains("grant"));
    assert_eq!(holding(&server.data_dir, SECRET), Vec::<PathBuf>::new());

    // Erasing (administrators) removes names and members; the audit chain still verifies.
    server.ok(w, &["project", "erase", "default", "--confirm", "default"]);
    let job = server.show(w, id);
    assert_eq!(job["name"], "erased");
    let p: Value =
        serde_json::from_str(&server.ok(w, &["project", "show", "default", "--json"])).unwrap();
    assert_eq!(p["members"], json!([]));
    server.ok(w, &["audit", "verify"]);
}

#[test]
fn logs_left_in_clear_by_a_stop_are_sealed_at_the_next_start() {
    let root = tempfile::tempdir().unwrap();
    let w = root.path();
    let mut server = start(w);
    let id = server.submit(w, &["-A", "default", "--", "echo", "hello"]);
    server.wait_state(w, id, "completed");
    sealed_log(&server, w, id);
    server.stop();
    // As if the server had stopped between the job's end and the sealing.
    let dir = server.data_dir.join("jobs").join(id.to_string());
    std::fs::remove_file(dir.join("output.log.sealed")).unwrap();
    std::fs::write(dir.join("output.log"), format!("clear-{SECRET}\n")).unwrap();
    std::fs::write(dir.join("script"), "#!/bin/sh\n").unwrap();
    // And a sealed file that no row names (a removal cut short).
    let stray = server.data_dir.join("objects").join("1").join("999999");
    std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
    std::fs::write(&stray, b"junk").unwrap();

    let server = start(w);
    assert!(
        !stray.exists(),
        "the stray file was removed before the server took requests"
    );
    let log = sealed_log(&server, w, id);
    assert_eq!(log, format!("clear-{SECRET}\n"));
    assert!(!dir.join("output.log").exists() && !dir.join("script").exists());
    assert_eq!(holding(&server.data_dir, SECRET), Vec::<PathBuf>::new());
}

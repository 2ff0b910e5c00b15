//! `aisc serve --tls-cert --tls-key`: https with a certificate made here by
//! `openssl`, the CLI trusting it through `AISC_CA_CERT`, HSTS and Secure
//! cookies, and a bad certificate or key stopping the start with its name.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod common;

use common::{AISC, Server};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A centre's own CA, and a server certificate it signed for 127.0.0.1 and
/// localhost, with its key: (CA, certificate, key).
fn certificate(dir: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let p = |name: &str| dir.join(name);
    let ext = p("ext.cnf");
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let steps: [Vec<&str>; 3] = [
        [
            &["req", "-x509", "-days", "2", "-subj", "/CN=aisc test CA"][..],
            &ec[..],
        ]
        .concat(),
        [&["req", "-subj", "/CN=localhost"][..], &ec[..]].concat(),
        vec!["x509", "-req", "-days", "2", "-CAcreateserial"],
    ];
    let files: [Vec<PathBuf>; 3] = [
        vec!["-keyout".into(), p("ca.key"), "-out".into(), p("ca.pem")],
        vec!["-keyout".into(), p("key.pem"), "-out".into(), p("leaf.csr")],
        vec![
            "-in".into(),
            p("leaf.csr"),
            "-CA".into(),
            p("ca.pem"),
            "-CAkey".into(),
            p("ca.key"),
            "-extfile".into(),
            ext.clone(),
            "-out".into(),
            p("cert.pem"),
        ],
    ];
    for (args, files) in steps.iter().zip(&files) {
        let made = Command::new("openssl").args(args).args(files).output();
        match made {
            Ok(o) if o.status.success() => {}
            other => {
                let msg = format!(
                    "the TLS test needs the openssl command to make certificates: {other:?}"
                );
                if std::env::var_os("CI").is_some() {
                    panic!("{msg}");
                }
                eprintln!("SKIPPED: {msg}");
                return None;
            }
        }
    }
    Some((p("ca.pem"), p("cert.pem"), p("key.pem")))
}

#[tokio::test]
async fn https_is_served_with_hsts_and_secure_cookies_and_the_cli_trusts_the_centres_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let Some((ca, cert, key)) = certificate(dir) else {
        return;
    };
    let server = Server::start(
        &dir.join("data"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );

    // The CLI, trusting the certificate.
    let ca = ca.to_str().unwrap();
    let out = server.aisc_env(dir, &["whoami"], &[("AISC_CA_CERT", ca)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("admin"));
    let id = server.aisc_env(
        dir,
        &["submit", "--hold", "--", "true"],
        &[("AISC_CA_CERT", ca)],
    );
    assert!(
        id.status.success(),
        "{}",
        String::from_utf8_lossy(&id.stderr)
    );
    // Not trusting it: refused, and told how to trust it.
    let out = server.aisc(dir, &["whoami"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("certificate") && err.contains("AISC_CA_CERT"),
        "{err}"
    );

    let pem = std::fs::read(ca).unwrap();
    let ca_cert = reqwest::Certificate::from_pem(&pem).unwrap();
    let c = common::http_with(|b| {
        b.tls_certs_merge([ca_cert.clone()])
            .redirect(reqwest::redirect::Policy::none())
    });
    let res = c.get(format!("{}/login", server.url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let login_cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect::<Vec<_>>();
    assert!(
        login_cookie.iter().all(|c| c.contains("Secure")),
        "{login_cookie:?}"
    );
    // Plain http to the https port gets no answer it could mistake for one.
    let plain = common::http()
        .get(server.url.replace("https://", "http://") + "/healthz")
        .send()
        .await;
    assert!(plain.map(|r| r.status() != 200).unwrap_or(true));
}

#[test]
fn a_bad_certificate_or_key_stops_the_start_naming_the_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let Some((_, cert, key)) = certificate(dir) else {
        return;
    };
    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let missing = dir.join("missing.pem");
    for (c, k) in [(&junk, &key), (&cert, &junk), (&missing, &key)] {
        let out = Command::new(AISC)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.join("data"))
            .arg("--tls-cert")
            .arg(c)
            .arg("--tls-key")
            .arg(k)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--tls-cert") && err.contains(&c.display().to_string()),
            "{err}"
        );
    }
    let out = Command::new(AISC)
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--tls-key"),
        "both or neither"
    );
}

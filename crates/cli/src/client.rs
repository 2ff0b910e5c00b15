//! Talking to the server: where it is, which token, and errors in one line.

use anyhow::{Context, Result, anyhow, bail};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::path::PathBuf;

/// The default server address.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// A client bound to one server and token.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

#[derive(Debug, Deserialize)]
struct Problem {
    detail: String,
    field: Option<String>,
    limit: Option<String>,
}

/// The user's aisc config directory: `$AISC_CONFIG_DIR`, else `$XDG_CONFIG_HOME/aisc`, else `~/.config/aisc`.
pub fn config_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("AISC_CONFIG_DIR") {
        return Ok(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("aisc"));
    }
    let home =
        std::env::var_os("HOME").context("cannot find the config directory: HOME is not set")?;
    Ok(PathBuf::from(home).join(".config").join("aisc"))
}

/// The server's base URL.
pub fn base_url() -> String {
    std::env::var("AISC_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_URL.into())
}

/// The token: `$AISC_TOKEN`, else the one `aisc login` stored, else the local
/// server's `./aisc-data/admin-token` when this user can read it.
pub fn find_token() -> Result<String> {
    if let Ok(t) = std::env::var("AISC_TOKEN")
        && !t.trim().is_empty()
    {
        return Ok(t.trim().to_string());
    }
    let stored = config_dir()?.join("token");
    let local =
        PathBuf::from(std::env::var_os("AISC_DATA_DIR").unwrap_or_else(|| "aisc-data".into()))
            .join("admin-token");
    for path in [stored, local] {
        if let Ok(t) = std::fs::read_to_string(&path)
            && !t.trim().is_empty()
        {
            return Ok(t.trim().to_string());
        }
    }
    bail!(
        "no API token: set AISC_TOKEN, or run `aisc login --token-file FILE` (the first `aisc serve` writes the admin's token to <data-dir>/admin-token)"
    )
}

/// The HTTP client every command uses: https through rustls, trusting the
/// system's roots and, when `AISC_CA_CERT` names a PEM file, that CA too (a
/// centre's own, or a test certificate).
pub fn http_client() -> Result<reqwest::Client> {
    let mut ca = Vec::new();
    if let Some(path) = std::env::var_os("AISC_CA_CERT") {
        let path = std::path::PathBuf::from(path);
        let pem =
            std::fs::read(&path).map_err(|e| anyhow!("AISC_CA_CERT {}: {e}", path.display()))?;
        ca = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| anyhow!("AISC_CA_CERT {}: not PEM certificates: {e}", path.display()))?;
    }
    Ok(aisc_engine::http_client(|| {
        reqwest::Client::builder()
            .user_agent(concat!("aisc/", env!("CARGO_PKG_VERSION")))
            .tls_certs_merge(ca.clone())
    })?)
}

impl Client {
    /// A client for `AISC_URL` with the token from [`find_token`].
    pub fn from_env() -> Result<Client> {
        Client::new(base_url(), find_token()?)
    }

    /// A client for `base` with `token`.
    pub fn new(base: String, token: String) -> Result<Client> {
        let http = http_client()?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_string(),
            token,
        })
    }

    /// A request to `path` under the base URL, with the token.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// Sends, and turns an error answer into one clear message.
    pub async fn send(&self, req: RequestBuilder) -> Result<Response> {
        let res = req.send().await.map_err(|e| {
            // reqwest's own message stops at "error sending request": the cause (refused, bad certificate) is below it.
            let mut cause = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                cause = format!("{cause}: {s}");
                src = s.source();
            }
            let tls = if self.base.starts_with("https://") {
                " For a certificate from your centre's own CA, set AISC_CA_CERT to its PEM file."
            } else {
                ""
            };
            anyhow!("cannot reach the aisc server at {} ({cause}); is `aisc serve` running? (set AISC_URL to point elsewhere){tls}", self.base)
        })?;
        if res.status().is_success() {
            return Ok(res);
        }
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        Err(match serde_json::from_str::<Problem>(&text) {
            Ok(p) => {
                let mut msg = match p.field {
                    Some(f) => format!("{f}: {}", p.detail),
                    None => p.detail,
                };
                if let Some(limit) = p.limit {
                    msg.push_str(&format!(" (limit: {limit})"));
                }
                if status == StatusCode::UNAUTHORIZED {
                    msg.push_str(" (check AISC_TOKEN or run `aisc login`)");
                }
                anyhow!(msg)
            }
            Err(_) => anyhow!("the server answered {status}: {}", text.trim()),
        })
    }

    /// GET and decode JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let res = self.send(self.request(Method::GET, path)).await?;
        res.json()
            .await
            .context("the server's answer is not the JSON expected")
    }

    /// POST JSON and decode JSON.
    pub async fn post_json<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let res = self
            .send(self.request(Method::POST, path).json(body))
            .await?;
        res.json()
            .await
            .context("the server's answer is not the JSON expected")
    }

    /// PUTs JSON and decodes the JSON answer.
    pub async fn put_json<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let res = self
            .send(self.request(Method::PUT, path).json(body))
            .await?;
        res.json()
            .await
            .context("the server's answer is not the JSON expected")
    }

    /// PATCHes JSON and decodes the JSON answer.
    pub async fn patch_json<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let res = self
            .send(self.request(Method::PATCH, path).json(body))
            .await?;
        res.json()
            .await
            .context("the server's answer is not the JSON expected")
    }
}

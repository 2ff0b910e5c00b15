//! Talking to the server: where it is, which token, and errors in one line.

use anyhow::{Context, Result, anyhow, bail};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::path::PathBuf;

/// The default server address.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// A WebSocket to the server (an interactive job's terminal).
pub type WebSocket = tokio_tungstenite::WebSocketStream<reqwest::Upgraded>;

/// An error answer as one clear message: the problem's field, detail and limit.
async fn problem(res: Response) -> anyhow::Error {
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    match serde_json::from_str::<Problem>(&text) {
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
    }
}

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

    /// The job agent's client for the relay at `base`: https trusting the
    /// system's roots and, when given, the server's own certificate (PEM).
    pub fn for_relay(base: String, ca_pem: Option<&str>) -> Result<Client> {
        let mut ca = Vec::new();
        if let Some(pem) = ca_pem {
            ca = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| anyhow!("AISC_RELAY_CA_PEM: not PEM certificates: {e}"))?;
        }
        let http = aisc_engine::http_client(|| {
            reqwest::Client::builder()
                .user_agent(concat!("aisc-agent/", env!("CARGO_PKG_VERSION")))
                .tls_certs_merge(ca.clone())
        })?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_string(),
            token: String::new(),
        })
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
        let res = self.transmit(req).await?;
        if res.status().is_success() {
            return Ok(res);
        }
        Err(problem(res).await)
    }

    /// A request to `path` under the base URL without the user's token (the
    /// job agent's, which presents the job's relay token instead).
    pub fn request_untokened(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// Opens a WebSocket with `req` (a GET made by [`Client::request`] or
    /// [`Client::request_untokened`]): the HTTP upgrade through this client's
    /// connection (its TLS, its CA), then WebSocket frames over it.
    pub async fn websocket(&self, req: RequestBuilder) -> Result<WebSocket> {
        use sha2::Digest as _;
        let nonce = sha2::Sha256::new()
            .chain_update(std::process::id().to_le_bytes())
            .chain_update(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_nanos()
                    .to_le_bytes(),
            )
            .finalize();
        let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &nonce[..16]);
        let req = req
            .header(reqwest::header::CONNECTION, "Upgrade")
            .header(reqwest::header::UPGRADE, "websocket")
            .header(reqwest::header::SEC_WEBSOCKET_VERSION, "13")
            .header(reqwest::header::SEC_WEBSOCKET_KEY, key);
        let res = self.transmit(req).await?;
        if res.status() != StatusCode::SWITCHING_PROTOCOLS {
            return Err(problem(res).await);
        }
        let upgraded = res
            .upgrade()
            .await
            .context("the server did not switch to WebSocket")?;
        Ok(tokio_tungstenite::WebSocketStream::from_raw_socket(
            upgraded,
            tokio_tungstenite::tungstenite::protocol::Role::Client,
            None,
        )
        .await)
    }

    /// Sends, saying clearly why the server could not be reached.
    async fn transmit(&self, req: RequestBuilder) -> Result<Response> {
        req.send().await.map_err(|e| {
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

//! `aisc user ...`, `aisc token ...` and password login.

use crate::client::{Client, base_url, config_dir};
use crate::format::{short_time, table};
use aisc_api::identity::{IssuedToken, TokenView, UserView};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::json;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(subcommand)]
    command: UserCmd,
}

#[derive(Debug, Subcommand)]
enum UserCmd {
    /// Create a user (administrators).
    Create {
        /// User name: a-z, 0-9, '.', '_', '-'.
        name: String,
        /// admin, reviewer, auditor or user.
        #[arg(long, default_value = "user")]
        role: String,
        /// Read the new user's password from standard input (otherwise the user has none and needs a token).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users (administrators).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set USER's password (your own, or anyone's as an administrator), so they can log in
    /// with it: `aisc login`, the web portal. Changing your own asks for the current one.
    SetPassword {
        /// The aisc user.
        user: String,
        /// Read from standard input instead of prompting: the new password, or for your
        /// own, two lines: the current password (empty if none is set), then the new one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Give USER another centre role (administrators); it applies at once to all their tokens.
    SetRole {
        /// The aisc user.
        user: String,
        /// admin, reviewer, auditor or user.
        role: String,
    },
    /// Set the Unix user name USER's jobs run as on Slurm (administrators); `--clear` removes it.
    SetUnixName {
        /// The aisc user.
        user: String,
        /// Their Unix (Slurm) user name.
        #[arg(required_unless_present = "clear")]
        unix_name: Option<String>,
        /// Remove the mapping instead.
        #[arg(long, conflicts_with = "unix_name")]
        clear: bool,
    },
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    command: TokenCmd,
}

#[derive(Debug, Subcommand)]
enum TokenCmd {
    /// Create a token for yourself; it is printed once, on standard output.
    Create {
        /// What it is for.
        #[arg(long, default_value = "api")]
        label: String,
        /// Lifetime, e.g. 90d, 12h (at most 365d).
        #[arg(long, default_value = "90d")]
        expires: String,
        /// May only read (GET), never change anything.
        #[arg(long)]
        read_only: bool,
    },
    /// List your tokens (never the tokens themselves).
    List {
        /// Everyone's (administrators).
        #[arg(long)]
        all: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke tokens by id; takes effect at once.
    Revoke {
        /// Token ids.
        #[arg(required = true)]
        ids: Vec<i64>,
    },
}

fn read_stdin_secret() -> Result<String> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .context("cannot read standard input")?;
    Ok(s.trim_end_matches(['\n', '\r']).to_string())
}

pub async fn user(a: UserArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    match a.command {
        UserCmd::Create {
            name,
            role,
            password_stdin,
        } => {
            let password = if password_stdin {
                Some(read_stdin_secret()?)
            } else {
                None
            };
            let u: UserView = client
                .post_json(
                    "/api/v1/users",
                    &json!({"name": name, "role": role, "password": password}),
                )
                .await?;
            eprintln!(
                "aisc: created user {} ({}){}",
                u.name,
                u.role,
                if u.has_password {
                    " with a password"
                } else {
                    ""
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        UserCmd::List { json } => {
            let users: Vec<UserView> = client.get_json("/api/v1/users").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                let rows: Vec<Vec<String>> = users
                    .iter()
                    .map(|u| {
                        vec![
                            u.id.to_string(),
                            u.name.clone(),
                            u.role.clone(),
                            if u.has_password { "yes" } else { "no" }.into(),
                            u.unix_name.clone().unwrap_or_else(|| "-".into()),
                            short_time(&u.created_at),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    table(
                        &["ID", "NAME", "ROLE", "PASSWORD", "UNIX", "CREATED"],
                        &rows
                    )
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        UserCmd::SetPassword {
            user,
            password_stdin,
        } => {
            let me: aisc_api::jobs::WhoAmI = client.get_json("/api/v1/whoami").await?;
            let own = me.name == user;
            let (current, password) = if password_stdin {
                let text = read_stdin_secret()?;
                match text.split_once('\n') {
                    Some((cur, new)) if own => (
                        Some(cur.trim_end_matches('\r').to_string()),
                        new.to_string(),
                    ),
                    _ => (None, text),
                }
            } else {
                let current = if own {
                    Some(
                        rpassword::prompt_password("Current password (empty if none): ").context(
                            "cannot read the password (no terminal? use --password-stdin)",
                        )?,
                    )
                } else {
                    None
                };
                let first = rpassword::prompt_password(format!("New password for {user}: "))
                    .context("cannot read the password (no terminal? use --password-stdin)")?;
                let again =
                    rpassword::prompt_password("Again: ").context("cannot read the password")?;
                if first != again {
                    bail!("the passwords differ; nothing was changed");
                }
                (current, first)
            };
            let current = current.filter(|c| !c.is_empty());
            let u: UserView = client
                .put_json(
                    &format!("/api/v1/users/{user}/password"),
                    &json!({ "password": password, "current": current }),
                )
                .await?;
            eprintln!("aisc: {} can log in with the new password", u.name);
            Ok(ExitCode::SUCCESS)
        }
        UserCmd::SetRole { user, role } => {
            let u: UserView = client
                .put_json(
                    &format!("/api/v1/users/{user}/role"),
                    &json!({ "role": role }),
                )
                .await?;
            eprintln!("aisc: {} is now {}", u.name, u.role);
            Ok(ExitCode::SUCCESS)
        }
        UserCmd::SetUnixName {
            user, unix_name, ..
        } => {
            let u: UserView = client
                .put_json(
                    &format!("/api/v1/users/{user}/unix-name"),
                    &json!({ "unix_name": unix_name }),
                )
                .await?;
            match u.unix_name {
                Some(n) => eprintln!("aisc: {}'s jobs run on Slurm as {n}", u.name),
                None => eprintln!("aisc: {} has no Unix name now", u.name),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub async fn token(a: TokenArgs) -> Result<ExitCode> {
    let client = Client::from_env()?;
    match a.command {
        TokenCmd::Create {
            label,
            expires,
            read_only,
        } => {
            let scope = if read_only { "read" } else { "full" };
            let t: IssuedToken = client
                .post_json(
                    "/api/v1/tokens",
                    &json!({"label": label, "expires": expires, "scope": scope}),
                )
                .await?;
            eprintln!(
                "aisc: token {} ({}, {}) expires {}; it is shown only now",
                t.id,
                t.label,
                t.scope,
                short_time(&t.expires_at)
            );
            println!("{}", t.token);
            Ok(ExitCode::SUCCESS)
        }
        TokenCmd::List { all, json } => {
            let tokens: Vec<TokenView> = client
                .get_json(&format!("/api/v1/tokens?all={all}"))
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tokens)?);
            } else {
                let rows: Vec<Vec<String>> = tokens
                    .iter()
                    .map(|t| {
                        let state = match (&t.revoked_at, &t.expires_at) {
                            (Some(r), _) => format!("revoked {}", short_time(r)),
                            (None, Some(e)) => format!("expires {}", short_time(e)),
                            (None, None) => "never expires".into(),
                        };
                        vec![
                            t.id.to_string(),
                            t.user.clone(),
                            t.label.clone(),
                            t.scope.clone(),
                            short_time(&t.created_at),
                            state,
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    table(&["ID", "USER", "LABEL", "SCOPE", "CREATED", "STATE"], &rows)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCmd::Revoke { ids } => {
            let mut failed = false;
            for id in ids {
                match client
                    .send(client.request(Method::DELETE, &format!("/api/v1/tokens/{id}")))
                    .await
                {
                    Ok(_) => eprintln!("aisc: token {id} revoked"),
                    Err(e) => {
                        eprintln!("aisc: error: token {id}: {e:#}");
                        failed = true;
                    }
                }
            }
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// Logs in with a password (prompted, or from standard input) and stores the token.
pub async fn password_login(
    user: Option<String>,
    password_stdin: bool,
    expires: &str,
) -> Result<ExitCode> {
    let user = match user.or_else(|| std::env::var("USER").ok()) {
        Some(u) if !u.is_empty() => u,
        _ => bail!("give --user NAME"),
    };
    let password = if password_stdin {
        read_stdin_secret()?
    } else {
        rpassword::prompt_password(format!("Password for {user}: "))
            .context("cannot read the password (no terminal? use --password-stdin)")?
    };
    let http = crate::client::http_client()?;
    let base = base_url();
    let res = http
        .post(format!("{}/api/v1/login", base.trim_end_matches('/')))
        .json(
            &json!({"user": user, "password": password, "expires": expires, "label": "aisc login"}),
        )
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot reach the aisc server at {base} ({e}); is `aisc serve` running?"
            )
        })?;
    if !res.status().is_success() {
        let status = res.status();
        let p: serde_json::Value = res.json().await.unwrap_or_default();
        bail!(
            "{} ({status})",
            p["detail"].as_str().unwrap_or("login refused")
        );
    }
    let t: IssuedToken = res.json().await?;
    let path = store_token(&t.token)?;
    eprintln!(
        "aisc: logged in as {}; token stored in {} (mode 0600), expires {}",
        t.user,
        path.display(),
        short_time(&t.expires_at)
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes the token to the user's config directory, mode 0600.
pub fn store_token(token: &str) -> Result<std::path::PathBuf> {
    let dir = config_dir()?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("token");
    let tmp = dir.join("token.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    writeln!(f, "{token}")?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

//! Users, password logins, token scope, expiry and revocation, and the login
//! rate limit, through the real server and CLI.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod common;

use common::{Server, with_stdin};
use std::process::Output;

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_user_logs_in_with_a_password_and_manages_tokens() {
    use std::os::unix::fs::PermissionsExt;
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let server = Server::start(data.path(), &[]);
    let admin = server.token();
    let out = with_stdin(
        &server,
        w,
        &[
            "user",
            "create",
            "bob",
            "--role",
            "user",
            "--password-stdin",
        ],
        "correct horse battery\n",
        Some(&admin),
    );
    assert!(out.status.success(), "{}", err(&out));
    let users = server.ok(w, &["user", "list"]);
    assert!(
        users
            .lines()
            .any(|l| l.contains("bob") && l.contains("user") && l.contains("yes")),
        "{users}"
    );

    // Log in with the password; the token lands in the config dir, private.
    let out = with_stdin(
        &server,
        w,
        &["login", "--user", "bob", "--password-stdin"],
        "correct horse battery\n",
        None,
    );
    assert!(out.status.success(), "{}", err(&out));
    let stored = w.join("cfg/token");
    assert_eq!(
        std::fs::metadata(&stored).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let bob = std::fs::read_to_string(&stored).unwrap().trim().to_string();
    let as_bob = |args: &[&str]| server.aisc_env(w, args, &[("AISC_TOKEN", bob.as_str())]);
    assert_eq!(
        String::from_utf8_lossy(&as_bob(&["whoami"]).stdout).trim(),
        "bob (user)"
    );

    // A read-only token reads but changes nothing.
    let out = as_bob(&[
        "token",
        "create",
        "--label",
        "dashboards",
        "--read-only",
        "--expires",
        "1d",
    ]);
    assert!(out.status.success(), "{}", err(&out));
    let ro = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        ro.starts_with("aisc_") && ro.len() == 69,
        "only the token on stdout: {ro:?}"
    );
    let as_ro = |args: &[&str]| server.aisc_env(w, args, &[("AISC_TOKEN", ro.as_str())]);
    assert!(as_ro(&["jobs"]).status.success());
    let out = as_ro(&["submit", "--", "true"]);
    assert!(!out.status.success());
    assert!(err(&out).contains("read-only"), "{}", err(&out));

    // Listing shows tokens, never their values; revoking takes effect at once.
    let listed: serde_json::Value = serde_json::from_str(&String::from_utf8_lossy(
        &as_bob(&["token", "list", "--json"]).stdout,
    ))
    .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(
        !listed.to_string().contains(&ro[5..]),
        "no token value is listed"
    );
    let ro_id = listed[0]["id"].as_i64().unwrap();
    assert_eq!(listed[0]["scope"], "read");
    assert!(as_ro(&["jobs"]).status.success(), "cached as valid");
    assert!(
        as_bob(&["token", "revoke", &ro_id.to_string()])
            .status
            .success()
    );
    let out = as_ro(&["jobs"]);
    assert!(
        !out.status.success() && err(&out).contains("revoked"),
        "{}",
        err(&out)
    );

    // Bob is not an administrator: no users, no one else's tokens.
    let out = as_bob(&["user", "create", "eve"]);
    assert!(!out.status.success() && err(&out).contains("centre administrators"));
    let admins: serde_json::Value =
        serde_json::from_str(&server.ok(w, &["token", "list", "--json"])).unwrap();
    let admin_token_id = admins[0]["id"].as_i64().unwrap().to_string();
    let out = as_bob(&["token", "revoke", &admin_token_id]);
    assert!(
        !out.status.success() && err(&out).contains("not found"),
        "{}",
        err(&out)
    );
    assert!(!as_bob(&["token", "list", "--all"]).status.success());

    let audit = server.ok(w, &["audit", "list"]);
    for action in ["user.create", "token.create", "token.revoke"] {
        assert!(audit.contains(action), "{action} is audited:\n{audit}");
    }
    assert!(
        !audit.contains("correct horse"),
        "no password in the audit trail"
    );
    assert!(
        !server.log.lock().unwrap().contains("correct horse"),
        "no password in the server's log"
    );
}

#[test]
fn failed_logins_are_refused_then_rate_limited() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let server = Server::start(data.path(), &[]);
    let admin = server.token();
    let out = with_stdin(
        &server,
        w,
        &["user", "create", "carol", "--password-stdin"],
        "a long enough password\n",
        Some(&admin),
    );
    assert!(out.status.success(), "{}", err(&out));
    for _ in 0..5 {
        let out = with_stdin(
            &server,
            w,
            &["login", "--user", "carol", "--password-stdin"],
            "wrong\n",
            None,
        );
        assert!(!out.status.success());
        assert!(
            err(&out).contains("invalid user name or password"),
            "{}",
            err(&out)
        );
    }
    // Even the right password is refused now, with when to try again.
    let out = with_stdin(
        &server,
        w,
        &["login", "--user", "carol", "--password-stdin"],
        "a long enough password\n",
        None,
    );
    assert!(!out.status.success());
    assert!(
        err(&out).contains("too many failed logins") && err(&out).contains("429"),
        "{}",
        err(&out)
    );
    // An unknown user gets the same answer as a wrong password.
    let out = with_stdin(
        &server,
        w,
        &["login", "--user", "nobody", "--password-stdin"],
        "whatever\n",
        None,
    );
    assert!(
        err(&out).contains("invalid user name or password"),
        "{}",
        err(&out)
    );
}

#[test]
fn identity_input_is_checked_field_by_field() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let server = Server::start(data.path(), &[]);
    let admin = server.token();
    let cases: [(&[&str], &str, &str); 6] = [
        (&["user", "create", "Bad Name"], "", "name:"),
        (&["user", "create", "dave", "--role", "king"], "", "role:"),
        (
            &["user", "create", "dave", "--password-stdin"],
            "short\n",
            "password:",
        ),
        (&["user", "create", "admin"], "", "already exists"),
        (&["token", "create", "--expires", "0"], "", "expires:"),
        (&["token", "create", "--expires", "400d"], "", "expires:"),
    ];
    for (args, input, want) in cases {
        let out = with_stdin(&server, w, args, input, Some(&admin));
        assert!(!out.status.success(), "{args:?}");
        assert!(err(&out).contains(want), "{args:?}: {}", err(&out));
    }
    let users = server.ok(w, &["user", "list", "--json"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&users)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1,
        "nothing was created"
    );
}

#[test]
fn unix_names_are_checked_unique_and_listed() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let server = Server::start(data.path(), &[]);
    server.ok(w, &["user", "create", "ann"]);
    let users_before = server.ok(w, &["user", "list", "--json"]);
    for (name, want) in [
        ("Ann", "unix_name:"),
        ("1ann", "unix_name:"),
        ("a-very-long-unix-name-of-33-chars", "unix_name:"),
    ] {
        let out = server.aisc(w, &["user", "set-unix-name", "ann", name]);
        assert!(!out.status.success(), "{name} was accepted");
        assert!(err(&out).contains(want), "{name}: {}", err(&out));
    }
    // Nothing changed by the refusals.
    assert_eq!(server.ok(w, &["user", "list", "--json"]), users_before);
    server.ok(w, &["user", "set-unix-name", "ann", "ann_1"]);
    let out = server.aisc(w, &["user", "set-unix-name", "admin", "ann_1"]);
    assert!(err(&out).contains("already exists"), "{}", err(&out));
    let out = server.aisc(w, &["user", "set-unix-name", "nobody", "x"]);
    assert!(err(&out).contains("nobody"), "{}", err(&out));
    let ann = || -> serde_json::Value {
        let users: serde_json::Value =
            serde_json::from_str(&server.ok(w, &["user", "list", "--json"])).unwrap();
        let found = users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["name"] == "ann");
        found.unwrap().clone()
    };
    assert_eq!(ann()["unix_name"], "ann_1");
    server.ok(w, &["user", "set-unix-name", "ann", "--clear"]);
    assert!(ann().get("unix_name").is_none());
    // On the local engine there is no Slurm to sync.
    let out = server.aisc(w, &["slurm", "sync", "--dry-run"]);
    assert!(err(&out).contains("local engine"), "{}", err(&out));
}

#[test]
fn roles_change_at_once_and_the_last_administrator_keeps_theirs() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let server = Server::start(data.path(), &[]);
    let out = with_stdin(
        &server,
        w,
        &["user", "create", "ann", "--password-stdin"],
        "correct horse battery\n",
        Some(&server.token()),
    );
    assert!(out.status.success(), "{}", err(&out));
    let out = with_stdin(
        &server,
        w,
        &["login", "--user", "ann", "--password-stdin"],
        "correct horse battery\n",
        None,
    );
    assert!(out.status.success(), "{}", err(&out));
    let ann = std::fs::read_to_string(w.join("cfg/token")).unwrap();
    let whoami = || {
        let out = server.aisc_env(w, &["whoami"], &[("AISC_TOKEN", ann.trim())]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(whoami().contains("(user)"));
    // Used once, so the server has cached ann's token with the old role.
    let out = server.aisc_env(w, &["audit", "list"], &[("AISC_TOKEN", ann.trim())]);
    assert!(!out.status.success(), "a user reads no audit trail");

    let users_before = server.ok(w, &["user", "list", "--json"]);
    for (user, role, want) in [
        ("ann", "root", "role: \"root\" is not a role"),
        ("nobody", "user", "nobody"),
        ("admin", "user", "last administrator"),
    ] {
        let out = server.aisc(w, &["user", "set-role", user, role]);
        assert!(!out.status.success(), "{user} {role} was accepted");
        assert!(err(&out).contains(want), "{user} {role}: {}", err(&out));
    }
    assert_eq!(
        server.ok(w, &["user", "list", "--json"]),
        users_before,
        "nothing changed"
    );

    let out = server.aisc(w, &["user", "set-role", "ann", "auditor"]);
    assert!(err(&out).contains("ann is now auditor"), "{}", err(&out));
    assert!(whoami().contains("(auditor)"), "at once, on an old token");
    let out = server.aisc_env(w, &["audit", "list"], &[("AISC_TOKEN", ann.trim())]);
    assert!(out.status.success(), "an auditor reads the trail");
    let trail = server.ok(w, &["audit", "list", "--action", "user.role"]);
    assert!(trail.contains("role set to auditor"), "{trail}");

    // With a second administrator, the first may step down.
    server.ok(w, &["user", "set-role", "ann", "admin"]);
    server.ok(w, &["user", "set-role", "admin", "user"]);
    let out = server.aisc_env(
        w,
        &["user", "set-role", "ann", "user"],
        &[("AISC_TOKEN", ann.trim())],
    );
    assert!(err(&out).contains("last administrator"), "{}", err(&out));
}

#[test]
fn passwords_are_set_by_their_owner_or_an_administrator() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let server = Server::start(data.path(), &[]);
    let admin = server.token();
    server.ok(w, &["user", "create", "ann"]);
    server.ok(w, &["user", "create", "bob"]);
    let login = |user: &str, password: &str| {
        with_stdin(
            &server,
            w,
            &["login", "--user", user, "--password-stdin"],
            &format!("{password}\n"),
            None,
        )
    };
    assert!(
        !login("ann", "first password!").status.success(),
        "no password yet"
    );
    let out = with_stdin(
        &server,
        w,
        &["user", "set-password", "ann", "--password-stdin"],
        "first password!\n",
        Some(&admin),
    );
    assert!(err(&out).contains("ann can log in"), "{}", err(&out));
    assert!(login("ann", "first password!").status.success());
    let ann = std::fs::read_to_string(w.join("cfg/token")).unwrap();
    let ann = ann.trim();

    // One's own needs the current password: refused without it, or with a wrong one.
    for (input, want) in [
        (
            "second password\n",
            "current: your current password is needed",
        ),
        (
            "a wrong guess\nsecond password\n",
            "current: this is not your current password",
        ),
    ] {
        let out = with_stdin(
            &server,
            w,
            &["user", "set-password", "ann", "--password-stdin"],
            input,
            Some(ann),
        );
        assert!(!out.status.success());
        assert!(err(&out).contains(want), "{}", err(&out));
    }
    // Too short: refused naming the field; the old password still works.
    let out = with_stdin(
        &server,
        w,
        &["user", "set-password", "ann", "--password-stdin"],
        "first password!\nshort\n",
        Some(ann),
    );
    assert!(!out.status.success());
    assert!(
        err(&out).contains("password: a password is 12 to 1024 bytes long"),
        "{}",
        err(&out)
    );
    assert!(login("ann", "first password!").status.success());
    // Not someone else's.
    let out = with_stdin(
        &server,
        w,
        &["user", "set-password", "bob", "--password-stdin"],
        "ann sets bob's\n",
        Some(ann),
    );
    assert!(!out.status.success());
    assert!(!login("bob", "ann sets bob's").status.success());
    // One's own.
    let out = with_stdin(
        &server,
        w,
        &["user", "set-password", "ann", "--password-stdin"],
        "first password!\nsecond password\n",
        Some(ann),
    );
    assert!(out.status.success(), "{}", err(&out));
    assert!(!login("ann", "first password!").status.success());
    assert!(login("ann", "second password").status.success());
    let trail = server.ok(w, &["audit", "list", "--action", "user.password"]);
    assert_eq!(trail.matches("password set").count(), 2, "{trail}");
    assert!(
        !trail.contains("second password"),
        "a password never reaches the trail"
    );
}

//! Organisations, projects and members through the CLI, and the zero-setup default.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod common;

use common::Server;

#[test]
fn a_new_centre_has_a_default_project_and_grows_tenants_from_the_cli() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let server = Server::start(data.path(), &[]);
    // Zero set-up: organisation `local`, project `default`, admin as its PI.
    let projects = server.ok(w, &["project", "list"]);
    assert!(
        projects
            .lines()
            .any(|l| l.starts_with("default") && l.contains("local")),
        "{projects}"
    );
    let show = server.ok(w, &["project", "show", "default"]);
    assert!(
        show.lines()
            .any(|l| l.starts_with("admin") && l.trim_end().ends_with("pi")),
        "{show}"
    );
    let id = server.submit(w, &["--", "true"]);
    assert_eq!(
        server.show(w, id)["account"],
        "default",
        "jobs go to the submitter's project"
    );

    server.ok(w, &["org", "create", "hku", "--kind", "university"]);
    server.ok(w, &["user", "create", "prof"]);
    server.ok(w, &["user", "create", "student"]);
    server.ok(
        w,
        &[
            "project",
            "create",
            "nlp",
            "--org",
            "hku",
            "--pi",
            "prof",
            "--title",
            "Language models",
        ],
    );
    server.ok(w, &["member", "add", "nlp", "student"]);
    let members = server.ok(w, &["member", "list", "nlp"]);
    assert_eq!(
        members
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>(),
        vec!["MEMBER ROLE", "prof pi", "student member"]
    );
    let orgs = server.ok(w, &["org", "list"]);
    assert!(
        orgs.contains("hku") && orgs.contains("university"),
        "{orgs}"
    );
    server.ok(w, &["member", "remove", "nlp", "student"]);
    assert!(!server.ok(w, &["member", "list", "nlp"]).contains("student"));

    let refusals: [(&[&str], &str); 6] = [
        (&["org", "create", "x", "--kind", "charity"], "kind:"),
        (
            &["org", "create", "hku", "--kind", "university"],
            "already exists",
        ),
        (
            &[
                "project", "create", "p2", "--org", "nowhere", "--pi", "prof",
            ],
            "organisation nowhere not found",
        ),
        (
            &["project", "create", "p2", "--org", "hku", "--pi", "ghost"],
            "pi:",
        ),
        (
            &["member", "add", "nlp", "student", "--role", "boss"],
            "role:",
        ),
        (&["member", "remove", "nlp", "student"], "not found"),
    ];
    for (args, want) in refusals {
        let out = server.aisc(w, args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

//! Every API route x every role x own / other tenant, with the status each must
//! get. The routes are read from the live OpenAPI document: a route added
//! without a row here fails this test.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

mod common;

use common::Server;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};

/// The roles, in the order of each row's expectations.
const ROLES: [&str; 6] = [
    "admin",
    "auditor",
    "reviewer",
    "orgadmin_a",
    "pi_a",
    "member_a",
];

/// (method, path, [(status on tenant A's resource, status on tenant B's)] per role in ROLES order).
type Row = (&'static str, &'static str, [(u16, u16); 6]);

const ALL: (u16, u16) = (200, 200);
const NF: (u16, u16) = (404, 404);
const FB: (u16, u16) = (403, 403);
const OWN: (u16, u16) = (200, 404);

#[rustfmt::skip]
const TABLE: &[Row] = &[
    //                                                       admin        auditor      reviewer     orgadmin_a   pi_a         member_a
    ("GET",    "/api/v1/whoami",                            [ALL,         ALL,         ALL,         ALL,         ALL,         ALL]),
    ("GET",    "/api/v1/nodes",                             [ALL,         ALL,         ALL,         ALL,         ALL,         ALL]),
    ("GET",    "/api/v1/nodes/states",                      [ALL,         ALL,         ALL,         ALL,         ALL,         ALL]),
    ("POST",   "/api/v1/nodes/{name}/drain",                [ALL,         FB,          FB,          FB,          FB,          FB]),
    ("POST",   "/api/v1/nodes/{name}/resume",               [ALL,         FB,          FB,          FB,          FB,          FB]),
    ("GET",    "/api/v1/jobs",                              [ALL,         ALL,         ALL,         ALL,         ALL,         ALL]),
    ("POST",   "/api/v1/jobs",                              [(201, 201),  FB,          NF,          (403, 404),  (201, 404),  (201, 404)]),
    ("GET",    "/api/v1/jobs/{id}",                         [ALL,         ALL,         NF,          OWN,         OWN,         OWN]),
    // A job's log is tenant content: auditors see jobs' metadata, not their logs.
    ("GET",    "/api/v1/jobs/{id}/logs",                    [ALL,         FB,          NF,          OWN,         OWN,         OWN]),
    ("POST",   "/api/v1/jobs/{id}/cancel",                  [(202, 202),  FB,          NF,          (202, 404),  (202, 404),  (202, 404)]),
    ("POST",   "/api/v1/jobs/{id}/release",                 [ALL,         FB,          NF,          OWN,         OWN,         OWN]),
    ("POST",   "/api/v1/jobs/{id}/hold",                    [ALL,         FB,          NF,          OWN,         OWN,         OWN]),
    // Tried on a waiting job: whoever may act on it passes to the state check (409).
    ("POST",   "/api/v1/jobs/{id}/requeue",                 [(409, 409),  FB,          NF,          (409, 404),  (409, 404),  (409, 404)]),
    ("PATCH",  "/api/v1/jobs/{id}",                         [ALL,         FB,          NF,          OWN,         OWN,         OWN]),
    // A terminal is its owner's (and administrators'): tried on a batch job, whoever may
    // use it passes to the check that the job is interactive (409).
    ("GET",    "/api/v1/jobs/{id}/attach",                  [(409, 409),  FB,          NF,          (403, 404),  (403, 404),  (409, 404)]),
    ("GET",    "/api/v1/jobs/{id}/exec",                    [(409, 409),  FB,          NF,          (403, 404),  (403, 404),  (409, 404)]),
    // The job side takes the job's relay token only: no user's token opens it.
    ("GET",    "/api/v1/jobs/{id}/relay",                   [(401, 401),  (401, 401),  (401, 401),  (401, 401),  (401, 401),  (401, 401)]),
    ("GET",    "/api/v1/audit",                             [ALL,         ALL,         FB,          FB,          FB,          FB]),
    ("GET",    "/api/v1/audit/verify",                      [ALL,         ALL,         FB,          FB,          FB,          FB]),
    ("POST",   "/api/v1/login",                             [(201, 201),  (201, 201),  (201, 201),  (201, 201),  (201, 201),  (201, 201)]),
    ("POST",   "/api/v1/tokens",                            [(201, 201),  (201, 201),  (201, 201),  (201, 201),  (201, 201),  (201, 201)]),
    ("GET",    "/api/v1/tokens",                            [ALL,         ALL,         ALL,         ALL,         ALL,         ALL]),
    ("DELETE", "/api/v1/tokens/{id}",                       [ALL,         NF,          NF,          NF,          NF,          OWN]),
    ("POST",   "/api/v1/users",                             [(201, 201),  FB,          FB,          FB,          FB,          FB]),
    ("GET",    "/api/v1/users",                             [ALL,         ALL,         FB,          FB,          FB,          FB]),
    // Tenant A's target is member_a, B's pi_b: a user sets only their own password.
    ("PUT",    "/api/v1/users/{name}/password",             [ALL,         FB,          FB,          FB,          FB,          (200, 403)]),
    ("PUT",    "/api/v1/users/{name}/role",                 [ALL,         FB,          FB,          FB,          FB,          FB]),
    ("PUT",    "/api/v1/users/{name}/unix-name",            [ALL,         FB,          FB,          FB,          FB,          FB]),
    // On the local engine a sync is a conflict: there is no Slurm to sync.
    ("POST",   "/api/v1/slurm/sync",                        [(409, 409),  FB,          FB,          FB,          FB,          FB]),
    ("POST",   "/api/v1/orgs",                              [(201, 201),  FB,          FB,          FB,          FB,          FB]),
    ("GET",    "/api/v1/orgs",                              [ALL,         ALL,         ALL,         ALL,         ALL,         ALL]),
    ("POST",   "/api/v1/orgs/{org}/admins",                 [ALL,         FB,          FB,          FB,          FB,          FB]),
    ("POST",   "/api/v1/projects",                          [(201, 201),  FB,          NF,          (201, 404),  (403, 404),  (403, 404)]),
    ("GET",    "/api/v1/projects",                          [ALL,         ALL,         ALL,         ALL,         ALL,         ALL]),
    ("GET",    "/api/v1/projects/{project}",                [ALL,         ALL,         NF,          OWN,         OWN,         OWN]),
    ("PUT",    "/api/v1/projects/{project}/members/{user}", [ALL,         FB,          NF,          OWN,         OWN,         (403, 404)]),
    ("DELETE", "/api/v1/projects/{project}/members/{user}", [ALL,         FB,          NF,          OWN,         OWN,         (403, 404)]),
    ("GET",    "/api/v1/resource-classes",                  [ALL,         ALL,         ALL,         ALL,         ALL,         ALL]),
    ("POST",   "/api/v1/resource-classes",                  [(201, 201),  FB,          FB,          FB,          FB,          FB]),
    ("PUT",    "/api/v1/resource-classes/{class}/nodes",    [ALL,         FB,          FB,          FB,          FB,          FB]),
    ("GET",    "/api/v1/resource-classes/{class}/prices",   [ALL,         ALL,         ALL,         ALL,         ALL,         ALL]),
    ("POST",   "/api/v1/resource-classes/{class}/prices",   [(201, 201),  FB,          FB,          FB,          FB,          FB]),
    ("GET",    "/api/v1/capacity",                          [ALL,         ALL,         ALL,         ALL,         ALL,         ALL]),
    ("POST",   "/api/v1/schemes",                           [(201, 201),  FB,          FB,          FB,          FB,          FB]),
    ("GET",    "/api/v1/schemes",                           [ALL,         ALL,         ALL,         ALL,         ALL,         ALL]),
    ("GET",    "/api/v1/schemes/{scheme}",                  [ALL,         ALL,         ALL,         ALL,         ALL,         ALL]),
    ("POST",   "/api/v1/applications",                      [(201, 201),  FB,          NF,          (201, 404),  (201, 404),  (403, 404)]),
    ("GET",    "/api/v1/applications",                      [ALL,         ALL,         ALL,         ALL,         ALL,         ALL]),
    ("GET",    "/api/v1/applications/{id}",                 [ALL,         ALL,         ALL,         OWN,         OWN,         OWN]),
    ("POST",   "/api/v1/applications/{id}/reviews",         [FB,          FB,          (201, 201),  (403, 404),  (403, 404),  (403, 404)]),
    ("POST",   "/api/v1/applications/{id}/decision",        [ALL,         FB,          FB,          FB,          FB,          FB]),
    ("GET",    "/api/v1/grants",                            [ALL,         ALL,         ALL,         ALL,         ALL,         ALL]),
    ("GET",    "/api/v1/grants/{id}",                       [ALL,         ALL,         NF,          OWN,         OWN,         OWN]),
    ("PATCH",  "/api/v1/grants/{id}",                       [ALL,         FB,          FB,          FB,          FB,          FB]),
    ("GET",    "/api/v1/queue",                             [ALL,         ALL,         ALL,         ALL,         ALL,         ALL]),
    ("GET",    "/api/v1/queue/{id}",                        [ALL,         ALL,         NF,          OWN,         OWN,         OWN]),
    ("GET",    "/api/v1/projects/{project}/statement",      [ALL,         ALL,         NF,          OWN,         OWN,         (403, 404)]),
    // A project's files: its members and centre administrators; auditors do not read tenants' files.
    ("POST",   "/api/v1/projects/{project}/uploads",        [(201, 201),  FB,          NF,          (403, 404),  (201, 404),  (201, 404)]),
    // An upload in progress is its uploader's (member_a's) alone; who may delete the
    // project's files (its PI, centre administrators) may abandon it.
    ("GET",    "/api/v1/uploads/{id}",                      [NF,          NF,          NF,          NF,          NF,          OWN]),
    ("PUT",    "/api/v1/uploads/{id}",                      [NF,          NF,          NF,          NF,          NF,          OWN]),
    ("DELETE", "/api/v1/uploads/{id}",                      [(204, 204),  NF,          NF,          NF,          (204, 404),  (204, 404)]),
    ("POST",   "/api/v1/uploads/{id}/complete",             [NF,          NF,          NF,          NF,          NF,          OWN]),
    // Reading them: also their organisation's administrators (who may export the project).
    ("GET",    "/api/v1/projects/{project}/data",           [ALL,         FB,          NF,          OWN,         OWN,         OWN]),
    ("GET",    "/api/v1/projects/{project}/data/{path}",    [ALL,         FB,          NF,          OWN,         OWN,         OWN]),
    ("DELETE", "/api/v1/projects/{project}/data/{path}",    [(204, 204),  FB,          NF,          (403, 404),  (204, 404),  (204, 404)]),
    ("PUT",    "/api/v1/projects/{project}/quota",          [ALL,         FB,          FB,          FB,          FB,          FB]),
    ("GET",    "/api/v1/backup",                            [ALL,         FB,          FB,          FB,          FB,          FB]),
    ("GET",    "/api/v1/keys",                              [ALL,         ALL,         FB,          FB,          FB,          FB]),
    ("POST",   "/api/v1/keys/rotate",                       [ALL,         FB,          FB,          FB,          FB,          FB]),
    // An unknown key: past the role check, the body is refused.
    ("POST",   "/api/v1/keys/retire",                       [(422, 422),  FB,          FB,          FB,          FB,          FB]),
    ("GET",    "/api/v1/projects/{project}/export",         [ALL,         FB,          NF,          OWN,         OWN,         (403, 404)]),
    // A wrong confirmation: past the role check, nothing is closed.
    ("POST",   "/api/v1/projects/{project}/close",          [(422, 422),  FB,          NF,          (422, 404),  (422, 404),  (403, 404)]),
    ("POST",   "/api/v1/projects/{project}/erase",          [(422, 422),  FB,          FB,          FB,          FB,          FB]),
];

const PASSWORD: &str = "a password long enough";

struct World {
    http: reqwest::Client,
    url: String,
    tokens: HashMap<&'static str, String>,
    job: [i64; 2],
    app: [i64; 2],
    grant: [i64; 2],
    counter: u32,
    /// The server's one node (this host).
    node: String,
}

impl World {
    async fn call(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn as_(
        &self,
        who: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let token = self.tokens[who].clone();
        self.call(Some(&token), method, path, body).await
    }

    async fn ok(&self, who: &str, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, v) = self.as_(who, method.clone(), path, body).await;
        assert!(
            (200..300).contains(&status),
            "{who} {method} {path}: {status} {v}"
        );
        v
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}{}", self.counter)
    }

    /// A held job of tenant `t` (0 = A, owned by member_a; 1 = B, owned by pi_b).
    /// A pending job of tenant `t` that will not start for a day (`--begin`).
    async fn later_job(&self, t: usize) -> i64 {
        let (who, project) = [("member_a", "pa"), ("pi_b", "pb")][t];
        let job = json!({"command": ["true"], "chdir": "/tmp", "options": ["--begin=now+1day"], "account": project});
        let v = self.ok(who, Method::POST, "/api/v1/jobs", Some(job)).await;
        v["id"].as_i64().unwrap()
    }

    async fn held_job(&self, t: usize) -> i64 {
        let (who, project) = [("member_a", "pa"), ("pi_b", "pb")][t];
        let v = self
            .ok(
                who,
                Method::POST,
                "/api/v1/jobs",
                Some(
                    json!({"command": ["true"], "chdir": "/tmp", "hold": true, "account": project}),
                ),
            )
            .await;
        v["id"].as_i64().unwrap()
    }

    /// A fresh upload of tenant `t` by one of its members, of the 3 bytes `"x"`
    /// (what a JSON body of "x" is); sent, or completed too.
    async fn upload(&mut self, t: usize, send: bool, complete: bool) -> (i64, String) {
        let (who, project) = [("member_a", "pa"), ("pi_b", "pb")][t];
        let path = self.fresh("f");
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"\"x\""));
        let v = self
            .ok(
                who,
                Method::POST,
                &format!("/api/v1/projects/{project}/uploads"),
                Some(json!({"path": path, "size": 3, "sha256": sha})),
            )
            .await;
        let id = v["id"].as_i64().unwrap();
        if send {
            let at = format!("/api/v1/uploads/{id}?offset=0");
            self.ok(who, Method::PUT, &at, Some(json!("x"))).await;
        }
        if complete {
            let done = format!("/api/v1/uploads/{id}/complete");
            self.ok(who, Method::POST, &done, None).await;
        }
        (id, path)
    }

    /// A fresh application of tenant `t`, by its PI.
    async fn application(&self, t: usize) -> i64 {
        let (pi, project) = [("pi_a", "pa"), ("pi_b", "pb")][t];
        let v = self
            .ok(
                pi,
                Method::POST,
                "/api/v1/applications",
                Some(application_body(project)),
            )
            .await;
        v["id"].as_i64().unwrap()
    }

    /// The request a row makes against tenant `t`'s resource.
    async fn request(&mut self, method: &str, path: &str, t: usize) -> (String, Option<Value>) {
        let (project, org, pi) = [("pa", "oa", "pi_a"), ("pb", "ob", "pi_b")][t];
        match path {
            "/api/v1/jobs" => (
                path.into(),
                Some(
                    json!({"command": ["true"], "chdir": "/tmp", "hold": true, "account": project}),
                ),
            ),
            "/api/v1/jobs/{id}" if method == "PATCH" => (
                format!("/api/v1/jobs/{}", self.held_job(t).await),
                Some(json!({"name": "renamed"})),
            ),
            "/api/v1/jobs/{id}" => (format!("/api/v1/jobs/{}", self.job[t]), None),
            "/api/v1/jobs/{id}/logs" => (format!("/api/v1/jobs/{}/logs", self.job[t]), None),
            "/api/v1/jobs/{id}/attach" => (format!("/api/v1/jobs/{}/attach", self.job[t]), None),
            "/api/v1/jobs/{id}/exec" => (format!("/api/v1/jobs/{}/exec", self.job[t]), None),
            "/api/v1/jobs/{id}/relay" => (format!("/api/v1/jobs/{}/relay", self.job[t]), None),
            "/api/v1/jobs/{id}/cancel" => (
                format!("/api/v1/jobs/{}/cancel", self.held_job(t).await),
                None,
            ),
            "/api/v1/jobs/{id}/release" => (
                format!("/api/v1/jobs/{}/release", self.held_job(t).await),
                None,
            ),
            "/api/v1/jobs/{id}/hold" => (
                format!("/api/v1/jobs/{}/hold", self.later_job(t).await),
                None,
            ),
            "/api/v1/jobs/{id}/requeue" => (
                format!("/api/v1/jobs/{}/requeue", self.later_job(t).await),
                None,
            ),
            "/api/v1/login" => {
                let user = ["member_a", "pi_b"][t];
                (
                    path.into(),
                    Some(json!({"user": user, "password": PASSWORD})),
                )
            }
            "/api/v1/tokens" => (path.into(), Some(json!({"label": "t"}))),
            "/api/v1/tokens/{id}" => {
                let owner = ["member_a", "pi_b"][t];
                let v = self
                    .ok(
                        owner,
                        Method::POST,
                        "/api/v1/tokens",
                        Some(json!({"label": "to revoke"})),
                    )
                    .await;
                (format!("/api/v1/tokens/{}", v["id"]), None)
            }
            "/api/v1/users" => (path.into(), Some(json!({"name": self.fresh("user")}))),
            "/api/v1/users/{name}/password" => (
                format!("/api/v1/users/{}/password", ["member_a", "pi_b"][t]),
                Some(json!({"password": PASSWORD, "current": PASSWORD})),
            ),
            "/api/v1/users/{name}/role" => (
                "/api/v1/users/extra/role".into(),
                Some(json!({"role": "user"})),
            ),
            "/api/v1/users/{name}/unix-name" => (
                "/api/v1/users/extra/unix-name".into(),
                Some(json!({"unix_name": self.fresh("unix")})),
            ),
            "/api/v1/nodes/{name}/drain" => (
                format!("/api/v1/nodes/{}/drain", self.node),
                Some(json!({"reason": "maintenance"})),
            ),
            "/api/v1/nodes/{name}/resume" => (format!("/api/v1/nodes/{}/resume", self.node), None),
            "/api/v1/slurm/sync" => (path.into(), Some(json!({"dry_run": false}))),
            "/api/v1/orgs" => (
                path.into(),
                Some(json!({"name": self.fresh("org"), "kind": "university"})),
            ),
            "/api/v1/orgs/{org}/admins" => (
                format!("/api/v1/orgs/{org}/admins"),
                Some(json!({"user": "extra"})),
            ),
            "/api/v1/projects" => (
                path.into(),
                Some(json!({"name": self.fresh("proj"), "org": org, "pi": pi})),
            ),
            "/api/v1/projects/{project}" => (format!("/api/v1/projects/{project}"), None),
            "/api/v1/resource-classes" => (
                path.into(),
                Some(
                    json!({"name": self.fresh("class"), "gpu_model": "H800", "gpus_per_node": 8, "cpus_per_node": 128,
                    "mem_per_node": "2T", "tflops_bf16": 989.5, "nodes": 1}),
                ),
            ),
            "/api/v1/schemes" => (path.into(), Some(scheme_body(&self.fresh("scheme")))),
            "/api/v1/applications" => (path.into(), Some(application_body(["pa", "pb"][t]))),
            "/api/v1/applications/{id}" => (format!("/api/v1/applications/{}", self.app[t]), None),
            "/api/v1/applications/{id}/reviews" => (
                format!("/api/v1/applications/{}/reviews", self.application(t).await),
                Some(json!({"scores": {"impact": 7}})),
            ),
            "/api/v1/applications/{id}/decision" => (
                format!(
                    "/api/v1/applications/{}/decision",
                    self.application(t).await
                ),
                Some(json!({"approve": false, "reason": "not now"})),
            ),
            "/api/v1/grants/{id}" if method == "PATCH" => (
                format!("/api/v1/grants/{}", self.grant[t]),
                Some(json!({"max_gpus": 64, "high_qos": false})),
            ),
            "/api/v1/grants/{id}" => (format!("/api/v1/grants/{}", self.grant[t]), None),
            "/api/v1/queue/{id}" => (format!("/api/v1/queue/{}", self.held_job(t).await), None),
            "/api/v1/projects/{project}/statement" => (
                format!("/api/v1/projects/{project}/statement?month=2026-11"),
                None,
            ),
            "/api/v1/schemes/{scheme}" => ("/api/v1/schemes/hk".into(), None),
            "/api/v1/resource-classes/{class}/nodes" => (
                "/api/v1/resource-classes/h800/nodes".into(),
                Some(json!({"nodes": 375})),
            ),
            "/api/v1/resource-classes/{class}/prices" => (
                "/api/v1/resource-classes/h800/prices".into(),
                Some(json!({"per_gpu_hour": "25.00", "effective": "2026-01-01"})),
            ),
            "/api/v1/projects/{project}/members/{user}" => {
                // Make sure there is a membership to change or remove.
                self.ok(
                    "admin",
                    Method::PUT,
                    &format!("/api/v1/projects/{project}/members/extra"),
                    Some(json!({})),
                )
                .await;
                (
                    format!("/api/v1/projects/{project}/members/extra"),
                    Some(json!({"role": "member"})),
                )
            }
            "/api/v1/projects/{project}/uploads" => {
                let sha = "0".repeat(64);
                (
                    format!("/api/v1/projects/{project}/uploads"),
                    Some(json!({"path": self.fresh("u"), "size": 3, "sha256": sha})),
                )
            }
            "/api/v1/uploads/{id}" if method == "PUT" => {
                let (id, _) = self.upload(t, false, false).await;
                (format!("/api/v1/uploads/{id}?offset=0"), Some(json!("x")))
            }
            "/api/v1/uploads/{id}" => {
                let (id, _) = self.upload(t, false, false).await;
                (format!("/api/v1/uploads/{id}"), None)
            }
            "/api/v1/uploads/{id}/complete" => {
                let (id, _) = self.upload(t, true, false).await;
                (format!("/api/v1/uploads/{id}/complete"), None)
            }
            "/api/v1/projects/{project}/data" => (format!("/api/v1/projects/{project}/data"), None),
            "/api/v1/projects/{project}/data/{path}" => {
                let (_, file) = self.upload(t, true, true).await;
                (format!("/api/v1/projects/{project}/data/{file}"), None)
            }
            "/api/v1/projects/{project}/quota" => (
                format!("/api/v1/projects/{project}/quota"),
                Some(json!({"bytes": 1_000_000_000})),
            ),
            "/api/v1/keys/retire" => (path.into(), Some(json!({"kid": "0000000000000000"}))),
            "/api/v1/projects/{project}/export" => {
                (format!("/api/v1/projects/{project}/export"), None)
            }
            "/api/v1/projects/{project}/close" | "/api/v1/projects/{project}/erase" => (
                path.replace("{project}", project),
                Some(json!({"confirm": "not-the-name"})),
            ),
            other => (other.into(), None),
        }
    }
}

fn application_body(project: &str) -> Value {
    json!({"project": project, "scheme": "hk", "class": "h800", "gpu_hours": 1, "starts": common::today(), "ends": "2099-01-01",
        "justification": {"impact": "important"}})
}

fn scheme_body(name: &str) -> Value {
    json!({"name": name, "pool": "1000000", "eligible": ["university", "enterprise"], "default_rate": "70", "max_rate": "90",
        "criteria": [{"name": "impact", "weight": 100}], "opens": "2026-01-01", "closes": "2099-01-01", "min_reviews": 0})
}

async fn build_world(server: &Server) -> World {
    let mut tokens = HashMap::new();
    tokens.insert("admin", server.token());
    let mut w = World {
        http: common::http(),
        url: server.url.clone(),
        tokens,
        job: [0, 0],
        app: [0, 0],
        grant: [0, 0],
        counter: 0,
        node: String::new(),
    };
    let nodes = w
        .ok("admin", Method::GET, "/api/v1/nodes/states", None)
        .await;
    w.node = nodes[0]["name"].as_str().unwrap().to_string();
    for (name, role) in [
        ("auditor", "auditor"),
        ("reviewer", "reviewer"),
        ("orgadmin_a", "user"),
        ("pi_a", "user"),
        ("member_a", "user"),
        ("pi_b", "user"),
        ("extra", "user"),
    ] {
        w.ok(
            "admin",
            Method::POST,
            "/api/v1/users",
            Some(json!({"name": name, "role": role, "password": PASSWORD})),
        )
        .await;
    }
    w.ok(
        "admin",
        Method::POST,
        "/api/v1/resource-classes",
        Some(
            json!({"name": "h800", "gpu_model": "H800", "gpus_per_node": 8, "cpus_per_node": 128,
            "mem_per_node": "2T", "tflops_bf16": 989.5, "nodes": 375}),
        ),
    )
    .await;
    w.ok(
        "admin",
        Method::POST,
        "/api/v1/orgs",
        Some(json!({"name": "oa", "kind": "university"})),
    )
    .await;
    w.ok(
        "admin",
        Method::POST,
        "/api/v1/orgs",
        Some(json!({"name": "ob", "kind": "enterprise"})),
    )
    .await;
    w.ok(
        "admin",
        Method::POST,
        "/api/v1/orgs/oa/admins",
        Some(json!({"user": "orgadmin_a"})),
    )
    .await;
    w.ok(
        "admin",
        Method::POST,
        "/api/v1/projects",
        Some(json!({"name": "pa", "org": "oa", "pi": "pi_a"})),
    )
    .await;
    w.ok(
        "admin",
        Method::POST,
        "/api/v1/projects",
        Some(json!({"name": "pb", "org": "ob", "pi": "pi_b"})),
    )
    .await;
    w.ok(
        "admin",
        Method::PUT,
        "/api/v1/projects/pa/members/member_a",
        Some(json!({"role": "member"})),
    )
    .await;
    for name in [
        "auditor",
        "reviewer",
        "orgadmin_a",
        "pi_a",
        "member_a",
        "pi_b",
    ] {
        let (status, v) = w
            .call(
                None,
                Method::POST,
                "/api/v1/login",
                Some(json!({"user": name, "password": PASSWORD})),
            )
            .await;
        assert_eq!(status, 201, "{v}");
        w.tokens
            .insert(name, v["token"].as_str().unwrap().to_string());
    }
    w.ok(
        "admin",
        Method::POST,
        "/api/v1/schemes",
        Some(scheme_body("hk")),
    )
    .await;
    let price = json!({"per_gpu_hour": "25", "effective": "2020-01-01"});
    w.ok(
        "admin",
        Method::POST,
        "/api/v1/resource-classes/h800/prices",
        Some(price),
    )
    .await;
    w.app = [w.application(0).await, w.application(1).await];
    for t in 0..2 {
        let g = w.application(t).await;
        let decision = format!("/api/v1/applications/{g}/decision");
        w.ok(
            "admin",
            Method::POST,
            &decision,
            Some(json!({"approve": true})),
        )
        .await;
        w.grant[t] = g;
    }
    w.job = [w.held_job(0).await, w.held_job(1).await];
    w
}

#[test]
fn every_route_answers_every_role_as_the_table_says() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut w = build_world(&server).await;

        // The table covers exactly the documented routes.
        let (_, doc) = w.call(None, Method::GET, "/api/v1/openapi.json", None).await;
        let documented: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone())))
            .collect();
        let tabled: BTreeSet<(String, String)> = TABLE.iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
        assert_eq!(documented, tabled, "every documented route needs a row in TABLE, and every row a route");

        let mut wrong = Vec::new();
        for (method, path, expect) in TABLE {
            for (i, role) in ROLES.iter().enumerate() {
                for t in 0..2 {
                    let (url, body) = w.request(method, path, t).await;
                    let token = if *path == "/api/v1/login" { None } else { Some(w.tokens[role].clone()) };
                    let (status, v) = w.call(token.as_deref(), Method::from_bytes(method.as_bytes()).unwrap(), &url, body).await;
                    let want = if t == 0 { expect[i].0 } else { expect[i].1 };
                    if status != want {
                        wrong.push(format!("{method} {path} as {role} on tenant {}: got {status}, want {want}: {v}", ["A", "B"][t]));
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "{} mismatches:\n{}", wrong.len(), wrong.join("\n"));
    });
}

#[test]
fn listings_show_only_what_each_role_may_see() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let w = build_world(&server).await;
        let pi_a_job = {
            let v = w
                .ok(
                    "pi_a",
                    Method::POST,
                    "/api/v1/jobs",
                    Some(json!({"command": ["true"], "chdir": "/tmp", "hold": true})),
                )
                .await;
            v["id"].as_i64().unwrap()
        };
        let ids = |v: Value| -> BTreeSet<i64> {
            v["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|j| j["id"].as_i64().unwrap())
                .collect()
        };
        let [a, b] = w.job;
        let all = BTreeSet::from([a, b, pi_a_job]);
        assert_eq!(
            ids(w.ok("admin", Method::GET, "/api/v1/jobs", None).await),
            all
        );
        assert_eq!(
            ids(w.ok("auditor", Method::GET, "/api/v1/jobs", None).await),
            all
        );
        assert_eq!(
            ids(w.ok("orgadmin_a", Method::GET, "/api/v1/jobs", None).await),
            BTreeSet::from([a, pi_a_job])
        );
        assert_eq!(
            ids(w.ok("pi_a", Method::GET, "/api/v1/jobs", None).await),
            BTreeSet::from([a, pi_a_job])
        );
        assert_eq!(
            ids(w.ok("member_a", Method::GET, "/api/v1/jobs", None).await),
            BTreeSet::from([a])
        );
        assert_eq!(
            ids(w
                .ok("pi_a", Method::GET, "/api/v1/jobs?mine=true", None)
                .await),
            BTreeSet::from([pi_a_job])
        );
        assert_eq!(
            ids(w.ok("reviewer", Method::GET, "/api/v1/jobs", None).await),
            BTreeSet::new()
        );
        // By project, still within what the caller sees: another tenant's project, or
        // one that does not exist, lists nothing (and says nothing of which it is).
        assert_eq!(
            ids(w
                .ok("admin", Method::GET, "/api/v1/jobs?project=pb", None)
                .await),
            BTreeSet::from([b])
        );
        assert_eq!(
            ids(w
                .ok("pi_a", Method::GET, "/api/v1/jobs?project=pa", None)
                .await),
            BTreeSet::from([a, pi_a_job])
        );
        for project in ["pb", "no-such-project"] {
            let path = format!("/api/v1/jobs?project={project}");
            assert_eq!(
                ids(w.ok("pi_a", Method::GET, &path, None).await),
                BTreeSet::new()
            );
        }
        let names = |v: Value| -> BTreeSet<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            names(
                w.ok("member_a", Method::GET, "/api/v1/projects", None)
                    .await
            ),
            BTreeSet::from(["pa".to_string()])
        );
        assert_eq!(
            names(w.ok("orgadmin_a", Method::GET, "/api/v1/orgs", None).await),
            BTreeSet::from(["oa".to_string()])
        );
        assert_eq!(
            names(
                w.ok("reviewer", Method::GET, "/api/v1/projects", None)
                    .await
            ),
            BTreeSet::new()
        );
        // The job a PI submits without -A lands in their project.
        let job = w
            .ok(
                "pi_a",
                Method::GET,
                &format!("/api/v1/jobs/{pi_a_job}"),
                None,
            )
            .await;
        assert_eq!(job["account"], "pa");
    });
}

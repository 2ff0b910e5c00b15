//! Every API route, declared once: its method, its path, its handler and
//! whether only the leader can answer it. The router, the OpenAPI document's
//! paths and a standby's forwarding all come from this table; a test checks
//! that each handler's OpenAPI path is the path it is routed at.

use super::{
    applications, audit, backup, data, identity, inventory, jobs, keys, nodes, privacy, queue,
    schemes, slurm, statements, tenancy, terminals,
};
use crate::AppState;
use axum::Router;
use axum::routing::MethodRouter;

/// One route as declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// `get`, `post`, `put`, `patch` or `delete`.
    pub method: &'static str,
    /// The path as axum routes it (`{*path}` for a path that takes the rest).
    pub path: &'static str,
    /// Only the leader answers it (it needs the control loop): a standby
    /// passes it on to the leader.
    pub leader: bool,
}

macro_rules! api_routes {
    ($( $method:ident $path:literal => $handler:path $(, $leader:ident)? ; )*) => {
        /// Every API route, in the order declared.
        pub const ROUTES: &[Route] = &[
            $( Route { method: stringify!($method), path: $path, leader: api_routes!(@leader $($leader)?) }, )*
        ];

        /// The API's routes on `router`; leader-only ones pass through `follow_leader`.
        pub fn add(mut router: Router<AppState>, state: &AppState) -> Router<AppState> {
            $(
                let route: MethodRouter<AppState> = axum::routing::$method($handler);
                let route = if api_routes!(@leader $($leader)?) {
                    route.layer(axum::middleware::from_fn_with_state(
                        state.clone(),
                        crate::standby::follow_leader,
                    ))
                } else {
                    route
                };
                router = router.route($path, route);
            )*
            router
        }

        /// The OpenAPI paths of every routed handler.
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($handler),*))]
        #[derive(Debug)]
        pub struct Paths;
    };
    (@leader leader) => { true };
    (@leader) => { false };
}

api_routes! {
    get "/api/v1/whoami" => super::whoami;
    get "/api/v1/nodes" => super::nodes, leader;
    get "/api/v1/nodes/states" => nodes::list, leader;
    post "/api/v1/nodes/{name}/drain" => nodes::drain, leader;
    post "/api/v1/nodes/{name}/resume" => nodes::resume, leader;
    post "/api/v1/login" => identity::login;
    get "/api/v1/tokens" => identity::list_tokens;
    post "/api/v1/tokens" => identity::create_token;
    delete "/api/v1/tokens/{id}" => identity::revoke_token;
    get "/api/v1/users" => identity::list_users;
    post "/api/v1/users" => identity::create_user;
    put "/api/v1/users/{name}/password" => identity::set_password;
    put "/api/v1/users/{name}/role" => identity::set_role;
    put "/api/v1/users/{name}/unix-name" => slurm::set_unix_name;
    post "/api/v1/slurm/sync" => slurm::sync;
    get "/api/v1/orgs" => tenancy::list_orgs;
    post "/api/v1/orgs" => tenancy::create_org;
    post "/api/v1/orgs/{org}/admins" => tenancy::add_org_admin;
    get "/api/v1/projects" => tenancy::list_projects;
    post "/api/v1/projects" => tenancy::create_project;
    get "/api/v1/projects/{project}" => tenancy::show_project;
    put "/api/v1/projects/{project}/members/{user}" => tenancy::set_member;
    delete "/api/v1/projects/{project}/members/{user}" => tenancy::remove_member;
    post "/api/v1/projects/{project}/uploads" => data::begin;
    get "/api/v1/projects/{project}/data" => data::list;
    get "/api/v1/projects/{project}/data/{*path}" => data::get;
    delete "/api/v1/projects/{project}/data/{*path}" => data::remove;
    put "/api/v1/projects/{project}/quota" => data::set_quota;
    get "/api/v1/projects/{project}/export" => privacy::export;
    post "/api/v1/projects/{project}/close" => privacy::close;
    post "/api/v1/projects/{project}/erase" => privacy::erase;
    get "/api/v1/projects/{project}/statement" => statements::statement;
    get "/api/v1/uploads/{id}" => data::status;
    put "/api/v1/uploads/{id}" => data::part;
    delete "/api/v1/uploads/{id}" => data::abandon;
    post "/api/v1/uploads/{id}/complete" => data::complete;
    get "/api/v1/backup" => backup::backup;
    get "/api/v1/keys" => keys::list;
    post "/api/v1/keys/rotate" => keys::rotate;
    post "/api/v1/keys/retire" => keys::retire;
    get "/api/v1/resource-classes" => inventory::list_classes;
    post "/api/v1/resource-classes" => inventory::create_class;
    put "/api/v1/resource-classes/{class}/nodes" => inventory::set_nodes;
    get "/api/v1/resource-classes/{class}/prices" => inventory::list_prices;
    post "/api/v1/resource-classes/{class}/prices" => inventory::set_price;
    get "/api/v1/capacity" => inventory::get_capacity;
    get "/api/v1/schemes" => schemes::list;
    post "/api/v1/schemes" => schemes::create;
    get "/api/v1/schemes/{scheme}" => schemes::show;
    get "/api/v1/applications" => applications::list;
    post "/api/v1/applications" => applications::apply;
    get "/api/v1/applications/{id}" => applications::show;
    post "/api/v1/applications/{id}/reviews" => applications::review;
    post "/api/v1/applications/{id}/decision" => applications::decide;
    get "/api/v1/grants" => applications::list_grants;
    get "/api/v1/grants/{id}" => applications::show_grant;
    patch "/api/v1/grants/{id}" => applications::set_grant_limits;
    get "/api/v1/queue" => queue::list, leader;
    get "/api/v1/queue/{id}" => queue::show, leader;
    get "/api/v1/audit" => audit::list;
    get "/api/v1/audit/verify" => audit::verify;
    get "/api/v1/jobs" => jobs::list;
    post "/api/v1/jobs" => jobs::submit;
    get "/api/v1/jobs/{id}" => jobs::show;
    get "/api/v1/jobs/{id}/logs" => jobs::logs;
    post "/api/v1/jobs/{id}/cancel" => jobs::cancel, leader;
    post "/api/v1/jobs/{id}/release" => jobs::release, leader;
    post "/api/v1/jobs/{id}/hold" => jobs::hold, leader;
    post "/api/v1/jobs/{id}/requeue" => jobs::requeue, leader;
    patch "/api/v1/jobs/{id}" => jobs::update, leader;
    get "/api/v1/jobs/{id}/attach" => terminals::attach;
    get "/api/v1/jobs/{id}/exec" => terminals::exec;
    get "/api/v1/jobs/{id}/relay" => terminals::relay;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// A routed path as OpenAPI writes it: `{*path}` is `{path}`.
    fn openapi_path(p: &str) -> String {
        p.replace("{*", "{")
    }

    #[test]
    fn every_route_is_documented_at_the_path_it_is_routed_at() {
        let doc = super::super::document();
        let mut documented = BTreeSet::new();
        for (path, item) in &doc.paths.paths {
            let json = serde_json::to_value(item).unwrap_or_default();
            for method in ["get", "post", "put", "patch", "delete"] {
                if json.get(method).is_some() {
                    documented.insert((method.to_string(), path.clone()));
                }
            }
        }
        let routed: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|r| (r.method.to_string(), openapi_path(r.path)))
            .collect();
        assert_eq!(routed.len(), ROUTES.len(), "a route is declared twice");
        assert_eq!(routed, documented);
    }

    #[test]
    fn what_needs_the_control_loop_is_leader_only() {
        let leader: Vec<&str> = ROUTES.iter().filter(|r| r.leader).map(|r| r.path).collect();
        for p in [
            "/api/v1/queue",
            "/api/v1/jobs/{id}/cancel",
            "/api/v1/nodes/{name}/drain",
        ] {
            assert!(leader.contains(&p), "{p} is not leader-only");
        }
        // A submission is stored by any server; the leader's poll queues it.
        assert!(
            ROUTES
                .iter()
                .any(|r| r.path == "/api/v1/jobs" && r.method == "post" && !r.leader)
        );
    }
}

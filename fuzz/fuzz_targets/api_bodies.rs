//! Every JSON request body of the API, read by the server's own extractor
//! (`api::extract::parse_body`): the first byte picks the body type, the rest
//! is the body. Any bytes are accepted, or refused with a 400 (not JSON, not
//! an object) or a 422 naming the field, never a panic or a 500.
#![no_main]

use aisc_server::api::extract::parse_body;
use aisc_server::api::{
    applications, data, identity, inventory, keys, nodes, privacy, schemes, slurm, tenancy,
};
use aisc_server::error::ApiError;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;

fn check<T: DeserializeOwned>(body: &[u8]) {
    match parse_body::<T>(body) {
        Ok(_) => {}
        Err(e @ ApiError::Malformed(_)) => assert_eq!(e.status().as_u16(), 400),
        Err(ApiError::Invalid { field, .. }) => {
            assert!(!field.is_empty(), "a 422 names its field");
            // A wrong shape is only ever blamed on a JSON object.
            let v: serde_json::Value = serde_json::from_slice(body).expect("422 only for JSON");
            assert!(v.is_object());
        }
        Err(other) => panic!("a body refused with {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    match pick % 24 {
        0 => check::<aisc_model::JobRequest>(body),
        1 => check::<applications::ApplicationRequest>(body),
        2 => check::<applications::ReviewRequest>(body),
        3 => check::<applications::DecisionRequest>(body),
        4 => check::<applications::GrantLimitsRequest>(body),
        5 => check::<data::UploadRequest>(body),
        6 => check::<data::QuotaRequest>(body),
        7 => check::<identity::LoginRequest>(body),
        8 => check::<identity::TokenRequest>(body),
        9 => check::<identity::UserRequest>(body),
        10 => check::<identity::RoleRequest>(body),
        11 => check::<identity::PasswordRequest>(body),
        12 => check::<inventory::ClassRequest>(body),
        13 => check::<inventory::NodesRequest>(body),
        14 => check::<inventory::PriceRequest>(body),
        15 => check::<keys::RetireRequest>(body),
        16 => check::<nodes::DrainRequest>(body),
        17 => check::<privacy::ConfirmRequest>(body),
        18 => check::<schemes::SchemeRequest>(body),
        19 => check::<slurm::UnixNameRequest>(body),
        20 => check::<slurm::SyncRequest>(body),
        21 => check::<tenancy::OrgRequest>(body),
        22 => check::<tenancy::ProjectRequest>(body),
        _ => check::<tenancy::MemberRequest>(body),
    }
});

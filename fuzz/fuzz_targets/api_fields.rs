//! The fields of the API's other JSON bodies, as people type them: amounts of
//! HK$ (prices, pools), dates and months, percentages (subsidy rates), names
//! (organisations, projects), kinds and roles, QOS, and the paths of
//! projects' files. Any string is accepted or refused, never a panic; an
//! accepted one keeps its rule.
#![no_main]

use aisc_billing::money::Cents;
use aisc_model::{calendar, files, scheme, tenancy};
use libfuzzer_sys::fuzz_target;
use std::path::{Component, Path};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = Cents::parse_hkd(s)
        && c.0 >= 0
    {
        // Exact: the amount as aisc prints it reads back the same.
        assert_eq!(Cents::parse_hkd(&c.to_string()), Ok(c));
    }
    if let Ok(ms) = calendar::parse_date(s) {
        assert_eq!(calendar::parse_date(&calendar::format_date(ms)), Ok(ms));
    }
    let _ = calendar::parse_month(s);
    if let Ok(p) = scheme::parse_percent(s) {
        assert!(p <= 10_000, "{p} basis points is more than 100 %");
    }
    if tenancy::check_name(s).is_ok() {
        assert!(!s.is_empty() && !s.contains('/') && !s.contains(' '));
    }
    let _ = s.parse::<tenancy::OrgKind>();
    let _ = s.parse::<tenancy::ProjectRole>();
    let _ = s.parse::<aisc_model::Qos>();
    if files::check_path(s).is_ok() {
        let joined = Path::new("/base").join(s);
        assert!(joined.starts_with("/base"));
        assert!(joined.components().skip(2).all(|c| matches!(c, Component::Normal(_))));
    }
});

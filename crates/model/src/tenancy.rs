//! Organisations, projects and the roles people hold in them.

use crate::ids::{OrgId, ProjectId, UserId};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What kind of body an organisation is (schemes admit some kinds only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrgKind {
    /// A university.
    University,
    /// A research institute.
    ResearchInstitute,
    /// An enterprise.
    Enterprise,
    /// A start-up.
    StartUp,
    /// A government body.
    Government,
    /// A school.
    School,
    /// A small or medium enterprise.
    Sme,
}

/// Every kind, as users type them.
pub const ORG_KINDS: [(&str, OrgKind); 7] = [
    ("university", OrgKind::University),
    ("research-institute", OrgKind::ResearchInstitute),
    ("enterprise", OrgKind::Enterprise),
    ("start-up", OrgKind::StartUp),
    ("government", OrgKind::Government),
    ("school", OrgKind::School),
    ("sme", OrgKind::Sme),
];

impl OrgKind {
    /// The name as users type it.
    pub fn as_str(self) -> &'static str {
        ORG_KINDS
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("unknown", |(n, _)| n)
    }
}

impl fmt::Display for OrgKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrgKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ORG_KINDS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s.trim()))
            .map(|(_, k)| *k)
            .ok_or_else(|| {
                format!(
                    "{s:?} is not an organisation kind (one of {})",
                    ORG_KINDS.map(|(n, _)| n).join(", ")
                )
            })
    }
}

/// A person's role at the centre as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CentreRole {
    /// Runs the centre: may do anything, and every change is audited.
    Admin,
    /// Scores applications (never their own organisation's).
    Reviewer,
    /// Reads jobs' metadata, the ledger and the audit trail; changes nothing.
    Auditor,
    /// Everyone else: what their projects and organisations allow.
    User,
}

/// Every centre role.
pub const CENTRE_ROLES: [CentreRole; 4] = [
    CentreRole::Admin,
    CentreRole::Reviewer,
    CentreRole::Auditor,
    CentreRole::User,
];

impl CentreRole {
    /// The name as stored and typed.
    pub fn as_str(self) -> &'static str {
        match self {
            CentreRole::Admin => "admin",
            CentreRole::Reviewer => "reviewer",
            CentreRole::Auditor => "auditor",
            CentreRole::User => "user",
        }
    }
}

impl std::fmt::Display for CentreRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CentreRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CENTRE_ROLES
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| {
                let all: Vec<&str> = CENTRE_ROLES.iter().map(|r| r.as_str()).collect();
                format!("{s:?} is not a role ({})", all.join(", "))
            })
    }
}

/// A person's role in a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProjectRole {
    /// Runs jobs and sees the project's own jobs.
    Member,
    /// Principal investigator: owns the project, manages members, sees everything in it.
    Pi,
}

impl ProjectRole {
    /// The name as users type it.
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectRole::Member => "member",
            ProjectRole::Pi => "pi",
        }
    }
}

impl FromStr for ProjectRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "member" => Ok(ProjectRole::Member),
            "pi" => Ok(ProjectRole::Pi),
            other => Err(format!("{other:?} is not a project role (member or pi)")),
        }
    }
}

/// Checks a name for an organisation, project or user: 1 to 64 of a-z, 0-9,
/// `.`, `_`, `-`, starting with a letter or digit.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a name: use 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for (name, kind) in ORG_KINDS {
            assert_eq!(name.parse::<OrgKind>(), Ok(kind));
            assert_eq!(kind.as_str(), name);
        }
        assert!(
            "charity"
                .parse::<OrgKind>()
                .unwrap_err()
                .contains("university")
        );
    }

    #[test]
    fn names() {
        assert!(check_name("hku-cs_lab.1").is_ok());
        for bad in ["", "-x", "Upper", "with space", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn roles() {
        assert_eq!("pi".parse::<ProjectRole>(), Ok(ProjectRole::Pi));
        assert!("boss".parse::<ProjectRole>().is_err());
        assert!(ProjectRole::Pi > ProjectRole::Member);
    }
}

/// What decides who may see a job: its submitter, project and organisation.
#[derive(Debug, Clone, Copy)]
pub struct JobAccess {
    /// Its submitter.
    pub owner: UserId,
    /// Its project.
    pub project: Option<ProjectId>,
    /// Its project's organisation.
    pub org: Option<OrgId>,
}

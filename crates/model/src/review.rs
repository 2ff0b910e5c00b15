//! Reviewing applications: scores per criterion, weighted.

use crate::scheme::Criterion;
use std::collections::BTreeMap;

/// The highest score a reviewer may give on a criterion.
pub const MAX_SCORE: u32 = 10;

/// Checks a reviewer's scores (0 to 10, one per criterion of the scheme and
/// no other) and returns the weighted score in hundredths (0 to 1,000):
/// sum of score x weight, weights in percent, so 10 on everything is 1,000.
pub fn weighted_score(
    criteria: &[Criterion],
    scores: &BTreeMap<String, u32>,
) -> Result<u32, String> {
    for name in scores.keys() {
        if !criteria.iter().any(|c| &c.name == name) {
            return Err(format!("{name:?} is not a criterion of this scheme"));
        }
    }
    let mut total = 0;
    for c in criteria {
        let s = *scores
            .get(&c.name)
            .ok_or_else(|| format!("no score for {}", c.name))?;
        if s > MAX_SCORE {
            return Err(format!(
                "{}: {s} is above the maximum of {MAX_SCORE}",
                c.name
            ));
        }
        total += s * c.weight;
    }
    Ok(total)
}

/// Formats a weighted score in hundredths as `7.35`.
pub fn format_score(hundredths: u32) -> String {
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crit() -> Vec<Criterion> {
        vec![
            Criterion {
                name: "impact".into(),
                weight: 60,
            },
            Criterion {
                name: "team".into(),
                weight: 40,
            },
        ]
    }

    #[test]
    fn scores_are_weighted() {
        let s: BTreeMap<String, u32> = [("impact".to_string(), 8), ("team".to_string(), 5)].into();
        assert_eq!(weighted_score(&crit(), &s), Ok(680));
        assert_eq!(format_score(680), "6.80");
        let full: BTreeMap<String, u32> =
            [("impact".to_string(), 10), ("team".to_string(), 10)].into();
        assert_eq!(weighted_score(&crit(), &full), Ok(1000));
    }

    #[test]
    fn incomplete_or_unknown_or_out_of_range_scores_are_refused() {
        let missing: BTreeMap<String, u32> = [("impact".to_string(), 8)].into();
        assert!(
            weighted_score(&crit(), &missing)
                .unwrap_err()
                .contains("team")
        );
        let extra: BTreeMap<String, u32> = [
            ("impact".into(), 8),
            ("team".into(), 5),
            ("vibes".into(), 9),
        ]
        .into();
        assert!(
            weighted_score(&crit(), &extra)
                .unwrap_err()
                .contains("vibes")
        );
        let high: BTreeMap<String, u32> = [("impact".into(), 11), ("team".into(), 5)].into();
        assert!(
            weighted_score(&crit(), &high)
                .unwrap_err()
                .contains("maximum")
        );
    }
}

use super::*;
use proptest::prelude::*;

const S: SchemeId = SchemeId(1);
const P: ProjectId = ProjectId(1);

fn rate(bp: u16) -> BasisPoints {
    BasisPoints::new(bp).unwrap()
}

#[test]
fn account_keys_are_distinct() {
    let g = GrantId(1);
    let all = [
        Account::SchemeFunding(S),
        Account::SchemePool(S),
        Account::GrantSubsidy(g),
        Account::SubsidySpent(g),
        Account::GrantAllocation(g),
        Account::GrantAvailable(g),
        Account::GrantHeld(g),
        Account::GrantUsed(g),
        Account::TenantDue(P),
        Account::CentreIncome,
    ];
    let keys: std::collections::HashSet<String> = all.iter().map(Account::key).collect();
    assert_eq!(keys.len(), all.len());
    assert_eq!(Account::SchemePool(S).key(), "scheme/1/pool");
}

#[test]
fn a_job_from_lien_to_settlement() {
    let mut l = Ledger::new();
    let g = GrantId(1);
    l.apply(&l.fund(S, Cents(1_000_000)).unwrap()).unwrap();
    l.apply(&l.approve(S, g, Cents(100_000), rate(7_000)).unwrap())
        .unwrap();
    assert_eq!(l.balance(Account::SchemePool(S)), Cents(930_000));
    assert_eq!(l.balance(Account::GrantSubsidy(g)), Cents(70_000));
    l.apply(&l.lien(g, JobId(1), Cents(10_000)).unwrap())
        .unwrap();
    assert_eq!(l.balance(Account::GrantAvailable(g)), Cents(90_000));
    let (e, parts) = l.settle(JobId(1), Cents(4_000), rate(7_000), P).unwrap();
    l.apply(&e).unwrap();
    assert_eq!(
        parts,
        Split {
            subsidy: Cents(2_800),
            tenant: Cents(1_200)
        }
    );
    assert_eq!(l.balance(Account::GrantAvailable(g)), Cents(96_000));
    assert_eq!(l.balance(Account::GrantHeld(g)), Cents(0));
    assert_eq!(l.balance(Account::GrantUsed(g)), Cents(4_000));
    assert_eq!(l.balance(Account::TenantDue(P)), Cents(1_200));
    assert_eq!(l.balance(Account::SubsidySpent(g)), Cents(2_800));
    assert_eq!(
        l.settle(JobId(1), Cents(1), rate(7_000), P).unwrap_err(),
        LedgerError::AlreadyCharged(JobId(1))
    );
    assert_eq!(
        l.apply(&e).unwrap_err(),
        LedgerError::AlreadyCharged(JobId(1)),
        "the same entry twice changes nothing"
    );
    assert_eq!(l.balance(Account::GrantUsed(g)), Cents(4_000));
}

#[test]
fn refusals_change_nothing() {
    let mut l = Ledger::new();
    let g = GrantId(1);
    l.apply(&l.fund(S, Cents(1_000)).unwrap()).unwrap();
    assert!(matches!(
        l.approve(S, g, Cents(10_000), rate(9_000)),
        Err(LedgerError::PoolOverCommitted { .. })
    ));
    l.apply(&l.approve(S, g, Cents(1_000), rate(9_000)).unwrap())
        .unwrap();
    assert!(matches!(
        l.lien(g, JobId(1), Cents(1_001)),
        Err(LedgerError::GrantExhausted { .. })
    ));
    let unbalanced = Entry {
        kind: EntryKind::Fund,
        grant: None,
        job: None,
        postings: vec![Posting {
            account: Account::SchemePool(S),
            amount: Cents(5),
        }],
    };
    assert_eq!(l.apply(&unbalanced), Err(LedgerError::Unbalanced(5)));
    let before: Vec<_> = {
        let mut b: Vec<_> = l.balances().map(|(a, c)| (*a, c)).collect();
        b.sort();
        b
    };
    let overdraw = Entry {
        kind: EntryKind::Fund,
        grant: None,
        job: None,
        postings: vec![
            Posting {
                account: Account::SchemePool(S),
                amount: Cents(-1_000_000),
            },
            Posting {
                account: Account::SchemeFunding(S),
                amount: Cents(1_000_000),
            },
        ],
    };
    assert!(matches!(l.apply(&overdraw), Err(LedgerError::Overdrawn(_))));
    let after: Vec<_> = {
        let mut b: Vec<_> = l.balances().map(|(a, c)| (*a, c)).collect();
        b.sort();
        b
    };
    assert_eq!(before, after);
    assert!(matches!(
        l.fund(S, Cents(-1)),
        Err(LedgerError::Negative(_))
    ));
}

#[derive(Debug, Clone)]
enum Op {
    Fund(i64),
    Approve(u8, i64, u16),
    Lien(u8, u8, i64),
    Settle(u8, u16, u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0i64..2_000_000).prop_map(Op::Fund),
        (0u8..4, 0i64..3_000_000, 0u16..=10_000).prop_map(|(g, v, r)| Op::Approve(g, v, r)),
        (0u8..4, 0u8..30, 0i64..500_000).prop_map(|(g, j, a)| Op::Lien(g, j, a)),
        (0u8..30, 0u16..=1000, 0u16..=10_000).prop_map(|(j, frac, r)| Op::Settle(j, frac, r)),
    ]
}

proptest! {
    #[test]
    fn invariants_hold_under_any_sequence(ops in prop::collection::vec(op(), 0..120)) {
        let mut l = Ledger::new();
        let mut funded = 0i64;
        let mut charges: HashMap<JobId, Cents> = HashMap::new();
        for o in ops {
            let e = match o {
                Op::Fund(a) => l.fund(S, Cents(a)).map(|e| (e, None)),
                Op::Approve(g, v, r) => l.approve(S, GrantId(i64::from(g)), Cents(v), rate(r)).map(|e| (e, None)),
                Op::Lien(g, j, a) => l.lien(GrantId(i64::from(g)), JobId(i64::from(j)), Cents(a)).map(|e| (e, None)),
                Op::Settle(j, frac, r) => {
                    let job = JobId(i64::from(j));
                    let lien = l.liens.get(&job).map_or(Cents::ZERO, |x| x.1);
                    let charge = Cents(lien.0 * i64::from(frac) / 1000);
                    l.settle(job, charge, rate(r), P).map(|(e, _)| (e, Some((job, charge))))
                }
            };
            if let Ok((e, charged)) = e {
                prop_assert_eq!(e.sum(), 0);
                l.apply(&e).unwrap();
                if let Op::Fund(a) = o { funded += a; }
                if let Some((job, c)) = charged {
                    prop_assert!(charges.insert(job, c).is_none(), "charged twice");
                }
            }
            let total: i128 = l.balances().map(|(_, c)| i128::from(c.0)).sum();
            prop_assert_eq!(total, 0, "the ledger balances");
            for (a, c) in l.balances() {
                if never_negative(a) { prop_assert!(c >= Cents::ZERO, "{:?} below zero", a); }
            }
            let spent: i64 = l.balances().filter(|(a, _)| matches!(a, Account::SubsidySpent(_))).map(|(_, c)| c.0).sum();
            let reserved: i64 = l.balances().filter(|(a, _)| matches!(a, Account::GrantSubsidy(_))).map(|(_, c)| c.0).sum();
            prop_assert!(spent + reserved <= funded, "the pool is never over-committed");
        }
    }
}

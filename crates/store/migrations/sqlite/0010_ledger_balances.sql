-- Each account's running balance, maintained in the same transaction as the
-- postings it sums (which stay the record): guards and balance reads become
-- one row each instead of a sum over the account's history.
CREATE TABLE ledger_balances (
    account  TEXT PRIMARY KEY,
    balance  INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO ledger_balances (account, balance) SELECT account, SUM(amount) FROM ledger_postings GROUP BY account;

-- Each grant's metered total: the exact cost of its settled jobs in units of
-- 1/3,600,000 cent, as decimal text (aisc_billing::carry). Grants settled
-- before this start from what they were charged.
ALTER TABLE grants ADD COLUMN metered TEXT NOT NULL DEFAULT '0';
UPDATE grants SET metered = CAST(3600000 * COALESCE(
    (SELECT balance FROM ledger_balances WHERE account = 'grant/' || grants.id || '/used'), 0) AS TEXT);

-- Statements and settlements read an entry's postings: without this index
-- every statement scanned the whole ledger.
CREATE INDEX postings_by_entry ON ledger_postings(entry_id);

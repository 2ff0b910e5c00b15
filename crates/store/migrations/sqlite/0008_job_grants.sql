-- What a job is charged to, at what price, and the lien its worst case holds.
ALTER TABLE jobs ADD COLUMN grant_id INTEGER REFERENCES grants(id);
ALTER TABLE jobs ADD COLUMN price_cents INTEGER;
ALTER TABLE jobs ADD COLUMN lien_cents INTEGER;

-- Reviews an application needs before approval; schemes made before this keep approving as they did.
ALTER TABLE schemes ADD COLUMN min_reviews BIGINT NOT NULL DEFAULT 0;

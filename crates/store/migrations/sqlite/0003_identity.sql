-- Passwords (argon2id, PHC strings) and token scopes.
ALTER TABLE users ADD COLUMN password_hash TEXT;
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'full';
CREATE INDEX api_tokens_by_user ON api_tokens(user_id, id);

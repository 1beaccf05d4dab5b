// API keys (api/keys.py): one node per key, only a SHA-256 of the secret is stored.
CREATE CONSTRAINT api_key_id IF NOT EXISTS FOR (k:ApiKey) REQUIRE k.id IS UNIQUE;

-- The store's data: an ordered map of byte keys to byte values. The primary
-- key's B-tree serves Get and every range Scan (record prefixes, subject
-- indexes and the vault's blind-index prefixes alike); bytea compares
-- bytewise, like every other backend.
CREATE TABLE kv (
	k bytea PRIMARY KEY,
	v bytea NOT NULL
);

-- Additive counters, kept apart from kv. A counter is the sum of its
-- shards: each Apply adds to one shard chosen at random, so concurrent
-- writers of a hot counter (records per collection) rarely wait for each
-- other's commit.
CREATE TABLE counters (
	k     bytea    NOT NULL,
	shard smallint NOT NULL,
	n     bigint   NOT NULL,
	PRIMARY KEY (k, shard)
);

-- Facts about the database itself; region names the region whose data it
-- holds, written by the first node that opens it.
CREATE TABLE domicile_meta (
	name  text PRIMARY KEY,
	value text NOT NULL
);

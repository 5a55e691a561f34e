-- domicile_claim is Batch.Claim: if key is absent it inserts (key, val)
-- and puts every pair of then_k and then_v, and returns NULL; if key is
-- present it writes nothing and returns key's value, locked FOR SHARE so
-- that no concurrent batch changes it until this transaction ends.
--
-- INSERT ... ON CONFLICT DO NOTHING waits for a concurrent transaction that
-- inserted key and sees its outcome; a key deleted between that insert and
-- the read is claimed again.
CREATE FUNCTION domicile_claim(key bytea, val bytea, then_k bytea[], then_v bytea[]) RETURNS bytea
LANGUAGE plpgsql AS $$
DECLARE
	got bytea;
BEGIN
	LOOP
		INSERT INTO kv (k, v) VALUES (key, val) ON CONFLICT (k) DO NOTHING;
		IF FOUND THEN
			INSERT INTO kv (k, v) SELECT t.k, t.v FROM unnest(then_k, then_v) AS t(k, v)
				ON CONFLICT (k) DO UPDATE SET v = excluded.v;
			RETURN NULL;
		END IF;
		SELECT v INTO got FROM kv WHERE k = key FOR SHARE;
		IF FOUND THEN
			RETURN got;
		END IF;
	END LOOP;
END
$$;

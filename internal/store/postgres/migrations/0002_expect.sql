-- domicile_expect is Batch.Expect: it raises SQLSTATE DM001 unless key k
-- holds exactly v (v NULL: k must be absent), and holds k until the
-- transaction ends so that no concurrent batch changes it in between.
--
-- A present key is locked with FOR UPDATE (in READ COMMITTED, a row changed
-- by a transaction we waited for is re-read, so the comparison is with the
-- committed value). An absent key has no row to lock: a placeholder row is
-- inserted and deleted again, which makes concurrent writers of k wait for
-- this transaction through the primary key, or this one fail if a
-- concurrent writer committed k first.
CREATE FUNCTION domicile_expect(key bytea, want bytea) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	got bytea;
BEGIN
	IF want IS NULL THEN
		INSERT INTO kv (k, v) VALUES (key, '\x'::bytea) ON CONFLICT (k) DO NOTHING;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'domicile: expected key is present' USING ERRCODE = 'DM001';
		END IF;
		DELETE FROM kv WHERE k = key;
		RETURN;
	END IF;
	SELECT v INTO got FROM kv WHERE k = key FOR UPDATE;
	IF NOT FOUND OR got <> want THEN
		RAISE EXCEPTION 'domicile: key does not hold the expected value' USING ERRCODE = 'DM001';
	END IF;
END
$$;

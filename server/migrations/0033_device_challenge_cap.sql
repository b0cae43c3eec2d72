-- A clinic hub's device sign-in challenges are bounded per key. `device-challenge` is open
-- to anyone on the clinic's LAN who knows a live key id (key ids are not secrets: they sit
-- in every signed change), and each call kept a row until a day after it expired. Now a
-- key has at most 5 challenges open at once (a PC needs one; a few cover retries): asking
-- for another clears the key's spent and expired ones and drops its oldest open ones. It
-- is not refused, so no one on the LAN can lock a PC out by asking in its place; the PC
-- whose challenge was dropped is refused once and asks again.
CREATE INDEX device_challenges_key ON vaidya.device_challenges (clinic_id, key_id);

CREATE OR REPLACE FUNCTION vaidya.auth_device_challenge(p_clinic uuid, p_key uuid,
                                                        p_challenge bytea, p_ttl_secs int)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id uuid := gen_random_uuid();
BEGIN
    DELETE FROM vaidya.device_challenges WHERE expires_at < now() - interval '1 day';
    IF NOT EXISTS (
        SELECT 1 FROM vaidya.device_keys k
        JOIN vaidya.users u ON u.id = k.user_id AND u.disabled_at IS NULL AND u.kind = 'person'
        JOIN vaidya.memberships m ON m.user_id = k.user_id AND m.clinic_id = p_clinic
                                 AND m.revoked_at IS NULL
        WHERE k.id = p_key AND k.revoked_at IS NULL
    ) THEN
        RETURN NULL;
    END IF;
    -- One key's requests one at a time, so concurrent ones cannot all slip past the cap.
    PERFORM pg_advisory_xact_lock(hashtextextended('vaidya.device_challenge:' || p_key::text, 0));
    DELETE FROM vaidya.device_challenges c
    WHERE c.clinic_id = p_clinic AND c.key_id = p_key
      AND (c.used_at IS NOT NULL OR c.expires_at <= now());
    DELETE FROM vaidya.device_challenges c
    WHERE c.clinic_id = p_clinic AND c.key_id = p_key
      AND c.id NOT IN (SELECT o.id FROM vaidya.device_challenges o
                       WHERE o.clinic_id = p_clinic AND o.key_id = p_key
                       ORDER BY o.expires_at DESC, o.id LIMIT 4);
    INSERT INTO vaidya.device_challenges (clinic_id, id, key_id, challenge, expires_at)
    VALUES (p_clinic, v_id, p_key, p_challenge, now() + make_interval(secs => p_ttl_secs));
    RETURN v_id;
END
$$;
REVOKE ALL ON FUNCTION vaidya.auth_device_challenge(uuid, uuid, bytea, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.auth_device_challenge(uuid, uuid, bytea, int) TO vaidya_app;

-- A clinic hub's device sign-in challenges are bounded. `device-challenge` is open to
-- anyone on the clinic's LAN who knows a live key id (key ids are not secrets: they sit in
-- every signed change), and each call kept a row until a day after it expired. Now:
-- - a key has at most 5 challenges open per address that asked: asking for another clears
--   the key's spent and expired ones and drops the oldest open ones asked from the same
--   address. It is not refused, and nothing asked from one address is dropped by asking
--   from another, so no one on the LAN can lock a PC out by asking in its place;
-- - both challenge functions answer only in the database of that clinic's hub
--   (`vaidya.hub_clinic()`), as `hub_relay_enqueue` does, not only behind the route's check.
ALTER TABLE vaidya.device_challenges ADD COLUMN requested_from text;
CREATE INDEX device_challenges_key ON vaidya.device_challenges (clinic_id, key_id);

DROP FUNCTION vaidya.auth_device_challenge(uuid, uuid, bytea, int);
CREATE FUNCTION vaidya.auth_device_challenge(p_clinic uuid, p_key uuid, p_challenge bytea,
                                             p_ttl_secs int, p_from text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id uuid := gen_random_uuid();
BEGIN
    IF p_clinic IS DISTINCT FROM vaidya.hub_clinic() THEN
        RETURN NULL;
    END IF;
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
      AND c.requested_from IS NOT DISTINCT FROM p_from
      AND c.id NOT IN (SELECT o.id FROM vaidya.device_challenges o
                       WHERE o.clinic_id = p_clinic AND o.key_id = p_key
                         AND o.requested_from IS NOT DISTINCT FROM p_from
                       ORDER BY o.expires_at DESC, o.id LIMIT 4);
    INSERT INTO vaidya.device_challenges (clinic_id, id, key_id, challenge, expires_at,
                                          requested_from)
    VALUES (p_clinic, v_id, p_key, p_challenge, now() + make_interval(secs => p_ttl_secs),
            p_from);
    RETURN v_id;
END
$$;
REVOKE ALL ON FUNCTION vaidya.auth_device_challenge(uuid, uuid, bytea, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.auth_device_challenge(uuid, uuid, bytea, int, text) TO vaidya_app;

CREATE OR REPLACE FUNCTION vaidya.auth_device_challenge_take(p_clinic uuid, p_id uuid, p_key uuid)
RETURNS TABLE (challenge bytea, user_id uuid, public_key bytea)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_challenge bytea;
BEGIN
    IF p_clinic IS DISTINCT FROM vaidya.hub_clinic() THEN
        RETURN;
    END IF;
    UPDATE vaidya.device_challenges c SET used_at = now()
    WHERE c.clinic_id = p_clinic AND c.id = p_id AND c.key_id = p_key
      AND c.used_at IS NULL AND c.expires_at > now()
    RETURNING c.challenge INTO v_challenge;
    IF v_challenge IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT v_challenge, k.user_id, k.public_key
    FROM vaidya.device_keys k
    JOIN vaidya.users u ON u.id = k.user_id AND u.disabled_at IS NULL AND u.kind = 'person'
    JOIN vaidya.memberships m ON m.user_id = k.user_id AND m.clinic_id = p_clinic
                             AND m.revoked_at IS NULL
    WHERE k.id = p_key AND k.revoked_at IS NULL;
END
$$;
REVOKE ALL ON FUNCTION vaidya.auth_device_challenge_take(uuid, uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.auth_device_challenge_take(uuid, uuid, uuid) TO vaidya_app;

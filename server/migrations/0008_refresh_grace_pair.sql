-- A refresh retried after a lost answer gets the SAME rotated pair back.
--
-- Before: a retry inside the grace period minted another pair, so two refreshes of one
-- token (a retry, two tabs, or a thief replaying it on another instance) each got 200, the
-- first holder's tokens died and the session was not revoked. Now the rotation keeps the
-- pair it handed out, sealed with a key only the presented refresh token yields (the server
-- stores no token in the clear): presenting that token again inside the grace period
-- returns the same pair and changes nothing. Any other reuse of a replaced token — after
-- the grace period, or a token replaced longer ago — is theft and ends the session.

ALTER TABLE vaidya.sessions ADD COLUMN grace_pair bytea;

-- Refresh tokens replaced more than one rotation ago (hashes), so their reuse is caught.
-- Kept no longer than a refresh token lives; reached only through the function below.
CREATE TABLE vaidya.retired_refresh_tokens (
    refresh_hash bytea PRIMARY KEY,
    session_id   uuid NOT NULL REFERENCES vaidya.sessions (id),
    retired_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX retired_refresh_tokens_session ON vaidya.retired_refresh_tokens (session_id, retired_at);
ALTER TABLE vaidya.retired_refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE vaidya.retired_refresh_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON vaidya.retired_refresh_tokens TO vaidya_owner USING (true) WITH CHECK (true);

DROP FUNCTION vaidya.auth_rotate_session(bytea, bytea, integer, bytea, integer, integer);
CREATE FUNCTION vaidya.auth_rotate_session(
    p_refresh_hash bytea, p_new_access_hash bytea, p_access_ttl_secs integer,
    p_new_refresh_hash bytea, p_refresh_ttl_secs integer, p_grace_secs integer,
    p_grace_pair bytea
) RETURNS TABLE (user_id uuid, replayed_pair bytea,
                 access_expires_at timestamptz, refresh_expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    s vaidya.sessions%ROWTYPE;
BEGIN
    -- The row lock orders concurrent refreshes of one token: the second sees the first's
    -- rotation and is answered as a retry.
    SELECT * INTO s FROM vaidya.sessions x
    WHERE (x.refresh_hash = p_refresh_hash OR x.previous_refresh_hash = p_refresh_hash)
      AND x.revoked_at IS NULL
    FOR UPDATE;
    IF NOT FOUND THEN
        -- A token replaced longer ago, presented again: stolen. End its session.
        UPDATE vaidya.sessions x SET revoked_at = now(), grace_pair = NULL
        WHERE x.revoked_at IS NULL AND x.id = (
            SELECT r.session_id FROM vaidya.retired_refresh_tokens r
            WHERE r.refresh_hash = p_refresh_hash);
        RETURN;
    END IF;
    IF s.refresh_expires_at <= now()
       OR NOT EXISTS (SELECT 1 FROM vaidya.users u WHERE u.id = s.user_id AND u.disabled_at IS NULL) THEN
        RETURN;
    END IF;
    IF s.previous_refresh_hash = p_refresh_hash THEN
        IF s.rotated_at > now() - make_interval(secs => p_grace_secs) AND s.grace_pair IS NOT NULL THEN
            RETURN QUERY SELECT s.user_id, s.grace_pair, s.access_expires_at, s.refresh_expires_at;
            RETURN;
        END IF;
        UPDATE vaidya.sessions x SET revoked_at = now(), grace_pair = NULL WHERE x.id = s.id;
        RETURN;
    END IF;
    IF s.previous_refresh_hash IS NOT NULL THEN
        INSERT INTO vaidya.retired_refresh_tokens (refresh_hash, session_id)
        VALUES (s.previous_refresh_hash, s.id) ON CONFLICT DO NOTHING;
    END IF;
    DELETE FROM vaidya.retired_refresh_tokens r
    WHERE r.session_id = s.id AND r.retired_at < now() - make_interval(secs => p_refresh_ttl_secs);
    RETURN QUERY
    UPDATE vaidya.sessions x
    SET previous_refresh_hash = p_refresh_hash,
        refresh_hash = p_new_refresh_hash,
        refresh_expires_at = now() + make_interval(secs => p_refresh_ttl_secs),
        access_hash = p_new_access_hash,
        access_expires_at = now() + make_interval(secs => p_access_ttl_secs),
        rotated_at = now(),
        grace_pair = p_grace_pair
    WHERE x.id = s.id
    RETURNING x.user_id, NULL::bytea, x.access_expires_at, x.refresh_expires_at;
END
$$;
REVOKE ALL ON FUNCTION
    vaidya.auth_rotate_session(bytea, bytea, integer, bytea, integer, integer, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    vaidya.auth_rotate_session(bytea, bytea, integer, bytea, integer, integer, bytea) TO vaidya_app;

-- Device signing keys: proven authorship of offline work on shared clinic PCs.
--
-- At online sign-in each user registers a signing key (Ed25519 public key) for the device;
-- the secret stays in that user's OS-keyring entry. A push may carry colleagues' changes,
-- each signed by its author; the server applies a change as the author only when the
-- signature holds with the author's registered, unrevoked key. A clinic admin revokes a
-- member's key when a PC is lost or was shared wrongly.

CREATE TABLE vaidya.device_keys (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES vaidya.users (id),
    public_key  bytea NOT NULL CHECK (length(public_key) = 32),
    device      text CHECK (length(device) <= 200),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    revoked_by  uuid REFERENCES vaidya.users (id)
);
CREATE INDEX device_keys_user ON vaidya.device_keys (user_id);
ALTER TABLE vaidya.device_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE vaidya.device_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON vaidya.device_keys TO vaidya_owner USING (true) WITH CHECK (true);

-- The signed-in user registers one of their own keys. Idempotent, so a device re-registers
-- its key at every online sign-in: 'registered' (new), 'known' (the same key, in force),
-- 'revoked' (the device must make a new key), or 'taken' (the id is another key's).
CREATE FUNCTION vaidya.register_device_key(p_id uuid, p_public_key bytea, p_device text)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_user uuid := vaidya.current_user_id();
    k vaidya.device_keys%ROWTYPE;
BEGIN
    IF v_user IS NULL THEN
        RAISE EXCEPTION 'sign in first' USING ERRCODE = '42501';
    END IF;
    SELECT * INTO k FROM vaidya.device_keys WHERE id = p_id;
    IF NOT FOUND THEN
        INSERT INTO vaidya.device_keys (id, user_id, public_key, device)
        VALUES (p_id, v_user, p_public_key, left(p_device, 200));
        RETURN 'registered';
    END IF;
    IF k.user_id <> v_user OR k.public_key <> p_public_key THEN
        RETURN 'taken';
    END IF;
    RETURN CASE WHEN k.revoked_at IS NULL THEN 'known' ELSE 'revoked' END;
END
$$;

-- The public key of a change's author, for a push to `p_clinic`: only while the key is not
-- revoked, its owner is an active member of the clinic, and so is the caller.
CREATE FUNCTION vaidya.author_key(p_clinic uuid, p_key uuid)
RETURNS TABLE (user_id uuid, public_key bytea)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT k.user_id, k.public_key FROM vaidya.device_keys k
    WHERE k.id = p_key AND k.revoked_at IS NULL
      AND EXISTS (SELECT 1 FROM vaidya.memberships m
                  WHERE m.clinic_id = p_clinic AND m.user_id = k.user_id AND m.revoked_at IS NULL)
      AND EXISTS (SELECT 1 FROM vaidya.memberships m
                  WHERE m.clinic_id = p_clinic AND m.user_id = vaidya.current_user_id()
                    AND m.revoked_at IS NULL)
$$;

-- A clinic admin revokes a member's device key. True when a key was revoked.
CREATE FUNCTION vaidya.revoke_device_key(p_clinic uuid, p_key uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM vaidya.memberships m
                   WHERE m.clinic_id = p_clinic AND m.user_id = vaidya.current_user_id()
                     AND m.role = 'admin' AND m.revoked_at IS NULL) THEN
        RETURN false;
    END IF;
    UPDATE vaidya.device_keys k SET revoked_at = now(), revoked_by = vaidya.current_user_id()
    WHERE k.id = p_key AND k.revoked_at IS NULL
      AND EXISTS (SELECT 1 FROM vaidya.memberships m
                  WHERE m.clinic_id = p_clinic AND m.user_id = k.user_id);
    RETURN FOUND;
END
$$;

REVOKE ALL ON FUNCTION vaidya.register_device_key(uuid, bytea, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION vaidya.author_key(uuid, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION vaidya.revoke_device_key(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    vaidya.register_device_key(uuid, bytea, text),
    vaidya.author_key(uuid, uuid),
    vaidya.revoke_device_key(uuid, uuid)
TO vaidya_app;

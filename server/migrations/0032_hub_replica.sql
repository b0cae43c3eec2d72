-- The clinic hub's own database (issue 11, ARCHITECTURE.md "The clinic hub"): where its
-- copy of the clinic's feed from the group server has reached. One row per clinic the
-- database is a hub of (one). The hub process writes it, as the cluster's superuser, in
-- the transaction that writes the page of rows it stands for: a page and its cursor commit
-- together, as on a PC. No role of the app may read or write it (RLS forced, no policy,
-- no grant): a sealed cursor of the group server is no one's business on the clinic's LAN.

CREATE TABLE vaidya.hub_replica (
    clinic_id    uuid PRIMARY KEY,
    -- The group server's sealed feed cursor; NULL before the first page.
    feed_cursor  text,
    -- The schema (last migration) the rows were written under.
    schema       text NOT NULL,
    -- When the clinic's people and keys (the directory) were last written.
    directory_at timestamptz,
    -- When the last page was applied.
    fed_at       timestamptz
);
ALTER TABLE vaidya.hub_replica ENABLE ROW LEVEL SECURITY;
ALTER TABLE vaidya.hub_replica FORCE ROW LEVEL SECURITY;
REVOKE ALL ON vaidya.hub_replica FROM PUBLIC;

-- A PC's sign-in to its clinic's hub (issue 11): passwords are never copied to a hub, so a
-- person's PC proves who it is by signing a one-time challenge with the device key that
-- person registered with the group server (the directory brings the public halves). Each
-- challenge is for one clinic and one key, lives two minutes and is taken once, whatever
-- the outcome, so a captured answer cannot be replayed. Only the definer functions below
-- touch the table.
CREATE TABLE vaidya.device_challenges (
    clinic_id  uuid NOT NULL,
    id         uuid NOT NULL,
    key_id     uuid NOT NULL,
    challenge  bytea NOT NULL CHECK (length(challenge) = 32),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (clinic_id, id)
);
ALTER TABLE vaidya.device_challenges ENABLE ROW LEVEL SECURITY;
ALTER TABLE vaidya.device_challenges FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON vaidya.device_challenges TO vaidya_owner USING (true) WITH CHECK (true);

-- A new challenge for `p_key` in `p_clinic`, or NULL when the key is not a live key of an
-- active person of the clinic (no row is kept for a key that could never sign in; key ids
-- are random, so this tells a guesser nothing). The caller is not signed in yet: the
-- membership checked is the key's person's. Challenges a day past their expiry are cleared
-- on the way.
CREATE FUNCTION vaidya.auth_device_challenge(p_clinic uuid, p_key uuid, p_challenge bytea,
                                             p_ttl_secs int) RETURNS uuid
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
    INSERT INTO vaidya.device_challenges (clinic_id, id, key_id, challenge, expires_at)
    VALUES (p_clinic, v_id, p_key, p_challenge, now() + make_interval(secs => p_ttl_secs));
    RETURN v_id;
END
$$;
REVOKE ALL ON FUNCTION vaidya.auth_device_challenge(uuid, uuid, bytea, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.auth_device_challenge(uuid, uuid, bytea, int) TO vaidya_app;

-- Takes challenge `p_id` of `p_clinic` for `p_key`, once: its bytes, the key's person and
-- public key, or no row when the challenge is unknown, used, expired or of another key, or
-- the key is revoked, or its person is disabled, no person, or no active member of the
-- clinic. The caller checks the signature with what it returns.
CREATE FUNCTION vaidya.auth_device_challenge_take(p_clinic uuid, p_id uuid, p_key uuid)
RETURNS TABLE (challenge bytea, user_id uuid, public_key bytea)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_challenge bytea;
BEGIN
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

-- Whether this database is a clinic hub's, and of which clinic: the one row of
-- `hub_replica` (the hub process writes it when it opens its copy). The database itself
-- says so, so a hub's routes cannot be switched on by a setting left behind elsewhere:
-- device sign-in and the relay answer only here, and only for that clinic; patients
-- registered here get provisional numbers (`routes::patients`).
CREATE POLICY owner_all ON vaidya.hub_replica TO vaidya_owner USING (true) WITH CHECK (true);
CREATE FUNCTION vaidya.hub_clinic() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT clinic_id FROM vaidya.hub_replica ORDER BY clinic_id LIMIT 1
$$;
REVOKE ALL ON FUNCTION vaidya.hub_clinic() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.hub_clinic() TO vaidya_app;

-- What a hub forwards to the group server, in the order it took it in: each change (and
-- each uploaded offline read) its PCs pushed and it accepted, exactly as its author signed
-- it, once per id. The push writes it through `hub_relay_enqueue`, in the push's own
-- transaction; the hub process forwards and marks it (as the cluster's superuser). The
-- group server's answer is kept with it.
CREATE TABLE vaidya.hub_relay (
    clinic_id    uuid NOT NULL,
    seq          bigint GENERATED ALWAYS AS IDENTITY,
    kind         text NOT NULL CHECK (kind IN ('mutation', 'access')),
    item_id      uuid NOT NULL,
    item         jsonb NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    forwarded_at timestamptz,
    result       jsonb,
    PRIMARY KEY (clinic_id, seq),
    UNIQUE (clinic_id, kind, item_id)
);
CREATE INDEX hub_relay_waiting ON vaidya.hub_relay (clinic_id, seq) WHERE forwarded_at IS NULL;
ALTER TABLE vaidya.hub_relay ENABLE ROW LEVEL SECURITY;
ALTER TABLE vaidya.hub_relay FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON vaidya.hub_relay TO vaidya_owner USING (true) WITH CHECK (true);

-- Queues items of `p_kind` for the group server: only on the hub of `p_clinic`, only from
-- a person who is an active member of it; an item queued before is left as it was.
CREATE FUNCTION vaidya.hub_relay_enqueue(p_clinic uuid, p_kind text, p_ids uuid[],
                                         p_items jsonb[]) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_clinic IS DISTINCT FROM vaidya.hub_clinic()
       OR NOT p_clinic = ANY (vaidya.member_clinics('{admin,doctor,nurse,front_desk}')) THEN
        RAISE EXCEPTION 'hub_relay_enqueue: not a person of this hub''s clinic'
            USING ERRCODE = '42501';
    END IF;
    INSERT INTO vaidya.hub_relay (clinic_id, kind, item_id, item)
    SELECT p_clinic, p_kind, t.id, t.item FROM unnest(p_ids, p_items) AS t(id, item)
    ON CONFLICT (clinic_id, kind, item_id) DO NOTHING;
END
$$;
REVOKE ALL ON FUNCTION vaidya.hub_relay_enqueue(uuid, text, uuid[], jsonb[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.hub_relay_enqueue(uuid, text, uuid[], jsonb[]) TO vaidya_app;

-- The clinic's hub reads which PC owns which invoice series (its copy checks a bill of a
-- PC's own series as the group server does, `invoices::device_series_is_mine`); it still
-- allocates none and changes none.
SELECT vaidya.register_tenant_table('invoice_device_series',
    '{admin,doctor,nurse,front_desk,hub}', '{admin,doctor,nurse,front_desk}',
    '{admin,doctor,nurse,front_desk}');
REVOKE UPDATE ON vaidya.invoice_device_series FROM vaidya_app;

-- A patient registered through a clinic hub during an outage has a provisional number
-- below zero until the group server's comes back (`routes::patients::numbering`); the
-- group server itself numbers from its counter, above zero, as before.
ALTER TABLE vaidya.patients DROP CONSTRAINT patients_patient_number_check;
ALTER TABLE vaidya.patients ADD CONSTRAINT patients_patient_number_check
    CHECK (patient_number <> 0);

-- The hub on its clinic's network (issue 11): the SHA-256 of its TLS certificate, pinned
-- when the admin registers it on the hub machine (the hub's own later word cannot change
-- it), and the addresses it announces itself once approved. The clinic's people read both
-- (`clinic_hub_endpoints`), so a PC talks to exactly that certificate, never in plaintext.
ALTER TABLE vaidya.hub_registrations
    ADD COLUMN certificate_sha256 text CHECK (certificate_sha256 ~ '^[0-9a-f]{64}$'),
    ADD COLUMN addresses text[] NOT NULL DEFAULT '{}'
        CHECK (cardinality(addresses) <= 8),
    ADD COLUMN announced_at timestamptz;

DROP FUNCTION vaidya.register_hub(uuid, text);
-- Registers a hub: its account (no password, never found by email) and its registration
-- with its certificate's pin, no membership. Only an active admin of the clinic. Returns
-- the hub's user id.
CREATE FUNCTION vaidya.register_hub(p_clinic uuid, p_name text, p_certificate_sha256 text)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id uuid := gen_random_uuid();
BEGIN
    IF NOT p_clinic = ANY (vaidya.member_clinics('{admin}')) THEN
        RETURN NULL;
    END IF;
    INSERT INTO vaidya.users (id, email, display_name, password_hash, kind)
    VALUES (v_id, 'hub-' || v_id::text || '@hub.invalid', p_name, '!', 'hub');
    INSERT INTO vaidya.hub_registrations (clinic_id, hub_id, registered_by, certificate_sha256)
    VALUES (p_clinic, v_id, vaidya.current_user_id(), p_certificate_sha256);
    RETURN v_id;
END
$$;
REVOKE ALL ON FUNCTION vaidya.register_hub(uuid, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.register_hub(uuid, text, text) TO vaidya_app;

-- The calling hub announces where it answers: only the clinic's approved, active hub, for
-- itself. Answers whether it was recorded.
CREATE FUNCTION vaidya.announce_hub(p_clinic uuid, p_addresses text[]) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT p_clinic = ANY (vaidya.member_clinics('{hub}')) THEN
        RETURN false;
    END IF;
    UPDATE vaidya.hub_registrations
    SET addresses = p_addresses, announced_at = now()
    WHERE clinic_id = p_clinic AND hub_id = vaidya.current_user_id()
      AND approved_at IS NOT NULL;
    RETURN FOUND;
END
$$;
REVOKE ALL ON FUNCTION vaidya.announce_hub(uuid, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.announce_hub(uuid, text[]) TO vaidya_app;

-- The clinic's approved, active hubs with a pinned certificate, for its people (not its
-- hubs): where their PCs find them.
CREATE FUNCTION vaidya.clinic_hub_endpoints(p_clinic uuid)
RETURNS TABLE (hub_id uuid, name text, addresses text[], certificate_sha256 text,
               announced_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.hub_id, u.display_name, r.addresses, r.certificate_sha256, r.announced_at
    FROM vaidya.hub_registrations r
    JOIN vaidya.users u ON u.id = r.hub_id AND u.disabled_at IS NULL
    JOIN vaidya.memberships m ON m.clinic_id = r.clinic_id AND m.user_id = r.hub_id
                             AND m.revoked_at IS NULL
    WHERE r.clinic_id = p_clinic AND r.certificate_sha256 IS NOT NULL
      AND p_clinic = ANY (vaidya.member_clinics('{admin,doctor,nurse,front_desk}'))
    ORDER BY r.registered_at
$$;
REVOKE ALL ON FUNCTION vaidya.clinic_hub_endpoints(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.clinic_hub_endpoints(uuid) TO vaidya_app;

-- Acts keep their own time (issue 9, item 2).
--
-- A note signed offline keeps the device time of signing, an invoice or prescription the
-- time it was issued (the date printed on it), a payment when it was received, an offline
-- read when it happened. The push bounds each device time (`rules::clock`: never after the
-- server received it, never before the author's key or membership less the tolerance), and
-- the server's receipt time is kept beside it.

ALTER TABLE vaidya.encounters ADD COLUMN sign_recorded_at timestamptz;
ALTER TABLE vaidya.invoices ADD COLUMN recorded_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE vaidya.payments ADD COLUMN recorded_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE vaidya.prescriptions ADD COLUMN recorded_at timestamptz NOT NULL DEFAULT now();

-- Uploaded offline accesses by id: an upload retried after a lost answer is audited once.
CREATE TABLE vaidya.uploaded_accesses (
    clinic_id   uuid NOT NULL REFERENCES vaidya.clinics (id),
    access_id   uuid NOT NULL,
    -- Whose session uploaded it (the reader is in the audit row).
    user_id     uuid NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (clinic_id, access_id)
);
ALTER TABLE vaidya.uploaded_accesses ENABLE ROW LEVEL SECURITY;
ALTER TABLE vaidya.uploaded_accesses FORCE ROW LEVEL SECURITY;
CREATE POLICY member_select ON vaidya.uploaded_accesses FOR SELECT TO vaidya_app
    USING (clinic_id = ANY (ARRAY(SELECT m.clinic_id FROM vaidya.memberships m
                                  WHERE m.user_id = (SELECT vaidya.current_user_id())
                                    AND m.revoked_at IS NULL)));
CREATE POLICY member_insert ON vaidya.uploaded_accesses FOR INSERT TO vaidya_app
    WITH CHECK (clinic_id = ANY (ARRAY(SELECT m.clinic_id FROM vaidya.memberships m
                                       WHERE m.user_id = (SELECT vaidya.current_user_id())
                                         AND m.revoked_at IS NULL)));
GRANT SELECT, INSERT ON vaidya.uploaded_accesses TO vaidya_app;

-- The author's key now also tells when it was registered (at an online sign-in): the
-- earliest its signed acts can be dated.
DROP FUNCTION vaidya.author_key(uuid, uuid);
CREATE FUNCTION vaidya.author_key(p_clinic uuid, p_key uuid)
RETURNS TABLE (user_id uuid, public_key bytea, registered_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT k.user_id, k.public_key, k.created_at FROM vaidya.device_keys k
    WHERE k.id = p_key AND k.revoked_at IS NULL
      AND EXISTS (SELECT 1 FROM vaidya.memberships m
                  WHERE m.clinic_id = p_clinic AND m.user_id = k.user_id AND m.revoked_at IS NULL)
      AND EXISTS (SELECT 1 FROM vaidya.memberships m
                  WHERE m.clinic_id = p_clinic AND m.user_id = vaidya.current_user_id()
                    AND m.revoked_at IS NULL)
$$;
REVOKE ALL ON FUNCTION vaidya.author_key(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.author_key(uuid, uuid) TO vaidya_app;

-- A clinic admin sees which devices hold (and sign for) each member's data: every device
-- key of the clinic's members, revoked ones included, newest first. Nothing for others.
CREATE FUNCTION vaidya.clinic_device_keys(p_clinic uuid)
RETURNS TABLE (id uuid, user_id uuid, device text, registered_at timestamptz,
               revoked_at timestamptz, member_revoked_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT k.id, k.user_id, k.device, k.created_at, k.revoked_at, m.revoked_at
    FROM vaidya.device_keys k
    JOIN vaidya.memberships m ON m.clinic_id = p_clinic AND m.user_id = k.user_id
    WHERE EXISTS (SELECT 1 FROM vaidya.memberships a
                  WHERE a.clinic_id = p_clinic AND a.user_id = vaidya.current_user_id()
                    AND a.role = 'admin' AND a.revoked_at IS NULL)
    ORDER BY k.created_at DESC, k.id
$$;
REVOKE ALL ON FUNCTION vaidya.clinic_device_keys(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.clinic_device_keys(uuid) TO vaidya_app;

-- Adding a colleague by email stays inside the clinic's group; anyone else is invited and
-- joins only by accepting (issue 10, finding 4). Before this, `user_id_by_email` answered a
-- clinic admin for any account in the deployment (and add-member enrolled that person
-- without their consent).

DROP FUNCTION vaidya.user_id_by_email(text);

-- The user with this email when the caller administers `p_clinic` and the user is, or was,
-- a member of a clinic of the same group (staff moving between branches). NULL otherwise,
-- whether or not the email has an account elsewhere: nothing outside the group is found.
CREATE FUNCTION vaidya.group_user_by_email(p_clinic uuid, p_email text) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT u.id FROM vaidya.users u
    WHERE u.email = lower(p_email) AND u.disabled_at IS NULL
      AND p_clinic = ANY (vaidya.member_clinics('{admin}'))
      AND EXISTS (SELECT 1 FROM vaidya.memberships m
                  JOIN vaidya.clinics c ON c.id = m.clinic_id
                  JOIN vaidya.clinics t ON t.id = p_clinic
                  WHERE m.user_id = u.id AND c.group_id = t.group_id)
$$;
REVOKE ALL ON FUNCTION vaidya.group_user_by_email(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.group_user_by_email(uuid, text) TO vaidya_app;

-- An invitation to join a clinic with a role, by email. It names no account: the same row
-- is written whether or not the email has one, so an admin learns nothing from it.
CREATE TABLE vaidya.invitations (
    clinic_id   uuid NOT NULL REFERENCES vaidya.clinics (id),
    id          uuid NOT NULL,
    email       text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 320),
    role        text NOT NULL CHECK (role IN ('admin', 'doctor', 'nurse', 'front_desk')),
    invited_by  uuid NOT NULL REFERENCES vaidya.users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    answered_at timestamptz,
    -- 'withdrawn': the clinic's admin took it back before it was answered.
    answer      text CHECK (answer IN ('accepted', 'declined', 'withdrawn')),
    PRIMARY KEY (clinic_id, id),
    CHECK ((answered_at IS NULL) = (answer IS NULL))
);
-- One open invitation per email and clinic (inviting again renews it).
CREATE UNIQUE INDEX invitations_open ON vaidya.invitations (clinic_id, email) WHERE answered_at IS NULL;
ALTER TABLE vaidya.invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE vaidya.invitations FORCE ROW LEVEL SECURITY;
-- The clinic's admins issue and see its invitations; the invitee reaches theirs only through
-- the functions below.
CREATE POLICY invitation_admin ON vaidya.invitations TO vaidya_app
    USING (clinic_id = ANY ((SELECT vaidya.member_clinics('{admin}'))::uuid[]))
    WITH CHECK (clinic_id = ANY ((SELECT vaidya.member_clinics('{admin}'))::uuid[])
                AND invited_by = vaidya.current_user_id());
CREATE POLICY owner_all ON vaidya.invitations TO vaidya_owner USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON vaidya.invitations TO vaidya_app;

-- The caller's open, unexpired invitations (matched on their account's email), with the
-- clinic's name and the inviter's name.
CREATE FUNCTION vaidya.my_invitations()
RETURNS TABLE (id uuid, clinic_id uuid, clinic_name text, email text, role text,
               invited_by_name text, created_at timestamptz, expires_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT i.id, i.clinic_id, c.name, i.email, i.role, u.display_name, i.created_at, i.expires_at
    FROM vaidya.users me
    JOIN vaidya.invitations i ON i.email = me.email
    JOIN vaidya.clinics c ON c.id = i.clinic_id
    JOIN vaidya.users u ON u.id = i.invited_by
    WHERE me.id = vaidya.current_user_id() AND me.disabled_at IS NULL
      AND i.answered_at IS NULL AND i.expires_at > now()
    ORDER BY i.created_at
$$;
REVOKE ALL ON FUNCTION vaidya.my_invitations() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.my_invitations() TO vaidya_app;

-- Answers one of the caller's open invitations. Accepting creates the membership with the
-- invited role (or restores a revoked one); declining closes it. Audited in the clinic's
-- trail as the invitee's. Returns the clinic, or NULL when `p_id` is not the caller's open
-- invitation (another person's, answered, expired or unknown look the same).
CREATE FUNCTION vaidya.answer_invitation(p_id uuid, p_accept boolean) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_me uuid := vaidya.current_user_id();
    v_clinic uuid;
    v_role text;
BEGIN
    SELECT i.clinic_id, i.role INTO v_clinic, v_role
    FROM vaidya.invitations i JOIN vaidya.users u ON u.email = i.email
    WHERE i.id = p_id AND u.id = v_me AND u.disabled_at IS NULL
      AND i.answered_at IS NULL AND i.expires_at > now()
    FOR UPDATE OF i;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    UPDATE vaidya.invitations
    SET answered_at = now(), answer = CASE WHEN p_accept THEN 'accepted' ELSE 'declined' END
    WHERE clinic_id = v_clinic AND id = p_id;
    IF p_accept THEN
        INSERT INTO vaidya.memberships (id, clinic_id, user_id, role)
        VALUES (gen_random_uuid(), v_clinic, v_me, v_role)
        ON CONFLICT (clinic_id, user_id) DO UPDATE SET role = EXCLUDED.role, revoked_at = NULL;
    END IF;
    PERFORM vaidya.audit_chain_write(v_clinic, v_me,
        CASE WHEN p_accept THEN 'create' ELSE 'update' END, 'invitation', ARRAY[p_id], '{}', NULL);
    RETURN v_clinic;
END
$$;
REVOKE ALL ON FUNCTION vaidya.answer_invitation(uuid, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.answer_invitation(uuid, boolean) TO vaidya_app;

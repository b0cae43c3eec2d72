-- The clinic's directory for its hub (issue 11): the public halves of its members' device
-- signing keys, so the hub can check on the clinic's network who signed a change or a
-- sign-in challenge. Keys are reached only through SECURITY DEFINER functions (0010, 0011);
-- this one answers only an active hub of the clinic, and lists the keys of the people who
-- are or were its members (never another hub's, never anyone else's).
CREATE FUNCTION vaidya.hub_directory_keys(p_clinic uuid)
RETURNS TABLE (id uuid, user_id uuid, public_key bytea, registered_at timestamptz,
               revoked_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT k.id, k.user_id, k.public_key, k.created_at, k.revoked_at
    FROM vaidya.device_keys k
    JOIN vaidya.memberships m ON m.clinic_id = p_clinic AND m.user_id = k.user_id AND m.role <> 'hub'
    WHERE p_clinic = ANY (vaidya.member_clinics('{hub}'))
    ORDER BY k.created_at, k.id
$$;
REVOKE ALL ON FUNCTION vaidya.hub_directory_keys(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.hub_directory_keys(uuid) TO vaidya_app;

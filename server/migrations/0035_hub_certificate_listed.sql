-- The clinic's hubs as its admins and approvers see them now also name the certificate
-- each was registered with (its SHA-256, the pin the clinic's PCs accept): whoever approves
-- or reviews a hub compares it with what `vaidya-server hub status` prints on the hub
-- machine itself, so a hub registered from another machine shows. Same rows and the same
-- rule as 0031's function; a new result column needs the function made again.
DROP FUNCTION vaidya.clinic_hubs(uuid, text[]);

CREATE FUNCTION vaidya.clinic_hubs(p_clinic uuid, p_roles text[])
RETURNS TABLE (id uuid, name text, registered_at timestamptz, registered_by text,
               approved_at timestamptz, approved_by text, revoked_at timestamptz,
               certificate_sha256 text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.hub_id, h.display_name, r.registered_at, rb.display_name,
           r.approved_at, ab.display_name, coalesce(m.revoked_at, h.disabled_at),
           r.certificate_sha256
    FROM vaidya.hub_registrations r
    JOIN vaidya.users h ON h.id = r.hub_id
    JOIN vaidya.users rb ON rb.id = r.registered_by
    LEFT JOIN vaidya.users ab ON ab.id = r.approved_by
    LEFT JOIN vaidya.memberships m ON m.clinic_id = r.clinic_id AND m.user_id = r.hub_id
    WHERE r.clinic_id = p_clinic
      AND NOT 'hub' = ANY (p_roles)
      AND p_clinic = ANY (vaidya.member_clinics(p_roles))
    ORDER BY coalesce(m.revoked_at, h.disabled_at) NULLS FIRST, r.registered_at
$$;

REVOKE ALL ON FUNCTION vaidya.clinic_hubs(uuid, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.clinic_hubs(uuid, text[]) TO vaidya_app;

-- A PC that pushed through its clinic hub learns, from the hub, what the group server
-- answered for each change the hub took in (`sync::relay_answers`): the hub alone forwards
-- them, so the PC keeps them until an answer comes back, and a refusal reaches a person.
-- Only on the hub of `p_clinic`, only for an active person of it; only the clinic's own
-- relayed changes. A row with no result yet is a change still waiting to be forwarded.
CREATE FUNCTION vaidya.hub_relay_answers(p_clinic uuid, p_ids uuid[])
RETURNS TABLE (mutation_id uuid, result jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_clinic IS DISTINCT FROM vaidya.hub_clinic()
       OR NOT p_clinic = ANY (vaidya.member_clinics('{admin,doctor,nurse,front_desk}')) THEN
        RAISE EXCEPTION 'hub_relay_answers: not a person of this hub''s clinic'
            USING ERRCODE = '42501';
    END IF;
    RETURN QUERY
    SELECT r.item_id, r.result FROM vaidya.hub_relay AS r
    WHERE r.clinic_id = p_clinic AND r.kind = 'mutation' AND r.item_id = ANY (p_ids);
END
$$;
REVOKE ALL ON FUNCTION vaidya.hub_relay_answers(uuid, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.hub_relay_answers(uuid, uuid[]) TO vaidya_app;

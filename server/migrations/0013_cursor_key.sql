-- The key pull cursors are sealed with (`sync/cursor.rs`). A plain cursor is a global
-- (transaction id, sequence) pair, from which a clinic's user could count other clinics'
-- writes; sealed under this key and bound to its clinic, it reveals nothing. Kept here so
-- every server instance seals and opens with the same key; the first instance that needs
-- it proposes a random one and every instance gets whichever was stored first.

CREATE TABLE vaidya.server_secrets (
    name   text PRIMARY KEY,
    secret bytea NOT NULL CHECK (length(secret) = 32)
);
ALTER TABLE vaidya.server_secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE vaidya.server_secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON vaidya.server_secrets TO vaidya_owner USING (true) WITH CHECK (true);

-- The cursor key: the stored one, or `p_proposed` when there is none yet.
CREATE FUNCTION vaidya.cursor_key(p_proposed bytea) RETURNS bytea
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO vaidya.server_secrets (name, secret) VALUES ('pull_cursor', p_proposed)
    ON CONFLICT (name) DO NOTHING;
    RETURN (SELECT secret FROM vaidya.server_secrets WHERE name = 'pull_cursor');
END
$$;
REVOKE ALL ON FUNCTION vaidya.cursor_key(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.cursor_key(bytea) TO vaidya_app;

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

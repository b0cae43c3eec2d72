-- Sync: idempotent push results, the conflict inbox, parent "touch" when a child changes
-- (so pulls hand out whole entities), and change notifications for live clients.

-- One row per applied push mutation: a retried batch gets these results back instead of
-- applying anything twice.
CREATE TABLE vaidya.sync_mutations (
    clinic_id    uuid NOT NULL REFERENCES vaidya.clinics (id),
    mutation_id  uuid NOT NULL,
    user_id      uuid NOT NULL,
    result       jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (clinic_id, mutation_id)
);

CREATE TABLE vaidya.sync_conflicts (
    id             uuid NOT NULL,
    clinic_id      uuid NOT NULL REFERENCES vaidya.clinics (id),
    kind           text NOT NULL CHECK (kind IN ('same_field', 'deleted', 'double_booking', 'immutable')),
    entity         text NOT NULL CHECK (entity IN ('patient', 'appointment', 'encounter', 'addendum', 'prescription', 'invoice', 'payment', 'conflict')),
    entity_id      uuid NOT NULL,
    field          text CHECK (length(field) <= 64),
    server_value   jsonb NOT NULL DEFAULT 'null',
    client_value   jsonb NOT NULL DEFAULT 'null',
    user_id        uuid,
    device         text CHECK (length(device) <= 200),
    resolved_at    timestamptz,
    resolved_by    uuid,
    version        bigint NOT NULL,
    change_xid     xid8 NOT NULL,
    change_seq     bigint NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    deleted_at     timestamptz,
    PRIMARY KEY (clinic_id, id)
);
CREATE INDEX sync_conflicts_open ON vaidya.sync_conflicts (clinic_id, created_at) WHERE resolved_at IS NULL;
CREATE INDEX sync_conflicts_changes ON vaidya.sync_conflicts (clinic_id, change_xid, change_seq);
CREATE TRIGGER stamp_change BEFORE INSERT OR UPDATE ON vaidya.sync_conflicts
    FOR EACH ROW EXECUTE FUNCTION vaidya.stamp_change();

DO $$
DECLARE
    member_sql constant text := 'SELECT m.clinic_id FROM vaidya.memberships m
                   WHERE m.user_id = (SELECT vaidya.current_user_id()) AND m.revoked_at IS NULL
                     AND m.role = ANY (%L::text[])';
    everyone constant text := '{admin,doctor,nurse,front_desk}';
    clinicians constant text := '{doctor,nurse}';
    visible text;
BEGIN
    ALTER TABLE vaidya.sync_mutations ENABLE ROW LEVEL SECURITY;
    ALTER TABLE vaidya.sync_mutations FORCE ROW LEVEL SECURITY;
    EXECUTE format($p$CREATE POLICY member_select ON vaidya.sync_mutations FOR SELECT TO vaidya_app
                      USING (clinic_id = ANY (ARRAY(%s)))$p$, format(member_sql, everyone));
    EXECUTE format($p$CREATE POLICY member_insert ON vaidya.sync_mutations FOR INSERT TO vaidya_app
                      WITH CHECK (clinic_id = ANY (ARRAY(%s)) AND user_id = (SELECT vaidya.current_user_id()))$p$,
                   format(member_sql, everyone));

    -- Conflicts about clinical records carry clinical values: clinicians only.
    visible := format($v$clinic_id = ANY (ARRAY(%s)) AND (entity NOT IN ('encounter', 'addendum', 'prescription')
                                              OR clinic_id = ANY (ARRAY(%s)))$v$,
                      format(member_sql, everyone), format(member_sql, clinicians));
    ALTER TABLE vaidya.sync_conflicts ENABLE ROW LEVEL SECURITY;
    ALTER TABLE vaidya.sync_conflicts FORCE ROW LEVEL SECURITY;
    EXECUTE format('CREATE POLICY member_select ON vaidya.sync_conflicts FOR SELECT TO vaidya_app USING (%s)', visible);
    EXECUTE format('CREATE POLICY member_insert ON vaidya.sync_conflicts FOR INSERT TO vaidya_app WITH CHECK (%s)', visible);
    EXECUTE format('CREATE POLICY member_update ON vaidya.sync_conflicts FOR UPDATE TO vaidya_app USING (%s) WITH CHECK (%s)', visible, visible);
END
$$;
GRANT SELECT, INSERT ON vaidya.sync_mutations TO vaidya_app;
GRANT SELECT, INSERT, UPDATE ON vaidya.sync_conflicts TO vaidya_app;

-- Signed and issued rows stay immutable, but a "touch" (only the change stamp moves, as
-- when a child row is added) is allowed, so the parent is handed out again by pulls.
CREATE OR REPLACE FUNCTION vaidya.refuse_change_after_signing() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    stamp constant text[] := '{version,change_xid,change_seq,updated_at}';
BEGIN
    -- Nested, not AND: OLD.signed_at does not exist on the other tables.
    IF TG_TABLE_NAME = 'encounters' THEN
        IF OLD.signed_at IS NULL THEN
            RETURN NEW;
        END IF;
    END IF;
    IF (to_jsonb(NEW) - stamp) = (to_jsonb(OLD) - stamp) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% rows are immutable once signed; add an addendum instead', TG_TABLE_NAME
        USING ERRCODE = 'VD001';
END
$$;

-- A child row changed: move the parent's change stamp.
CREATE FUNCTION vaidya.touch_parent() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    CASE TG_TABLE_NAME
        WHEN 'encounter_addenda' THEN
            UPDATE vaidya.encounters SET updated_at = now() WHERE clinic_id = NEW.clinic_id AND id = NEW.encounter_id;
        WHEN 'prescription_items' THEN
            UPDATE vaidya.prescriptions SET updated_at = now() WHERE clinic_id = NEW.clinic_id AND id = NEW.prescription_id;
        WHEN 'invoice_lines' THEN
            UPDATE vaidya.invoices SET updated_at = now() WHERE clinic_id = NEW.clinic_id AND id = NEW.invoice_id;
        WHEN 'payments' THEN
            UPDATE vaidya.invoices SET updated_at = now() WHERE clinic_id = NEW.clinic_id AND id = NEW.invoice_id;
    END CASE;
    RETURN NULL;
END
$$;

-- Tell listening servers (LISTEN vaidya_changes) which clinic changed; delivered at commit,
-- and PostgreSQL folds identical notifications of one transaction into one.
CREATE FUNCTION vaidya.notify_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_notify('vaidya_changes', NEW.clinic_id::text);
    RETURN NULL;
END
$$;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['encounter_addenda', 'prescription_items', 'invoice_lines', 'payments'] LOOP
        EXECUTE format('CREATE TRIGGER touch_parent AFTER INSERT OR UPDATE ON vaidya.%I
                        FOR EACH ROW EXECUTE FUNCTION vaidya.touch_parent()', t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['patients', 'appointments', 'encounters', 'prescriptions', 'invoices', 'sync_conflicts'] LOOP
        EXECUTE format('CREATE TRIGGER notify_change AFTER INSERT OR UPDATE ON vaidya.%I
                        FOR EACH ROW EXECUTE FUNCTION vaidya.notify_change()', t);
    END LOOP;
END
$$;

REVOKE EXECUTE ON FUNCTION vaidya.touch_parent(), vaidya.notify_change() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.touch_parent(), vaidya.notify_change() TO vaidya_app;

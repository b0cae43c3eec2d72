-- Vaidya schema, roles' grants and row-level security. Runs as vaidya_owner.
-- A shipped migration is never edited; later changes go in new files.

-- ------------------------------------------------------------------ identity helpers

-- The signed-in user of the current transaction, or NULL (which matches no row).
-- The server sets app.user_id with set_config(..., true): transaction-local, never SET.
-- Deliberately without a SET clause, so the planner inlines it (it names only pg_catalog
-- functions, fully qualified, so search_path cannot redirect it).
CREATE FUNCTION vaidya.current_user_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT nullif(pg_catalog.current_setting('app.user_id', true), '')::uuid $$;

CREATE SEQUENCE vaidya.change_seq AS bigint;

-- ------------------------------------------------------------------ tenancy and users

CREATE TABLE vaidya.clinic_groups (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE vaidya.clinics (
    id          uuid PRIMARY KEY,
    group_id    uuid NOT NULL REFERENCES vaidya.clinic_groups (id),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    gstin       text CHECK (gstin ~ '^[0-9]{2}[A-Z0-9]{13}$'),
    state_code  text NOT NULL CHECK (state_code ~ '^[0-9]{2}$'),
    address     text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX clinics_group ON vaidya.clinics (group_id);

CREATE TABLE vaidya.users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 320),
    display_name  text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz
);
CREATE UNIQUE INDEX users_email ON vaidya.users (email);

CREATE TABLE vaidya.memberships (
    id          uuid NOT NULL,
    clinic_id   uuid NOT NULL REFERENCES vaidya.clinics (id),
    user_id     uuid NOT NULL REFERENCES vaidya.users (id),
    role        text NOT NULL CHECK (role IN ('admin', 'doctor', 'nurse', 'front_desk')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    PRIMARY KEY (clinic_id, id),
    UNIQUE (clinic_id, user_id)
);
-- The membership check in every policy is this index lookup.
CREATE INDEX memberships_user ON vaidya.memberships (user_id, clinic_id) INCLUDE (role, revoked_at);

-- Clinics where the current user holds an active membership with one of the roles.
-- SECURITY DEFINER so policies on memberships can use it without recursing; it reads only
-- the caller's own memberships. Policies call it as `(SELECT vaidya.member_clinics(...))`
-- so it runs once per statement, not once per row.
CREATE FUNCTION vaidya.member_clinics(p_roles text[]) RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(m.clinic_id), '{}')
    FROM vaidya.memberships m
    WHERE m.user_id = vaidya.current_user_id()
      AND m.revoked_at IS NULL
      AND m.role = ANY (p_roles)
$$;

-- ------------------------------------------------------------------ sign-in state

CREATE TABLE vaidya.sessions (
    id                  uuid PRIMARY KEY,
    user_id             uuid NOT NULL REFERENCES vaidya.users (id),
    access_hash         bytea NOT NULL UNIQUE,
    access_expires_at   timestamptz NOT NULL,
    refresh_hash        bytea NOT NULL UNIQUE,
    -- The refresh token this one replaced: presenting it again means the token was
    -- stolen and replayed, so the whole session is revoked.
    previous_refresh_hash bytea UNIQUE,
    -- When the refresh token was last rotated (for the lost-response grace period).
    rotated_at          timestamptz,
    refresh_expires_at  timestamptz NOT NULL,
    device              text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    revoked_at          timestamptz
);
CREATE INDEX sessions_user ON vaidya.sessions (user_id);

CREATE TABLE vaidya.login_failures (
    email         text PRIMARY KEY,
    failures      integer NOT NULL,
    last_failure  timestamptz NOT NULL
);

-- ------------------------------------------------------------------ tenant tables

-- Every tenant row carries: a version bumped on each update, and the transaction id and
-- sequence number of its last change (the sync pull cursor orders by those two).
CREATE FUNCTION vaidya.stamp_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.clinic_id <> OLD.clinic_id OR NEW.id <> OLD.id THEN
            RAISE EXCEPTION 'a row cannot move to another clinic or change its id'
                USING ERRCODE = 'VD002';
        END IF;
        NEW.version := OLD.version + 1;
        NEW.created_at := OLD.created_at;
    ELSE
        NEW.version := 1;
        NEW.created_at := now();
    END IF;
    NEW.updated_at := now();
    NEW.change_xid := pg_current_xact_id();
    NEW.change_seq := nextval('vaidya.change_seq');
    RETURN NEW;
END
$$;

-- Rows that are immutable once signed or issued: only the tombstone may still be set.
CREATE FUNCTION vaidya.refuse_change_after_signing() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Nested, not AND: OLD.signed_at does not exist on the other tables.
    IF TG_TABLE_NAME = 'encounters' THEN
        IF OLD.signed_at IS NULL THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION '% rows are immutable once signed; add an addendum instead', TG_TABLE_NAME
        USING ERRCODE = 'VD001';
END
$$;

CREATE TABLE vaidya.clinic_counters (
    clinic_id  uuid NOT NULL REFERENCES vaidya.clinics (id),
    counter    text NOT NULL CHECK (length(counter) BETWEEN 1 AND 64),
    value      bigint NOT NULL,
    PRIMARY KEY (clinic_id, counter)
);

CREATE TABLE vaidya.patients (
    id             uuid NOT NULL,
    clinic_id      uuid NOT NULL REFERENCES vaidya.clinics (id),
    patient_number bigint NOT NULL CHECK (patient_number > 0),
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    sex            text NOT NULL CHECK (sex IN ('female', 'male', 'other', 'unknown')),
    date_of_birth  date,
    phone          text,
    address        text,
    abha_number    text CHECK (abha_number ~ '^[0-9]{14}$'),
    version        bigint NOT NULL,
    change_xid     xid8 NOT NULL,
    change_seq     bigint NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    deleted_at     timestamptz,
    PRIMARY KEY (clinic_id, id),
    UNIQUE (clinic_id, patient_number)
);
CREATE UNIQUE INDEX patients_abha ON vaidya.patients (clinic_id, abha_number) WHERE abha_number IS NOT NULL;
CREATE INDEX patients_name ON vaidya.patients (clinic_id, lower(name) text_pattern_ops);
CREATE INDEX patients_phone ON vaidya.patients (clinic_id, phone text_pattern_ops);
CREATE INDEX patients_changes ON vaidya.patients (clinic_id, change_xid, change_seq);

CREATE TABLE vaidya.appointments (
    id          uuid NOT NULL,
    clinic_id   uuid NOT NULL REFERENCES vaidya.clinics (id),
    patient_id  uuid NOT NULL,
    doctor_id   uuid NOT NULL,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    status      text NOT NULL CHECK (status IN ('booked', 'checked_in', 'in_consultation', 'completed', 'cancelled', 'no_show')),
    reason      text CHECK (length(reason) <= 1000),
    version     bigint NOT NULL,
    change_xid  xid8 NOT NULL,
    change_seq  bigint NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    deleted_at  timestamptz,
    PRIMARY KEY (clinic_id, id),
    FOREIGN KEY (clinic_id, patient_id) REFERENCES vaidya.patients (clinic_id, id),
    FOREIGN KEY (clinic_id, doctor_id) REFERENCES vaidya.memberships (clinic_id, user_id),
    CHECK (ends_at > starts_at)
);
CREATE INDEX appointments_doctor ON vaidya.appointments (clinic_id, doctor_id, starts_at);
CREATE INDEX appointments_patient ON vaidya.appointments (clinic_id, patient_id, starts_at);
CREATE INDEX appointments_day ON vaidya.appointments (clinic_id, starts_at);
CREATE INDEX appointments_changes ON vaidya.appointments (clinic_id, change_xid, change_seq);

CREATE TABLE vaidya.encounters (
    id              uuid NOT NULL,
    clinic_id       uuid NOT NULL REFERENCES vaidya.clinics (id),
    patient_id      uuid NOT NULL,
    doctor_id       uuid NOT NULL,
    appointment_id  uuid,
    chief_complaint text NOT NULL DEFAULT '' CHECK (length(chief_complaint) <= 2000),
    notes           text NOT NULL DEFAULT '' CHECK (length(notes) <= 100000),
    diagnosis       text NOT NULL DEFAULT '' CHECK (length(diagnosis) <= 2000),
    vitals          jsonb NOT NULL DEFAULT '{}',
    signed_at       timestamptz,
    signed_by       uuid,
    version         bigint NOT NULL,
    change_xid      xid8 NOT NULL,
    change_seq      bigint NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    deleted_at      timestamptz,
    PRIMARY KEY (clinic_id, id),
    FOREIGN KEY (clinic_id, patient_id) REFERENCES vaidya.patients (clinic_id, id),
    FOREIGN KEY (clinic_id, doctor_id) REFERENCES vaidya.memberships (clinic_id, user_id),
    FOREIGN KEY (clinic_id, appointment_id) REFERENCES vaidya.appointments (clinic_id, id),
    FOREIGN KEY (clinic_id, signed_by) REFERENCES vaidya.memberships (clinic_id, user_id)
);
CREATE INDEX encounters_patient ON vaidya.encounters (clinic_id, patient_id, created_at);
CREATE INDEX encounters_changes ON vaidya.encounters (clinic_id, change_xid, change_seq);

CREATE TABLE vaidya.encounter_addenda (
    id            uuid NOT NULL,
    clinic_id     uuid NOT NULL REFERENCES vaidya.clinics (id),
    encounter_id  uuid NOT NULL,
    author_id     uuid NOT NULL,
    text          text NOT NULL CHECK (length(text) BETWEEN 1 AND 20000),
    version       bigint NOT NULL,
    change_xid    xid8 NOT NULL,
    change_seq    bigint NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    PRIMARY KEY (clinic_id, id),
    FOREIGN KEY (clinic_id, encounter_id) REFERENCES vaidya.encounters (clinic_id, id),
    FOREIGN KEY (clinic_id, author_id) REFERENCES vaidya.memberships (clinic_id, user_id)
);
CREATE INDEX encounter_addenda_encounter ON vaidya.encounter_addenda (clinic_id, encounter_id);
CREATE INDEX encounter_addenda_changes ON vaidya.encounter_addenda (clinic_id, change_xid, change_seq);

CREATE TABLE vaidya.prescriptions (
    id            uuid NOT NULL,
    clinic_id     uuid NOT NULL REFERENCES vaidya.clinics (id),
    patient_id    uuid NOT NULL,
    doctor_id     uuid NOT NULL,
    encounter_id  uuid,
    notes         text NOT NULL DEFAULT '' CHECK (length(notes) <= 5000),
    issued_at     timestamptz NOT NULL,
    version       bigint NOT NULL,
    change_xid    xid8 NOT NULL,
    change_seq    bigint NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    deleted_at    timestamptz,
    PRIMARY KEY (clinic_id, id),
    FOREIGN KEY (clinic_id, patient_id) REFERENCES vaidya.patients (clinic_id, id),
    FOREIGN KEY (clinic_id, doctor_id) REFERENCES vaidya.memberships (clinic_id, user_id),
    FOREIGN KEY (clinic_id, encounter_id) REFERENCES vaidya.encounters (clinic_id, id)
);
CREATE INDEX prescriptions_patient ON vaidya.prescriptions (clinic_id, patient_id, issued_at);
CREATE INDEX prescriptions_changes ON vaidya.prescriptions (clinic_id, change_xid, change_seq);

CREATE TABLE vaidya.prescription_items (
    id               uuid NOT NULL,
    clinic_id        uuid NOT NULL REFERENCES vaidya.clinics (id),
    prescription_id  uuid NOT NULL,
    position         integer NOT NULL CHECK (position >= 0),
    drug             text NOT NULL CHECK (length(drug) BETWEEN 1 AND 200),
    strength         text NOT NULL DEFAULT '' CHECK (length(strength) <= 100),
    dose             text NOT NULL DEFAULT '' CHECK (length(dose) <= 100),
    frequency        text NOT NULL DEFAULT '' CHECK (length(frequency) <= 100),
    duration         text NOT NULL DEFAULT '' CHECK (length(duration) <= 100),
    instructions     text NOT NULL DEFAULT '' CHECK (length(instructions) <= 1000),
    version          bigint NOT NULL,
    change_xid       xid8 NOT NULL,
    change_seq       bigint NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    deleted_at       timestamptz,
    PRIMARY KEY (clinic_id, id),
    UNIQUE (clinic_id, prescription_id, position),
    FOREIGN KEY (clinic_id, prescription_id) REFERENCES vaidya.prescriptions (clinic_id, id)
);
CREATE INDEX prescription_items_changes ON vaidya.prescription_items (clinic_id, change_xid, change_seq);

CREATE TABLE vaidya.invoices (
    id               uuid NOT NULL,
    clinic_id        uuid NOT NULL REFERENCES vaidya.clinics (id),
    patient_id       uuid NOT NULL,
    series           text NOT NULL CHECK (series ~ '^[A-Z0-9-]{1,16}$'),
    number           bigint NOT NULL CHECK (number > 0),
    issued_at        timestamptz NOT NULL,
    place_of_supply  text NOT NULL CHECK (place_of_supply ~ '^[0-9]{2}$'),
    supply_kind      text NOT NULL CHECK (supply_kind IN ('intra_state', 'inter_state')),
    taxable_paise    bigint NOT NULL CHECK (taxable_paise >= 0),
    cgst_paise       bigint NOT NULL CHECK (cgst_paise >= 0),
    sgst_paise       bigint NOT NULL CHECK (sgst_paise >= 0),
    igst_paise       bigint NOT NULL CHECK (igst_paise >= 0),
    total_paise      bigint NOT NULL CHECK (total_paise >= 0),
    version          bigint NOT NULL,
    change_xid       xid8 NOT NULL,
    change_seq       bigint NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    deleted_at       timestamptz,
    PRIMARY KEY (clinic_id, id),
    UNIQUE (clinic_id, series, number),
    FOREIGN KEY (clinic_id, patient_id) REFERENCES vaidya.patients (clinic_id, id)
);
CREATE INDEX invoices_patient ON vaidya.invoices (clinic_id, patient_id, issued_at);
CREATE INDEX invoices_changes ON vaidya.invoices (clinic_id, change_xid, change_seq);

CREATE TABLE vaidya.invoice_lines (
    id                uuid NOT NULL,
    clinic_id         uuid NOT NULL REFERENCES vaidya.clinics (id),
    invoice_id        uuid NOT NULL,
    position          integer NOT NULL CHECK (position >= 0),
    description       text NOT NULL CHECK (length(description) BETWEEN 1 AND 500),
    sac_hsn           text NOT NULL CHECK (sac_hsn ~ '^[0-9]{4,8}$'),
    quantity          bigint NOT NULL CHECK (quantity > 0),
    unit_price_paise  bigint NOT NULL CHECK (unit_price_paise >= 0),
    discount_paise    bigint NOT NULL CHECK (discount_paise >= 0),
    gst_rate_bp       integer NOT NULL CHECK (gst_rate_bp IN (0, 10, 25, 300, 500, 1200, 1800, 2800)),
    taxable_paise     bigint NOT NULL,
    cgst_paise        bigint NOT NULL,
    sgst_paise        bigint NOT NULL,
    igst_paise        bigint NOT NULL,
    total_paise       bigint NOT NULL,
    version           bigint NOT NULL,
    change_xid        xid8 NOT NULL,
    change_seq        bigint NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    deleted_at        timestamptz,
    PRIMARY KEY (clinic_id, id),
    UNIQUE (clinic_id, invoice_id, position),
    FOREIGN KEY (clinic_id, invoice_id) REFERENCES vaidya.invoices (clinic_id, id)
);
CREATE INDEX invoice_lines_changes ON vaidya.invoice_lines (clinic_id, change_xid, change_seq);

CREATE TABLE vaidya.payments (
    id             uuid NOT NULL,
    clinic_id      uuid NOT NULL REFERENCES vaidya.clinics (id),
    invoice_id     uuid NOT NULL,
    amount_paise   bigint NOT NULL CHECK (amount_paise > 0),
    method         text NOT NULL CHECK (method IN ('cash', 'upi', 'card', 'other')),
    reference      text CHECK (length(reference) <= 200),
    received_at    timestamptz NOT NULL,
    version        bigint NOT NULL,
    change_xid     xid8 NOT NULL,
    change_seq     bigint NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    deleted_at     timestamptz,
    PRIMARY KEY (clinic_id, id),
    FOREIGN KEY (clinic_id, invoice_id) REFERENCES vaidya.invoices (clinic_id, id)
);
CREATE INDEX payments_invoice ON vaidya.payments (clinic_id, invoice_id);
CREATE INDEX payments_changes ON vaidya.payments (clinic_id, change_xid, change_seq);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['patients', 'appointments', 'encounters', 'encounter_addenda',
                             'prescriptions', 'prescription_items', 'invoices', 'invoice_lines', 'payments']
    LOOP
        EXECUTE format('CREATE TRIGGER stamp_change BEFORE INSERT OR UPDATE ON vaidya.%I
                        FOR EACH ROW EXECUTE FUNCTION vaidya.stamp_change()', t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['encounters', 'encounter_addenda', 'prescriptions', 'prescription_items',
                             'invoices', 'invoice_lines', 'payments']
    LOOP
        EXECUTE format('CREATE TRIGGER immutable_after_signing BEFORE UPDATE ON vaidya.%I
                        FOR EACH ROW EXECUTE FUNCTION vaidya.refuse_change_after_signing()', t);
    END LOOP;
END
$$;

-- ------------------------------------------------------------------ audit trail

CREATE TABLE vaidya.audit_log (
    clinic_id    uuid NOT NULL,
    seq          bigint NOT NULL,
    actor_id     uuid,
    action       text NOT NULL CHECK (action IN ('read', 'list', 'create', 'update', 'delete', 'export', 'print', 'login', 'denied')),
    entity_type  text NOT NULL CHECK (length(entity_type) BETWEEN 1 AND 64),
    entity_ids   uuid[] NOT NULL DEFAULT '{}',
    patient_ids  uuid[] NOT NULL DEFAULT '{}',
    device       text CHECK (length(device) <= 200),
    request_id   text CHECK (length(request_id) <= 100),
    at           timestamptz NOT NULL,
    -- When the access happened on a device while offline (uploaded with the next sync).
    occurred_at  timestamptz,
    -- sha256(previous row's hash || canonical text of this row); the first row of a
    -- clinic chains from 32 zero bytes.
    hash         bytea NOT NULL,
    PRIMARY KEY (clinic_id, seq)
);
CREATE INDEX audit_log_at ON vaidya.audit_log (clinic_id, at);
CREATE INDEX audit_log_actor ON vaidya.audit_log (clinic_id, actor_id, at);
CREATE INDEX audit_log_patients ON vaidya.audit_log USING gin (patient_ids);

CREATE TABLE vaidya.audit_chain_heads (
    clinic_id  uuid PRIMARY KEY,
    seq        bigint NOT NULL,
    hash       bytea NOT NULL
);

-- The canonical text a row's hash covers. The Rust verifier (`audit verify`) builds the same
-- text independently, so a change to either side shows up as a broken chain.
CREATE FUNCTION vaidya.audit_canonical(
    p_clinic uuid, p_seq bigint, p_actor uuid, p_action text, p_entity_type text,
    p_entity_ids uuid[], p_patient_ids uuid[], p_device text, p_request_id text, p_at timestamptz,
    p_occurred_at timestamptz
) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT concat_ws('|', p_clinic::text, p_seq::text, coalesce(p_actor::text, ''), p_action, p_entity_type,
                     array_to_string(p_entity_ids, ','), array_to_string(p_patient_ids, ','),
                     coalesce(p_device, ''), coalesce(p_request_id, ''),
                     floor(extract(epoch FROM p_at) * 1000000)::bigint::text,
                     coalesce(floor(extract(epoch FROM p_occurred_at) * 1000000)::bigint::text, ''))
$$;

-- Appends one audit row for the current user. The actor comes from the transaction's
-- identity, never from a parameter. SECURITY DEFINER because the app role may neither read
-- the chain head nor insert into the log directly; it can only append through here.
CREATE FUNCTION vaidya.audit_append(
    p_clinic uuid, p_action text, p_entity_type text, p_entity_ids uuid[], p_patient_ids uuid[],
    p_occurred_at timestamptz DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_actor uuid := vaidya.current_user_id();
    v_device text := nullif(current_setting('app.device', true), '');
    v_request text := nullif(current_setting('app.request_id', true), '');
    v_at timestamptz := date_trunc('microseconds', clock_timestamp());
    v_seq bigint;
    v_prev bytea;
    v_hash bytea;
BEGIN
    IF p_clinic IS NULL THEN
        RAISE EXCEPTION 'audit rows need a clinic' USING ERRCODE = 'VD003';
    END IF;
    INSERT INTO vaidya.audit_chain_heads (clinic_id, seq, hash)
    VALUES (p_clinic, 0, '\x0000000000000000000000000000000000000000000000000000000000000000')
    ON CONFLICT (clinic_id) DO NOTHING;
    -- One writer per clinic at a time: the chain must be linear.
    SELECT h.seq, h.hash INTO v_seq, v_prev FROM vaidya.audit_chain_heads h
    WHERE h.clinic_id = p_clinic FOR UPDATE;
    v_seq := v_seq + 1;
    v_hash := sha256(v_prev || convert_to(vaidya.audit_canonical(
        p_clinic, v_seq, v_actor, p_action, p_entity_type, coalesce(p_entity_ids, '{}'),
        coalesce(p_patient_ids, '{}'), v_device, v_request, v_at, p_occurred_at), 'UTF8'));
    INSERT INTO vaidya.audit_log (clinic_id, seq, actor_id, action, entity_type, entity_ids,
                                  patient_ids, device, request_id, at, occurred_at, hash)
    VALUES (p_clinic, v_seq, v_actor, p_action, p_entity_type, coalesce(p_entity_ids, '{}'),
            coalesce(p_patient_ids, '{}'), v_device, v_request, v_at, p_occurred_at, v_hash);
    UPDATE vaidya.audit_chain_heads SET seq = v_seq, hash = v_hash WHERE clinic_id = p_clinic;
    RETURN v_seq;
END
$$;

CREATE FUNCTION vaidya.audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = 'VD004';
END
$$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON vaidya.audit_log
    FOR EACH ROW EXECUTE FUNCTION vaidya.audit_refuse_change();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON vaidya.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION vaidya.audit_refuse_change();

-- ------------------------------------------------------------------ sign-in functions
-- The app role has no privileges on users' password hashes, sessions or login failures;
-- it reaches them only through these functions, each of which does one narrow thing.

CREATE FUNCTION vaidya.auth_user_by_email(p_email text)
RETURNS TABLE (user_id uuid, password_hash text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT u.id, u.password_hash FROM vaidya.users u
    WHERE u.email = lower(p_email) AND u.disabled_at IS NULL
$$;

-- Seconds the caller must wait before another attempt for this email (0 = go ahead).
-- Backoff doubles after the fifth failure, capped at 15 minutes.
CREATE FUNCTION vaidya.auth_throttle_wait(p_email text) RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(max(greatest(0, ceil(extract(epoch FROM
              (f.last_failure + make_interval(secs => least(900, 2 ^ (f.failures - 5)))) - now()))))::integer, 0)
    FROM vaidya.login_failures f
    WHERE f.email = lower(p_email) AND f.failures >= 5
$$;

CREATE FUNCTION vaidya.auth_note_result(p_email text, p_ok boolean) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_ok THEN
        DELETE FROM vaidya.login_failures WHERE email = lower(p_email);
    ELSE
        INSERT INTO vaidya.login_failures (email, failures, last_failure)
        VALUES (lower(left(p_email, 320)), 1, now())
        ON CONFLICT (email) DO UPDATE SET failures = vaidya.login_failures.failures + 1, last_failure = now();
    END IF;
END
$$;

CREATE FUNCTION vaidya.auth_open_session(
    p_user uuid, p_access_hash bytea, p_access_ttl_secs integer,
    p_refresh_hash bytea, p_refresh_ttl_secs integer, p_device text
) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_id uuid := gen_random_uuid();
BEGIN
    INSERT INTO vaidya.sessions (id, user_id, access_hash, access_expires_at, refresh_hash,
                                 refresh_expires_at, device)
    VALUES (v_id, p_user, p_access_hash, now() + make_interval(secs => p_access_ttl_secs),
            p_refresh_hash, now() + make_interval(secs => p_refresh_ttl_secs), left(p_device, 200));
    RETURN v_id;
END
$$;

-- The user behind a live access token, or NULL.
CREATE FUNCTION vaidya.auth_session_user(p_access_hash bytea) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT s.user_id FROM vaidya.sessions s JOIN vaidya.users u ON u.id = s.user_id
    WHERE s.access_hash = p_access_hash AND s.revoked_at IS NULL
      AND s.access_expires_at > now() AND u.disabled_at IS NULL
$$;

-- Rotate a refresh token: returns the user on success. Replaying an already-rotated refresh
-- token revokes the session (someone else holds a copy) and returns NULL, except within
-- p_grace_secs of the rotation: a device whose refresh answer was lost on a bad line presents
-- the previous token again and gets a fresh pair instead of being signed out.
CREATE FUNCTION vaidya.auth_rotate_session(
    p_refresh_hash bytea, p_new_access_hash bytea, p_access_ttl_secs integer,
    p_new_refresh_hash bytea, p_refresh_ttl_secs integer, p_grace_secs integer
) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE v_user uuid;
BEGIN
    UPDATE vaidya.sessions s SET revoked_at = now()
    WHERE s.previous_refresh_hash = p_refresh_hash AND s.revoked_at IS NULL
      AND (s.rotated_at IS NULL OR s.rotated_at <= now() - make_interval(secs => p_grace_secs));
    IF FOUND THEN
        RETURN NULL;
    END IF;
    UPDATE vaidya.sessions s
    SET previous_refresh_hash = CASE WHEN s.refresh_hash = p_refresh_hash THEN s.refresh_hash
                                     ELSE s.previous_refresh_hash END,
        refresh_hash = p_new_refresh_hash,
        refresh_expires_at = now() + make_interval(secs => p_refresh_ttl_secs),
        access_hash = p_new_access_hash,
        access_expires_at = now() + make_interval(secs => p_access_ttl_secs),
        rotated_at = now()
    FROM vaidya.users u
    WHERE (s.refresh_hash = p_refresh_hash OR s.previous_refresh_hash = p_refresh_hash)
      AND s.revoked_at IS NULL
      AND s.refresh_expires_at > now() AND u.id = s.user_id AND u.disabled_at IS NULL
    RETURNING s.user_id INTO v_user;
    RETURN v_user;
END
$$;

CREATE FUNCTION vaidya.auth_revoke_session(p_access_hash bytea) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE vaidya.sessions SET revoked_at = now()
    WHERE access_hash = p_access_hash AND revoked_at IS NULL;
    RETURN FOUND;
END
$$;

-- ------------------------------------------------------------------ row-level security


DO $$
DECLARE
    t text;
    -- "Clinics where the current user is an active member with one of these roles."
    member_sql constant text := 'SELECT m.clinic_id FROM vaidya.memberships m
                   WHERE m.user_id = (SELECT vaidya.current_user_id()) AND m.revoked_at IS NULL
                     AND m.role = ANY (%L::text[])';
    -- table => roles that may read, roles that may insert/update
    spec constant text[][] := ARRAY[
        ARRAY['patients',           '{admin,doctor,nurse,front_desk}', '{admin,doctor,nurse,front_desk}'],
        ARRAY['appointments',       '{admin,doctor,nurse,front_desk}', '{admin,doctor,nurse,front_desk}'],
        ARRAY['clinic_counters',    '{admin,doctor,nurse,front_desk}', '{admin,doctor,nurse,front_desk}'],
        ARRAY['encounters',         '{doctor,nurse}',                  '{doctor,nurse}'],
        ARRAY['encounter_addenda',  '{doctor,nurse}',                  '{doctor,nurse}'],
        ARRAY['prescriptions',      '{doctor,nurse}',                  '{doctor}'],
        ARRAY['prescription_items', '{doctor,nurse}',                  '{doctor}'],
        ARRAY['invoices',           '{admin,doctor,front_desk}',       '{admin,doctor,front_desk}'],
        ARRAY['invoice_lines',      '{admin,doctor,front_desk}',       '{admin,doctor,front_desk}'],
        ARRAY['payments',           '{admin,doctor,front_desk}',       '{admin,doctor,front_desk}']
    ];
    i int;
BEGIN
    FOR i IN 1 .. array_length(spec, 1) LOOP
        t := spec[i][1];
        EXECUTE format('ALTER TABLE vaidya.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE vaidya.%I FORCE ROW LEVEL SECURITY', t);
        -- The membership check is plain SQL over the indexed memberships table inside
        -- ARRAY(...): planned with the query, run once per statement as an InitPlan, and its
        -- result used in the index condition on clinic_id (no function call, no per-row
        -- probe). Memberships' own policy lets a user see their own rows.
        EXECUTE format($p$CREATE POLICY member_select ON vaidya.%I FOR SELECT TO vaidya_app
                          USING (clinic_id = ANY (ARRAY(%s)))$p$, t, format(member_sql, spec[i][2]));
        EXECUTE format($p$CREATE POLICY member_insert ON vaidya.%I FOR INSERT TO vaidya_app
                          WITH CHECK (clinic_id = ANY (ARRAY(%s)))$p$, t, format(member_sql, spec[i][3]));
        EXECUTE format($p$CREATE POLICY member_update ON vaidya.%I FOR UPDATE TO vaidya_app
                          USING (clinic_id = ANY (ARRAY(%s))) WITH CHECK (clinic_id = ANY (ARRAY(%s)))$p$,
                       t, format(member_sql, spec[i][3]), format(member_sql, spec[i][3]));
        EXECUTE format('GRANT SELECT, INSERT, UPDATE ON vaidya.%I TO vaidya_app', t);
    END LOOP;

    -- Structure of the tenancy: readable by members, managed by the owner (admin CLI) and by
    -- clinic admins for memberships. The owner gets explicit policies here and nowhere on
    -- clinical tables, so even the owner cannot read patient data.
    FOREACH t IN ARRAY ARRAY['clinic_groups', 'clinics', 'users', 'memberships', 'sessions',
                             'login_failures', 'audit_log', 'audit_chain_heads']
    LOOP
        EXECUTE format('ALTER TABLE vaidya.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE vaidya.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY owner_all ON vaidya.%I TO vaidya_owner USING (true) WITH CHECK (true)', t);
    END LOOP;

    CREATE POLICY member_select ON vaidya.clinics FOR SELECT TO vaidya_app
        USING (id = ANY ((SELECT vaidya.member_clinics('{admin,doctor,nurse,front_desk}'))::uuid[]));
    CREATE POLICY member_select ON vaidya.clinic_groups FOR SELECT TO vaidya_app
        USING (EXISTS (SELECT 1 FROM vaidya.clinics c WHERE c.group_id = clinic_groups.id));
    -- Colleagues of the same clinic see each other (staff directory, doctor pickers).
    CREATE POLICY member_select ON vaidya.memberships FOR SELECT TO vaidya_app
        USING (user_id = (SELECT vaidya.current_user_id())
               OR clinic_id = ANY ((SELECT vaidya.member_clinics('{admin,doctor,nurse,front_desk}'))::uuid[]));
    CREATE POLICY admin_insert ON vaidya.memberships FOR INSERT TO vaidya_app
        WITH CHECK (clinic_id = ANY ((SELECT vaidya.member_clinics('{admin}'))::uuid[]));
    CREATE POLICY admin_update ON vaidya.memberships FOR UPDATE TO vaidya_app
        USING (clinic_id = ANY ((SELECT vaidya.member_clinics('{admin}'))::uuid[]))
        WITH CHECK (clinic_id = ANY ((SELECT vaidya.member_clinics('{admin}'))::uuid[]));
    CREATE POLICY member_select ON vaidya.users FOR SELECT TO vaidya_app
        USING (id = (SELECT vaidya.current_user_id())
               OR EXISTS (SELECT 1 FROM vaidya.memberships m WHERE m.user_id = users.id));
    CREATE POLICY admin_select ON vaidya.audit_log FOR SELECT TO vaidya_app
        USING (clinic_id = ANY ((SELECT vaidya.member_clinics('{admin}'))::uuid[]));
END
$$;

-- ------------------------------------------------------------------ grants
-- Functions are executable by nobody unless granted below.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA vaidya FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA vaidya REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

GRANT USAGE ON SCHEMA vaidya TO vaidya_app;
GRANT USAGE ON SEQUENCE vaidya.change_seq TO vaidya_app;
GRANT SELECT ON vaidya.clinic_groups, vaidya.clinics TO vaidya_app;
GRANT SELECT (id, email, display_name, created_at, disabled_at) ON vaidya.users TO vaidya_app;
GRANT SELECT, INSERT, UPDATE ON vaidya.memberships TO vaidya_app;
GRANT SELECT ON vaidya.audit_log TO vaidya_app;
GRANT EXECUTE ON FUNCTION
    vaidya.current_user_id(),
    vaidya.member_clinics(text[]),
    vaidya.stamp_change(),
    vaidya.refuse_change_after_signing(),
    vaidya.audit_append(uuid, text, text, uuid[], uuid[], timestamptz),
    vaidya.auth_user_by_email(text),
    vaidya.auth_throttle_wait(text),
    vaidya.auth_note_result(text, boolean),
    vaidya.auth_open_session(uuid, bytea, integer, bytea, integer, text),
    vaidya.auth_session_user(bytea),
    vaidya.auth_rotate_session(bytea, bytea, integer, bytea, integer, integer),
    vaidya.auth_revoke_session(bytea)
TO vaidya_app;

-- Clinic admins add colleagues by email; users outside their clinics are otherwise invisible.
-- Answers only callers who administer at least one clinic.
CREATE FUNCTION vaidya.user_id_by_email(p_email text) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT u.id FROM vaidya.users u
    WHERE u.email = lower(p_email) AND u.disabled_at IS NULL
      AND cardinality(vaidya.member_clinics('{admin}')) > 0
$$;
REVOKE EXECUTE ON FUNCTION vaidya.user_id_by_email(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vaidya.user_id_by_email(text) TO vaidya_app;

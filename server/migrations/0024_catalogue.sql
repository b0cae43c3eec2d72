-- The clinic's catalogue of services and goods (issue 14, item 1): the code, tax
-- treatment, rate, unit and price a bill's line of it carries. Synced to every PC of the
-- clinic like other clinic data; its admins add and edit items (name, price, whether it is
-- offered). An item's tax identity is fixed once made: a new rate is a new item.
CREATE TABLE vaidya.catalogue_items (
    id           uuid NOT NULL,
    clinic_id    uuid NOT NULL REFERENCES vaidya.clinics (id),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    sac_hsn      text NOT NULL CHECK (sac_hsn ~ '^[0-9]{4,8}$'),
    treatment    text NOT NULL CHECK (treatment IN ('taxable', 'exempt', 'nil_rated', 'non_gst')),
    gst_rate_bp  integer NOT NULL CHECK (gst_rate_bp >= 0),
    unit         text NOT NULL CHECK (unit ~ '^[A-Z]{2,3}$'),
    price_paise  bigint NOT NULL CHECK (price_paise BETWEEN 0 AND 1000000000),
    active       boolean NOT NULL DEFAULT true,
    version      bigint NOT NULL,
    change_xid   xid8 NOT NULL,
    change_seq   bigint NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    deleted_at   timestamptz,
    PRIMARY KEY (clinic_id, id),
    CHECK ((treatment = 'taxable') = (gst_rate_bp > 0)),
    CHECK ((unit = 'NA') = (sac_hsn LIKE '99%'))
);
CREATE INDEX catalogue_items_changes ON vaidya.catalogue_items (clinic_id, change_xid, change_seq);

CREATE TRIGGER stamp_change BEFORE INSERT OR UPDATE ON vaidya.catalogue_items
    FOR EACH ROW EXECUTE FUNCTION vaidya.stamp_change();
CREATE TRIGGER notify_change AFTER INSERT OR UPDATE ON vaidya.catalogue_items
    FOR EACH ROW EXECUTE FUNCTION vaidya.notify_change();

-- Roles from the permission table (Resource::CatalogueItem): everyone reads, admins write.
SELECT vaidya.register_tenant_table('catalogue_items', '{admin,doctor,nurse,front_desk}', '{admin}', '{admin}');

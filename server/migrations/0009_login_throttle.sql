-- Sign-in throttling that cannot be raced, that limits a client address too, and that a
-- stranger cannot use to lock a colleague out of their own computer.
--
-- Before: the failure count was read before the attempt and written after it, so twenty
-- concurrent wrong passwords were all checked; and the count was keyed on the email alone,
-- so anyone knowing a colleague's email could lock them out for up to 15 minutes.
-- Now one call takes an attempt under the key's row lock and counts it as a failure at
-- once (a success clears it): the count and the decision are one step. A device that
-- signed in to the account before presents its device token (OWASP's "device cookie"):
-- its attempts count against that device alone, not against the email, so guesses from
-- elsewhere never lock the account out of a known device. Attempts from unknown devices
-- also count per client address. Failures an hour old are forgotten.

CREATE TABLE vaidya.known_devices (
    token_hash    bytea PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES vaidya.users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX known_devices_user ON vaidya.known_devices (user_id, last_used_at);
ALTER TABLE vaidya.known_devices ENABLE ROW LEVEL SECURITY;
ALTER TABLE vaidya.known_devices FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_all ON vaidya.known_devices TO vaidya_owner USING (true) WITH CHECK (true);

-- Takes one attempt for `p_key`: the seconds to wait (nothing counted), or 0 and the
-- attempt counted as a failure. `p_free` failures are allowed before waits start; then
-- they double from one second, capped at 15 minutes.
CREATE FUNCTION vaidya.auth_throttle_take(p_key text, p_free integer) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_failures integer;
    v_last timestamptz;
    v_wait integer := 0;
BEGIN
    INSERT INTO vaidya.login_failures (email, failures, last_failure)
    VALUES (p_key, 0, now()) ON CONFLICT (email) DO NOTHING;
    SELECT f.failures, f.last_failure INTO v_failures, v_last
    FROM vaidya.login_failures f WHERE f.email = p_key FOR UPDATE;
    IF v_last < now() - interval '1 hour' THEN
        v_failures := 0;
    END IF;
    IF v_failures >= p_free THEN
        v_wait := greatest(0, ceil(extract(epoch FROM
                      (v_last + make_interval(secs => least(900, 2 ^ (v_failures - p_free)))) - now())))::integer;
    END IF;
    IF v_wait > 0 THEN
        RETURN v_wait;
    END IF;
    UPDATE vaidya.login_failures f SET failures = v_failures + 1, last_failure = now()
    WHERE f.email = p_key;
    RETURN 0;
END
$$;

-- One sign-in attempt: 0 to go ahead (counted as a failure until it succeeds), else the
-- seconds to wait.
CREATE FUNCTION vaidya.auth_throttle_begin(p_email text, p_device_hash bytea, p_addr text)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_email text := lower(left(p_email, 320));
    v_known boolean;
    v_wait integer := 0;
BEGIN
    v_known := p_device_hash IS NOT NULL AND EXISTS (
        SELECT 1 FROM vaidya.known_devices d JOIN vaidya.users u ON u.id = d.user_id
        WHERE d.token_hash = p_device_hash AND lower(u.email) = v_email);
    IF v_known THEN
        RETURN vaidya.auth_throttle_take('device:' || encode(p_device_hash, 'hex'), 5);
    END IF;
    IF p_addr IS NOT NULL THEN
        v_wait := vaidya.auth_throttle_take('addr:' || left(p_addr, 64), 30);
    END IF;
    IF v_wait = 0 THEN
        v_wait := vaidya.auth_throttle_take(v_email, 5);
    END IF;
    RETURN v_wait;
END
$$;

-- A sign-in succeeded: the failures it was counted against are cleared (a known device's
-- own; otherwise the email's, so a colleague's success on their own computer does not
-- reset a stranger's lockout), and the device is (or stays) known. Returns true when
-- `p_new_device_hash` was registered (the device had no valid token).
CREATE FUNCTION vaidya.auth_login_succeeded(
    p_email text, p_user uuid, p_device_hash bytea, p_new_device_hash bytea, p_addr text
) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE vaidya.known_devices SET last_used_at = now()
    WHERE token_hash = p_device_hash AND user_id = p_user;
    IF FOUND THEN
        DELETE FROM vaidya.login_failures WHERE email = 'device:' || encode(p_device_hash, 'hex');
        RETURN false;
    END IF;
    DELETE FROM vaidya.login_failures WHERE email = lower(left(p_email, 320));
    -- The attempt was counted against the address too; a success takes it back (the
    -- address's other failures stay: successes elsewhere do not excuse them).
    UPDATE vaidya.login_failures SET failures = greatest(failures - 1, 0)
    WHERE email = 'addr:' || left(p_addr, 64);
    INSERT INTO vaidya.known_devices (token_hash, user_id) VALUES (p_new_device_hash, p_user);
    -- A user keeps at most 20 known devices (the most recently used).
    DELETE FROM vaidya.known_devices d
    WHERE d.user_id = p_user AND d.token_hash IN (
        SELECT k.token_hash FROM vaidya.known_devices k WHERE k.user_id = p_user
        ORDER BY k.last_used_at DESC OFFSET 20);
    RETURN true;
END
$$;

REVOKE ALL ON FUNCTION vaidya.auth_throttle_take(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION vaidya.auth_throttle_begin(text, bytea, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION vaidya.auth_login_succeeded(text, uuid, bytea, bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    vaidya.auth_throttle_begin(text, bytea, text),
    vaidya.auth_login_succeeded(text, uuid, bytea, bytea, text)
TO vaidya_app;

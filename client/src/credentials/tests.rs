//! Tests of the credential store against the REAL OS keyring.
//!
//! On Linux they need a Secret Service on a D-Bus session. Run them with:
//!
//! ```text
//! VAIDYA_REQUIRE_KEYRING=1 dbus-run-session -- bash -c \
//!   'echo -n pw | gnome-keyring-daemon --unlock --components=secrets; cargo test -p vaidya-client credentials'
//! ```
//!
//! (Debian/Ubuntu: `apt-get install -y dbus gnome-keyring dbus-x11 libsecret-1-0`.)
//! Without a D-Bus session (plain `cargo test`) the keyring tests print a note and skip, unless
//! `VAIDYA_REQUIRE_KEYRING=1`, in which case they fail. Each test uses its own service name
//! and deletes what it stored.

use chrono::{TimeZone, Utc};
use uuid::Uuid;

use super::*;

/// A store on a fresh service name, or `None` (with a printed note) when this machine has no
/// usable keyring and `VAIDYA_REQUIRE_KEYRING` is not `1`.
fn real_keyring(test: &str) -> Option<CredentialStore> {
    let store = CredentialStore::new(format!("vaidya-test-{}", Uuid::new_v4()));
    let required = std::env::var("VAIDYA_REQUIRE_KEYRING").is_ok_and(|v| v == "1");
    let missing =
        if cfg!(target_os = "linux") && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
            Some("no D-Bus session (DBUS_SESSION_BUS_ADDRESS is unset)".to_owned())
        } else {
            // A keyring daemon that is still starting creates its default collection
            // asynchronously: give it a few seconds before calling it unavailable.
            let mut last = None;
            for _ in 0..25 {
                match store.check_available() {
                    Ok(()) => {
                        last = None;
                        break;
                    }
                    Err(e) => last = Some(e.to_string()),
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            last
        };
    match missing {
        None => Some(store),
        Some(reason) if required => {
            panic!("{test}: VAIDYA_REQUIRE_KEYRING=1 but the keyring is unavailable: {reason}")
        }
        Some(reason) => {
            println!(
                "note: skipping {test}: {reason}; set VAIDYA_REQUIRE_KEYRING=1 to fail instead"
            );
            None
        }
    }
}

fn session(server: &str, user_id: Uuid, refresh_token: &str) -> StoredSession {
    StoredSession {
        server: server.to_owned(),
        user_id,
        email: "asha@clinic.example".to_owned(),
        refresh_token: refresh_token.to_owned(),
        refresh_expires_at: Utc.with_ymd_and_hms(2025, 4, 1, 0, 0, 0).unwrap(),
        offline_lease_until: Utc.with_ymd_and_hms(2025, 3, 21, 0, 0, 0).unwrap(),
        clinic_ids: vec![Uuid::new_v4()],
        last_known_time: None,
        display_name: String::new(),
        memberships: Vec::new(),
        password_verifier: None,
        offline_failures: 0,
    }
}

// ---------------------------------------------------------------- no keyring needed

#[test]
fn entries_over_the_windows_limit_are_refused_before_touching_the_keyring() {
    assert!(check_size("x", &[b'a'; MAX_ENTRY_BYTES]).is_ok());
    let err = check_size("x", &[b'a'; MAX_ENTRY_BYTES + 1]).unwrap_err();
    assert!(matches!(
        err,
        CredentialError::EntryTooLarge { size, limit, .. } if size == 2561 && limit == 2560
    ));
    assert_eq!(err.code(), "entry_too_large");

    // The store checks before any keyring call, so this holds with or without a keyring.
    let store = CredentialStore::new(format!("vaidya-test-{}", Uuid::new_v4()));
    let huge = session("https://sync.example", Uuid::new_v4(), &"t".repeat(3000));
    let err = store.save_session(&huge).unwrap_err();
    assert_eq!(err.code(), "entry_too_large", "{err:?}");
}

#[test]
fn a_realistic_session_fits_the_limit() {
    let s = session(
        "https://sync.vaidya.example.in/clinic-group/very-long-path",
        Uuid::new_v4(),
        &"r".repeat(512),
    );
    assert!(serde_json::to_vec(&s).unwrap().len() < MAX_ENTRY_BYTES / 2);
}

/// A hub's entry holds its TLS certificate and key too (issue 11): with a long name and
/// server address it still fits Windows' limit with room to spare.
#[test]
fn a_hub_credential_with_its_tls_identity_fits_the_limit() {
    use base64::Engine;
    let key = rcgen::KeyPair::generate().unwrap();
    let name = "Hub in the back office of the Kothrud branch, second floor".to_owned();
    let mut params = rcgen::CertificateParams::new(vec!["vaidya-hub.local".to_owned()]).unwrap();
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("Vaidya clinic hub: {name}"),
    );
    let cert = params.self_signed(&key).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let hub = HubCredential {
        server: "https://sync.vaidya.example.in/clinic-group/very-long-path".to_owned(),
        clinic_id: Uuid::new_v4(),
        hub_id: Uuid::new_v4(),
        name,
        refresh_token: Some("r".repeat(43)),
        refresh_expires_at: Some(Utc.with_ymd_and_hms(2025, 4, 1, 0, 0, 0).unwrap()),
        tls: Some(crate::credentials::HubTls {
            certificate: b64.encode(cert.der()),
            private_key: b64.encode(key.serialize_der()),
        }),
    };
    let size = serde_json::to_vec(&hub).unwrap().len();
    assert!(size < MAX_ENTRY_BYTES * 3 / 4, "{size} bytes");
}

fn login_session(clinics: usize, name: &str) -> vaidya_shared::api::Session {
    use vaidya_shared::api::{Membership, Role, Session, UserSummary};
    let at = Utc.with_ymd_and_hms(2025, 3, 21, 0, 0, 0).unwrap();
    Session {
        access_token: "a".repeat(43),
        access_expires_at: at,
        refresh_token: "r".repeat(43),
        refresh_expires_at: at,
        offline_lease_until: at,
        user: UserSummary {
            id: Uuid::new_v4(),
            email: "dr.asha.kulkarni@shanti-clinics.example.in".to_owned(),
            display_name: "Dr. Asha Kulkarni".to_owned(),
        },
        device_token: None,
        memberships: (0..clinics)
            .map(|i| Membership {
                clinic_id: Uuid::new_v4(),
                clinic_name: format!("{name} {i}"),
                group_id: Uuid::new_v4(),
                group_name: "Shanti Clinics Group".to_owned(),
                role: if i % 2 == 0 {
                    Role::Doctor
                } else {
                    Role::Admin
                },
            })
            .collect(),
    }
}

#[test]
fn memberships_are_kept_with_the_session_within_the_limit() {
    // A branch or two: everything is kept as it is.
    let small = login_session(2, "शांति क्लिनिक, कोथरूड");
    let stored = StoredSession::from_session("https://sync.example.in/", &small);
    assert_eq!(stored.display_name, "Dr. Asha Kulkarni");
    assert_eq!(stored.membership_list(), small.memberships);

    // A group owner with many long-named branches: names shrink (never mid-character),
    // roles, clinic ids and the password verifier stay, and the entry still fits with room
    // for the known time.
    let verifier = vaidya_shared::password::hash("a long enough password").unwrap();
    for clinics in [10, 25, 40] {
        let big = login_session(clinics, &"शांति मल्टीस्पेशियलिटी क्लिनिक ".repeat(4));
        let mut stored = StoredSession::from_session("https://sync.example.in", &big)
            .with_verifier(Some(verifier.clone()));
        assert_eq!(stored.password_verifier.as_deref(), Some(verifier.as_str()));
        stored.last_known_time = Some(Utc::now());
        let size = serde_json::to_vec(&stored).unwrap().len();
        assert!(size <= MAX_ENTRY_BYTES, "{clinics} clinics: {size} bytes");
        // The ids, which unlock the partitions, are kept beside the entry, not in it.
        assert_eq!(
            stored.clinic_ids.len(),
            clinics,
            "every partition stays unlockable"
        );
        let kept = stored.membership_list();
        if !kept.is_empty() {
            assert_eq!(kept.len(), clinics);
            for (k, m) in kept.iter().zip(&big.memberships) {
                assert_eq!((k.clinic_id, k.role), (m.clinic_id, m.role));
                assert!(!k.clinic_name.is_empty());
            }
        }
    }
    // Ten branches keep their roles at least.
    let ten = StoredSession::from_session(
        "https://sync.example.in",
        &login_session(10, &"शांति मल्टीस्पेशियलिटी क्लिनिक ".repeat(4)),
    )
    .with_verifier(Some(verifier));
    assert_eq!(ten.membership_list().len(), 10);

    // A session stored by an older version (no memberships) still reads.
    let old = serde_json::json!({
        "server": "https://sync.example.in", "user_id": Uuid::new_v4(), "email": "a@b.in",
        "refresh_token": "r", "refresh_expires_at": "2025-03-21T00:00:00Z",
        "offline_lease_until": "2025-03-21T00:00:00Z", "clinic_ids": [Uuid::new_v4()],
    });
    let old: StoredSession = serde_json::from_value(old).unwrap();
    assert!(old.membership_list().is_empty() && old.display_name.is_empty());
}

#[test]
fn names_are_cut_on_character_boundaries() {
    assert_eq!(truncate_chars("Pune", 10), "Pune");
    assert_eq!(truncate_chars("कोथरूड क्लिनिक", 4), "कोथ…");
    assert_eq!(truncate_chars("abcdef", 4).chars().count(), 4);
}

#[test]
fn secrets_are_redacted_from_debug_output() {
    let s = session(
        "https://sync.example",
        Uuid::new_v4(),
        "super-secret-refresh",
    );
    assert!(!format!("{s:?}").contains("super-secret-refresh"));
    let key = PartitionKey::generate();
    assert!(!format!("{key:?}").contains(&key.to_hex()));
}

#[test]
fn partition_keys_round_trip_through_hex() {
    let key = PartitionKey::generate();
    assert_eq!(PartitionKey::from_hex(&key.to_hex()), Some(key.clone()));
    assert_eq!(key.to_hex().len(), 64);
    assert_eq!(PartitionKey::from_hex("abc"), None);
    assert_eq!(PartitionKey::from_hex(&"zz".repeat(32)), None);
    assert_ne!(PartitionKey::generate(), key);
}

#[test]
fn the_offline_lease_has_an_end() {
    let s = session("https://sync.example", Uuid::new_v4(), "t");
    assert!(s.offline_lease_valid_at(Utc.with_ymd_and_hms(2025, 3, 20, 23, 0, 0).unwrap()));
    assert!(!s.offline_lease_valid_at(s.offline_lease_until));
}

/// Runs in a child process without any D-Bus session, so that the answer is a typed error
/// and not a panic or a hang, on every machine (including one that has a keyring).
#[test]
#[cfg(target_os = "linux")]
fn a_missing_keyring_is_a_typed_error() {
    const CHILD: &str = "VAIDYA_KEYRING_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let store = CredentialStore::new("vaidya-test-unavailable");
        let err = store.check_available().unwrap_err();
        assert_eq!(err.code(), "keyring_unavailable", "{err:?}");
        let err = store.partition_key(Uuid::new_v4()).unwrap_err();
        assert_eq!(err.code(), "keyring_unavailable", "{err:?}");
        return;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "credentials::tests::a_missing_keyring_is_a_typed_error",
            "--exact",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("DISPLAY")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

// ---------------------------------------------------------------- real keyring

#[test]
fn sessions_round_trip_and_sign_out_removes_them() {
    let Some(store) = real_keyring("sessions_round_trip_and_sign_out_removes_them") else {
        return;
    };
    let server = "https://sync.example/";
    let (asha, ravi) = (Uuid::new_v4(), Uuid::new_v4());
    assert_eq!(store.session(server, asha).unwrap(), None);

    let mut first = session(server, asha, "refresh-1");
    first.server = "https://sync.example".to_owned();
    store.save_session(&first).unwrap();
    store
        .save_session(&session("https://sync.example", ravi, "refresh-ravi"))
        .unwrap();
    // A trailing slash names the same server.
    assert_eq!(store.session(server, asha).unwrap(), Some(first.clone()));

    // Saving again replaces (token rotation), it does not add a second entry.
    let rotated = StoredSession {
        refresh_token: "refresh-2".to_owned(),
        ..first
    };
    store.save_session(&rotated).unwrap();
    assert_eq!(store.session(server, asha).unwrap(), Some(rotated));

    store.sign_out(server, asha).unwrap();
    assert_eq!(store.session(server, asha).unwrap(), None);
    assert!(
        store.session(server, ravi).unwrap().is_some(),
        "other users stay signed in"
    );
    // Signing out twice is fine.
    store.sign_out(server, asha).unwrap();
    store.sign_out(server, ravi).unwrap();
    assert_eq!(store.session(server, ravi).unwrap(), None);
}

#[test]
fn partition_keys_are_kept_per_clinic() {
    let Some(store) = real_keyring("partition_keys_are_kept_per_clinic") else {
        return;
    };
    let (pune, nashik) = (Uuid::new_v4(), Uuid::new_v4());
    assert_eq!(store.partition_key(pune).unwrap(), None);
    let key = store.partition_key_or_create(pune).unwrap();
    assert_eq!(
        store.partition_key_or_create(pune).unwrap(),
        key,
        "created once"
    );
    assert_eq!(store.partition_key(pune).unwrap(), Some(key.clone()));
    let other = store.partition_key_or_create(nashik).unwrap();
    assert_ne!(other, key);

    store.delete_partition_key(pune).unwrap();
    assert_eq!(store.partition_key(pune).unwrap(), None);
    assert_eq!(store.partition_key(nashik).unwrap(), Some(other));
    store.delete_partition_key(nashik).unwrap();
    store.delete_partition_key(nashik).unwrap();
}

#[test]
fn a_keyring_key_opens_its_partition() {
    let Some(store) = real_keyring("a_keyring_key_opens_its_partition") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = crate::partition::DataDir::new(dir.path());
    let clinic = Uuid::new_v4();
    let key = store.partition_key_or_create(clinic).unwrap();
    crate::partition::ClinicPartition::open(&data_dir, clinic, &key).unwrap();
    // A later run reads the key back from the keyring and opens the same file.
    let again = store.partition_key(clinic).unwrap().unwrap();
    let partition = crate::partition::ClinicPartition::open(&data_dir, clinic, &again).unwrap();
    partition.wipe().unwrap();
    store.delete_partition_key(clinic).unwrap();
}

#[test]
fn unreadable_entries_are_typed_errors() {
    let Some(store) = real_keyring("unreadable_entries_are_typed_errors") else {
        return;
    };
    let clinic = Uuid::new_v4();
    store
        .write(&partition_key_entry_name(clinic), b"not a key")
        .unwrap();
    let err = store.partition_key(clinic).unwrap_err();
    assert_eq!(err.code(), "credential_invalid");
    store.delete_partition_key(clinic).unwrap();
}

#[test]
fn device_tokens_are_kept_per_server_and_account_across_sign_out() {
    let Some(store) = real_keyring("device_tokens_are_kept_per_server_and_account_across_sign_out")
    else {
        return;
    };
    let server = "https://sync.example/";
    assert_eq!(store.device_token(server, "asha@clinic.in").unwrap(), None);
    store
        .save_device_token(server, "Asha@Clinic.in ", "token-asha")
        .unwrap();
    // The same account however the email is typed; another account has none.
    assert_eq!(
        store
            .device_token("https://sync.example", "asha@clinic.in")
            .unwrap(),
        Some("token-asha".to_owned())
    );
    assert_eq!(store.device_token(server, "ravi@clinic.in").unwrap(), None);
    let user = Uuid::new_v4();
    store
        .save_session(&session(server, user, "refresh"))
        .unwrap();
    store.sign_out(server, user).unwrap();
    assert_eq!(
        store.device_token(server, "asha@clinic.in").unwrap(),
        Some("token-asha".to_owned()),
        "signing out keeps the computer a known device"
    );
}

/// The process id owning the Secret Service name on this D-Bus session.
#[cfg(target_os = "linux")]
fn secret_service_pid() -> u32 {
    let output = std::process::Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.GetConnectionUnixProcessID",
            "string:org.freedesktop.secrets",
        ])
        .output()
        .expect("dbus-send (package dbus)");
    let reply = String::from_utf8_lossy(&output.stdout);
    reply
        .split_whitespace()
        .skip_while(|word| *word != "uint32")
        .nth(1)
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no Secret Service owner in {reply:?}"))
}

/// The keyring daemon dying under a running app (gnome-keyring aborts on some clients'
/// patterns) costs nothing: the next call reconnects to the daemon D-Bus starts again, and
/// entries, the one connection's session included, work as before.
///
/// It kills this session's keyring daemon, so it runs only when asked
/// (`VAIDYA_KEYRING_RESTART_TEST=1`), alone, on a session whose Secret Service activation
/// starts the daemon unlocked, as a desktop login's PAM does (`scripts/test.sh` sets that up).
#[cfg(target_os = "linux")]
#[test]
fn a_restarted_keyring_daemon_is_reconnected() {
    if std::env::var("VAIDYA_KEYRING_RESTART_TEST").as_deref() != Ok("1") {
        println!("note: a_restarted_keyring_daemon_is_reconnected runs only with VAIDYA_KEYRING_RESTART_TEST=1");
        return;
    }
    let Some(store) = real_keyring("a_restarted_keyring_daemon_is_reconnected") else {
        return;
    };
    let clinic = Uuid::new_v4();
    let key = store.partition_key_or_create(clinic).unwrap();

    let before = secret_service_pid();
    let status = std::process::Command::new("kill")
        .arg(before.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill {before}");
    let gone = std::path::PathBuf::from(format!("/proc/{before}"));
    for _ in 0..100 {
        if !gone.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!gone.exists(), "the keyring daemon {before} did not stop");

    // The same connection, whose session died with the daemon: read, write and delete work.
    assert_eq!(
        store.partition_key(clinic).unwrap().map(|k| k.to_hex()),
        Some(key.to_hex())
    );
    let after = secret_service_pid();
    assert_ne!(before, after, "a new daemon answers");
    let other = Uuid::new_v4();
    let created = store.partition_key_or_create(other).unwrap();
    assert_eq!(
        store.partition_key(other).unwrap().map(|k| k.to_hex()),
        Some(created.to_hex())
    );
    store.delete_partition_key(clinic).unwrap();
    store.delete_partition_key(other).unwrap();
    assert_eq!(store.partition_key(clinic).unwrap(), None);
}

/// A group owner of 200 branches signs in on Windows too: the session entry, the clinic
/// ids and the known clinics each fit the 2,560-byte limit (`write` refuses any entry over
/// it, on every OS), and read back whole; sign-out removes every part.
#[test]
fn a_member_of_two_hundred_clinics_fits_the_keyring() {
    let Some(store) = real_keyring("a_member_of_two_hundred_clinics_fits_the_keyring") else {
        return;
    };
    let server = "https://sync.example.in";
    let big = login_session(200, &"शांति मल्टीस्पेशियलिटी क्लिनिक ".repeat(4));
    let verifier = vaidya_shared::password::hash("a long enough password").unwrap();
    let stored = StoredSession::from_session(server, &big).with_verifier(Some(verifier));
    let user = stored.user_id;
    assert_eq!(stored.clinic_ids.len(), 200);
    store.save_session(&stored).unwrap();
    let back = store.session(server, user).unwrap().unwrap();
    assert_eq!(back.clinic_ids, stored.clinic_ids);
    assert!(back.password_verifier.is_some());

    // Saved again with fewer clinics (two memberships revoked): exactly those remain.
    let mut fewer = back.clone();
    fewer.clinic_ids.truncate(198);
    store.save_session(&fewer).unwrap();
    assert_eq!(
        store
            .session(server, user)
            .unwrap()
            .unwrap()
            .clinic_ids
            .len(),
        198
    );

    store
        .save_known_clinics(server, user, &stored.clinic_ids)
        .unwrap();
    assert_eq!(
        store.known_clinics(server, user).unwrap(),
        stored.clinic_ids
    );

    store.sign_out(server, user).unwrap();
    store.forget_known_clinics(server, user).unwrap();
    assert_eq!(store.session(server, user).unwrap(), None);
    assert!(store.known_clinics(server, user).unwrap().is_empty());
    // No part is left behind: a fresh list of the same name starts empty.
    assert_eq!(
        store
            .read_id_list(&session_clinics_entry_name(server, user))
            .unwrap(),
        None
    );
}

/// Lists written by an older version (the ids in the entry itself) still read.
#[test]
fn lists_from_older_versions_still_read() {
    let Some(store) = real_keyring("lists_from_older_versions_still_read") else {
        return;
    };
    let (server, user) = ("https://sync.example.in", Uuid::new_v4());
    let ids = vec![Uuid::new_v4(), Uuid::new_v4()];
    store
        .write(
            &known_clinics_entry_name(server, user),
            &serde_json::to_vec(&ids).unwrap(),
        )
        .unwrap();
    assert_eq!(store.known_clinics(server, user).unwrap(), ids);
    // Rewritten in today's form, the old inline entry is replaced.
    store.save_known_clinics(server, user, &ids[..1]).unwrap();
    assert_eq!(
        store.known_clinics(server, user).unwrap(),
        ids[..1].to_vec()
    );
    store.forget_known_clinics(server, user).unwrap();

    let mut old = serde_json::to_value(session(server, user, "r")).unwrap();
    old["clinic_ids"] = serde_json::json!(ids);
    store
        .write(
            &session_entry_name(server, user),
            &serde_json::to_vec(&old).unwrap(),
        )
        .unwrap();
    assert_eq!(
        store.session(server, user).unwrap().unwrap().clinic_ids,
        ids
    );
    store.sign_out(server, user).unwrap();
}

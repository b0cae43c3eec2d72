//! A clinic hub's registration on its own machine (issue 11), on the real OS keyring and a
//! real server: `vaidya-server hub register` keeps only the hub's credential (never the
//! admin's), `hub status` connects and keeps the rotated token, and a revoked hub forgets a
//! credential that can never work again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;
use tokio::sync::watch;
use vaidya_server::hub::follow::{follow, Upstream};
use vaidya_server::hub::replica::Replica;
use vaidya_server::hub::{self, SignIn};
use vaidya_tests::proxy::Proxy;
use vaidya_tests::{Harness, TestServer, World};

use crate::check;

/// How many sessions the hub commands opened for these people are still open on the server.
async fn open_sessions(su: &tokio_postgres::Client, people: &[uuid::Uuid]) -> Result<i64> {
    Ok(su
        .query_one(
            "SELECT count(*) FROM vaidya.sessions
             WHERE user_id = ANY ($1) AND revoked_at IS NULL AND device = $2",
            &[&people, &hub::DEVICE],
        )
        .await?
        .get(0))
}

fn sign_in(p: &vaidya_tests::Person) -> SignIn<'_> {
    SignIn {
        email: &p.email,
        password: &p.password,
    }
}
use crate::support::keyring;

pub async fn a_hub_registers_into_the_keyring_and_connects_until_revoked(
    h: Arc<Harness>,
) -> Result<()> {
    let Some(store) = keyring("a_hub_registers_into_the_keyring_and_connects_until_revoked")?
    else {
        return Ok(());
    };
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let k = world.a.id;

    // A wrong password and a doctor: refused, nothing kept.
    let wrong = SignIn {
        email: &world.a.admin.email,
        password: "not the password",
    };
    let err = hub::register(&store, &server.base, k, "Reception hub", wrong, false)
        .await
        .err()
        .context("a wrong password registers nothing")?;
    check!(err.code() == "invalid_credentials", "{err}");
    let err = hub::register(
        &store,
        &server.base,
        k,
        "Reception hub",
        sign_in(&world.a.doctor),
        false,
    )
    .await
    .err()
    .context("a doctor registers no hub")?;
    check!(err.code() == "forbidden", "{err}");
    check!(
        store.hub_credential(k)?.is_none(),
        "a refused registration kept a credential"
    );

    // The admin registers it: the hub's credential is kept, the admin's session is not.
    let registered = hub::register(
        &store,
        &server.base,
        k,
        "Reception hub",
        sign_in(&world.a.admin),
        false,
    )
    .await?;
    check!(
        store.hub_credential(k)?.as_ref() == Some(&registered),
        "the keyring holds the hub's credential"
    );
    let su = world.db.superuser().await?;
    let open = open_sessions(&su, &[world.a.admin.id, world.a.doctor.id]).await?;
    check!(
        open == 0,
        "{open} people's sessions left open by the registration"
    );

    // Registering again on the same machine is refused, unless replacing: then the old hub
    // is revoked and the new one kept.
    let err = hub::register(
        &store,
        &server.base,
        k,
        "Again",
        sign_in(&world.a.admin),
        false,
    )
    .await
    .err()
    .context("a second registration over the first")?;
    check!(err.code() == "hub_already_registered", "{err}");
    let stale = registered.clone();
    let registered = hub::register(
        &store,
        &server.base,
        k,
        "Reception hub",
        sign_in(&world.a.admin),
        true,
    )
    .await?;
    let admin = server.login_as(&world.a.admin).await?;
    let (_, listed) = admin.get(&format!("/v1/clinics/{k}/hubs")).await?;
    let replaced = listed
        .as_array()
        .into_iter()
        .flatten()
        .find(|h| h["id"] == stale.hub_id.to_string());
    check!(
        registered.hub_id != stale.hub_id && replaced.is_some_and(|h| h["revoked_at"].is_string()),
        "the replaced hub is not revoked: {listed}"
    );
    check!(
        registered.refresh_token.is_none(),
        "a registration alone holds a credential"
    );

    // It is no member until a doctor approves it (not the admin).
    let err = hub::connect(&store, k)
        .await
        .err()
        .context("a hub no doctor approved connects")?;
    check!(err.code() == "hub_awaiting_approval", "{err}");
    let err = hub::approve(&store, k, sign_in(&world.a.admin))
        .await
        .err()
        .context("the admin approves")?;
    check!(err.code() == "forbidden", "{err}");
    let approved = hub::approve(&store, k, sign_in(&world.a.doctor)).await?;
    check!(approved.approved_at.is_some(), "{approved:?}");
    let from_approval = store.hub_credential(k)?.context("kept")?.refresh_token;
    check!(from_approval.is_some(), "the approval's credential is kept");
    let open = open_sessions(&su, &[world.a.admin.id, world.a.doctor.id]).await?;
    check!(
        open == 0,
        "{open} people's sessions left open by the approval"
    );

    // It connects as the hub of that clinic, and keeps the rotated token each time.
    let first = hub::connect(&store, k).await?;
    check!(
        first.clinic_name == world.a.name && first.credential.hub_id == registered.hub_id,
        "connected as {:?} of {}",
        first.credential,
        first.clinic_name
    );
    let kept = store.hub_credential(k)?.context("kept")?;
    check!(
        kept.refresh_token != from_approval && kept.refresh_token == first.credential.refresh_token,
        "the rotated token is kept"
    );
    // (Each connection is a new session: the previous access token has been replaced.)
    let second = hub::connect(&store, k).await?;
    check!(second.api.me().await.is_ok(), "the hub's session answers");

    // Revoked by the admin: the next connection fails and the credential is gone.
    let (status, _) = admin
        .delete(&format!("/v1/clinics/{k}/hubs/{}", registered.hub_id))
        .await?;
    check!(status == 204, "revoking: {status}");
    let err = hub::connect(&store, k)
        .await
        .err()
        .context("a revoked hub connects")?;
    check!(err.code() == "hub_revoked", "{err}");
    check!(
        store.hub_credential(k)?.is_none(),
        "the revoked hub's credential is kept"
    );
    let err = hub::connect(&store, k)
        .await
        .err()
        .context("no credential")?;
    check!(err.code() == "hub_not_registered", "{err}");
    Ok(())
}

/// Whether the hub's database holds patient `id` of `clinic`.
async fn hub_has(db: &tokio_postgres::Client, clinic: uuid::Uuid, id: &str) -> Result<bool> {
    Ok(db
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM vaidya.patients WHERE clinic_id = $1 AND id = $2::text::uuid)",
            &[&clinic, &id],
        )
        .await?
        .get(0))
}

/// Waits up to `within` for `cond`, checking every 50 ms; how long it took.
async fn until<F, Fut>(within: Duration, mut cond: F) -> Result<Option<Duration>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let start = Instant::now();
    while start.elapsed() < within {
        if cond().await? {
            return Ok(Some(start.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(None)
}

/// The hub process's copy (`hub run`, issue 11) follows the group server: a patient
/// registered upstream is in the hub's database within seconds; while the line is cut the
/// hub says since when the group server is unreachable and loses nothing; when the line
/// returns it resumes from its kept cursor; a revoked hub stops with `hub_revoked`.
pub async fn a_hub_follows_the_group_server_through_an_outage(h: Arc<Harness>) -> Result<()> {
    let Some(store) = keyring("a_hub_follows_the_group_server_through_an_outage")? else {
        return Ok(());
    };
    let world = World::create(&h).await?;
    let server = TestServer::spawn(&world.db, 4).await?;
    let line = Proxy::start(server.base.trim_start_matches("http://").parse()?, 11).await?;
    let k = world.a.id;
    let registered = hub::register(
        &store,
        &line.base(),
        k,
        "Reception hub",
        sign_in(&world.a.admin),
        false,
    )
    .await?;
    hub::approve(&store, k, sign_in(&world.a.doctor)).await?;

    let hub_db = h.database().await?;
    let mut replica = Replica::open(hub_db.superuser().await?, k).await?;
    let (status, watching) = watch::channel(Upstream::default());
    let (stop, stopped) = watch::channel(false);
    let following = tokio::spawn({
        let store = store.clone();
        async move { follow(&store, k, &mut replica, &status, stopped).await }
    });
    let copy = hub_db.superuser().await?;

    // A walk-in registered upstream reaches the hub's copy by the live stream.
    let desk = server.login_as(&world.a.desk).await?;
    let patients = format!("/v1/clinics/{k}/patients");
    let (_, walk_in) = desk
        .post(&patients, json!({"name": "Meena Iyer", "sex": "female"}))
        .await?;
    let walk_in = walk_in["id"].as_str().context("patient id")?.to_owned();
    let took = until(Duration::from_secs(10), || hub_has(&copy, k, &walk_in)).await?;
    check!(took.is_some(), "the walk-in never reached the hub's copy");
    println!("group server → hub copy: {:?}", took.unwrap_or_default());

    // The line is cut: the hub says so, and what is registered meanwhile waits upstream.
    line.set_online(false);
    let (_, during) = desk
        .post(&patients, json!({"name": "Imran Shaikh", "sex": "male"}))
        .await?;
    let during = during["id"].as_str().context("patient id")?.to_owned();
    let said = until(Duration::from_secs(10), || {
        let w = watching.clone();
        async move { Ok(w.borrow().unreachable_since.is_some()) }
    })
    .await?;
    check!(
        said.is_some(),
        "the hub never said the group server is unreachable"
    );
    check!(
        !hub_has(&copy, k, &during).await?,
        "a patient crossed a cut line"
    );

    // The line returns: the copy resumes where it stopped, and says so.
    line.set_online(true);
    let took = until(Duration::from_secs(40), || hub_has(&copy, k, &during)).await?;
    check!(took.is_some(), "the copy did not resume after the outage");
    let cleared = until(Duration::from_secs(5), || {
        let w = watching.clone();
        async move { Ok(w.borrow().unreachable_since.is_none()) }
    })
    .await?;
    check!(
        cleared.is_some(),
        "the hub still says the group server is unreachable"
    );

    // Revoked: the hub stops following, with the reason.
    let admin = server.login_as(&world.a.admin).await?;
    let (status, _) = admin
        .delete(&format!("/v1/clinics/{k}/hubs/{}", registered.hub_id))
        .await?;
    check!(status == 204, "revoking: {status}");
    let ended = tokio::time::timeout(Duration::from_secs(20), following).await;
    let code = match ended {
        Ok(Ok(Err(e))) => e.code(),
        Ok(Ok(Ok(()))) => "stopped without error",
        Ok(Err(_)) => "panicked",
        Err(_) => "still following",
    };
    check!(code == "hub_revoked", "a revoked hub's copy: {code}");
    drop(stop);
    Ok(())
}

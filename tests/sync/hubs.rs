//! A clinic hub's registration on its own machine (issue 11), on the real OS keyring and a
//! real server: `vaidya-server hub register` keeps only the hub's credential (never the
//! admin's), `hub status` connects and keeps the rotated token, and a revoked hub forgets a
//! credential that can never work again.

use std::sync::Arc;

use anyhow::{Context, Result};
use vaidya_server::hub::{self, SignIn};
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

//! The server as a library: settings, shared state, the router, and `launch`, which serves
//! on a given listener until a shutdown future resolves (tests bind port 0 and stop cleanly).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::trace::TraceLayer;

use crate::routes;

/// Largest request body accepted (a big prescription or invoice is a few KiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Connection of the app role (`vaidya_app`), never the owner.
    pub database: tokio_postgres::Config,
    pub pool_size: usize,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// How long a client may unlock its offline cache without reaching the server.
    pub offline_lease: Duration,
    /// How long after a rotation the previous refresh token still works (a lost response on
    /// a bad line must not sign the user out); after it, presenting it revokes the session.
    pub refresh_grace: Duration,
    /// `database` is a pooler in transaction mode (PgBouncer): consecutive transactions of
    /// one connection may run on different PostgreSQL backends, so no prepared statement may
    /// outlive its transaction (see [`Db`]).
    pub pooled: bool,
    /// Where the `LISTEN vaidya_changes` connection goes: PostgreSQL itself, since LISTEN
    /// needs a session a transaction-mode pooler does not keep. `None`: `database`.
    pub listen_database: Option<tokio_postgres::Config>,
    /// Where the desktop releases' `latest.json` is published for the clinic PCs
    /// (`routes::desktop`); `None`: the server announces no updates.
    pub desktop_releases: Option<std::path::PathBuf>,
    /// The SHA-256 (hex) of the certificate a clinic hub serves its LAN with (`None`: no
    /// TLS of its own). A PC's device sign-in must name it (`DeviceSignIn`).
    pub lan_certificate_sha256: Option<String>,
}

impl Settings {
    /// Settings with defaults for a connection URL of the app role.
    pub fn from_url(database_url: &str) -> Result<Settings> {
        let database = database_url.parse().context("parsing the database URL")?;
        Ok(Settings::new(database))
    }

    pub fn new(database: tokio_postgres::Config) -> Settings {
        Settings {
            database,
            pool_size: 16,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            offline_lease: Duration::from_secs(72 * 3600),
            refresh_grace: Duration::from_secs(60),
            pooled: false,
            listen_database: None,
            desktop_releases: None,
            lan_certificate_sha256: None,
        }
    }
}

/// State shared by all handlers.
#[derive(Clone)]
pub struct App {
    pub pool: Db,
    pub settings: Arc<Settings>,
    /// Password hashes computed at once. argon2id uses 19 MiB per hash; running more at
    /// once than there are cores only thrashes caches, so sign-ins queue here instead.
    pub hashing: Arc<tokio::sync::Semaphore>,
    /// Clinics whose data changed (fed by `LISTEN vaidya_changes`), for live clients.
    pub changes: tokio::sync::broadcast::Sender<crate::sync::live::ChangeSignal>,
    /// The key pull cursors are sealed with, read from the database at the first pull.
    pub cursor_key: Arc<tokio::sync::OnceCell<crate::sync::cursor::CursorKey>>,
    /// Whether the database is a clinic hub's (`vaidya.hub_clinic()`), read once, at the
    /// first write: a hub takes writes only through sync (see [`hub_writes_only_by_sync`]).
    is_hub: Arc<tokio::sync::OnceCell<bool>>,
}

impl App {
    /// Whether this server's database is a clinic hub's (issue 11): the database says so
    /// (`vaidya.hub_clinic()`), read once per process.
    pub async fn is_hub(&self) -> Result<bool, crate::http::AppError> {
        self.is_hub
            .get_or_try_init(async || {
                // In a transaction of its own, so that through a transaction-mode pooler
                // the statement is prepared and run on one backend.
                let conn = self.pool.get().await?;
                conn.batch_execute("BEGIN").await?;
                let hub: Option<uuid::Uuid> = conn
                    .query_one("SELECT vaidya.hub_clinic()", &[])
                    .await?
                    .get(0);
                conn.batch_execute("COMMIT").await?;
                Ok(hub.is_some())
            })
            .await
            .copied()
    }

    pub fn new(settings: Settings) -> Result<App> {
        let manager = Manager::from_config(
            settings.database.clone(),
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Db {
            pool: Pool::builder(manager)
                .max_size(settings.pool_size)
                .build()?,
            param_types: settings.pooled.then(Default::default),
        };
        let cores = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(2);
        Ok(App {
            pool,
            settings: Arc::new(settings),
            hashing: Arc::new(tokio::sync::Semaphore::new(cores)),
            changes: tokio::sync::broadcast::channel(1024).0,
            cursor_key: Arc::default(),
            is_hub: Arc::default(),
        })
    }
}

/// The app role's connection pool, and how its statements may be kept.
///
/// Directly on PostgreSQL, each connection caches its prepared statements (one round trip
/// per query). Through a pooler in transaction mode, a connection's next transaction may
/// run on another backend, where a cached statement does not exist; there
/// (`Settings::pooled`) every statement is sent unnamed with its parameter types (parse,
/// bind and execute in one round trip, `http::RequestTx`), which works with any pooler that
/// keeps a transaction on one backend. The types are learned once per process.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    param_types: Option<crate::http::ParamTypes>,
}

impl Db {
    /// A connection of the pool.
    pub async fn get(&self) -> Result<deadpool_postgres::Object, deadpool_postgres::PoolError> {
        self.pool.get().await
    }

    /// Whether statements must not outlive their transaction (see the type's notes).
    pub fn pooled(&self) -> bool {
        self.param_types.is_some()
    }

    /// The process's parameter types per statement, in pooled mode.
    pub(crate) fn param_types(&self) -> Option<crate::http::ParamTypes> {
        self.param_types.clone()
    }
}

pub fn router(app: App) -> Router {
    let v1 = Router::new()
        .route("/auth/login", post(routes::auth::login))
        .route("/auth/refresh", post(routes::auth::refresh))
        .route("/auth/logout", post(routes::auth::logout))
        .route(
            "/auth/device-challenge",
            post(routes::auth::device_challenge),
        )
        .route("/auth/device-login", post(routes::auth::device_login))
        .route("/me", get(routes::auth::me))
        .route("/openapi.json", get(openapi_json))
        .route("/desktop/update", get(routes::desktop::update))
        .route("/clinics/{clinic_id}", get(routes::clinics::get_clinic))
        .route(
            "/clinics/{clinic_id}/members",
            get(routes::members::list).post(routes::members::create),
        )
        .route(
            "/clinics/{clinic_id}/hubs",
            get(routes::hubs::list).post(routes::hubs::register),
        )
        .route(
            "/clinics/{clinic_id}/directory",
            get(routes::hubs::directory),
        )
        .route(
            "/clinics/{clinic_id}/hubs/{hub_id}/approve",
            post(routes::hubs::approve),
        )
        .route(
            "/clinics/{clinic_id}/hubs/{hub_id}",
            axum::routing::delete(routes::hubs::revoke),
        )
        .route(
            "/clinics/{clinic_id}/hubs/{hub_id}/addresses",
            axum::routing::put(routes::hubs::announce),
        )
        .route(
            "/clinics/{clinic_id}/hub-endpoints",
            get(routes::hubs::endpoints),
        )
        .route("/me/device-keys", post(routes::device_keys::register))
        .route("/me/device-wipes", post(routes::device_keys::report_wipe))
        .route("/me/invitations", get(routes::invitations::mine))
        .route(
            "/me/invitations/{id}/accept",
            post(routes::invitations::accept),
        )
        .route(
            "/me/invitations/{id}/decline",
            post(routes::invitations::decline),
        )
        .route(
            "/clinics/{clinic_id}/device-keys",
            get(routes::device_keys::list),
        )
        .route(
            "/clinics/{clinic_id}/device-keys/{id}",
            axum::routing::delete(routes::device_keys::revoke),
        )
        .route(
            "/clinics/{clinic_id}/members/{member_id}",
            axum::routing::patch(routes::members::update).delete(routes::members::revoke),
        )
        .route(
            "/clinics/{clinic_id}/members/{member_id}/registration",
            axum::routing::put(routes::members::set_registration),
        )
        .route(
            "/clinics/{clinic_id}/patients",
            get(routes::patients::list).post(routes::patients::create),
        )
        .route(
            "/clinics/{clinic_id}/patients/{id}/merge",
            post(routes::patients::merge),
        )
        .route(
            "/clinics/{clinic_id}/patients/{id}",
            get(routes::patients::get)
                .patch(routes::patients::update)
                .delete(routes::patients::delete),
        )
        .route(
            "/clinics/{clinic_id}/appointments",
            get(routes::appointments::list).post(routes::appointments::create),
        )
        .route(
            "/clinics/{clinic_id}/appointments/{id}",
            get(routes::appointments::get).patch(routes::appointments::update),
        )
        .route(
            "/clinics/{clinic_id}/encounters",
            get(routes::encounters::list).post(routes::encounters::create),
        )
        .route(
            "/clinics/{clinic_id}/encounters/{id}",
            get(routes::encounters::get).patch(routes::encounters::update),
        )
        .route(
            "/clinics/{clinic_id}/encounters/{id}/sign",
            post(routes::encounters::sign),
        )
        .route(
            "/clinics/{clinic_id}/encounters/{id}/addenda",
            post(routes::encounters::add_addendum),
        )
        .route(
            "/clinics/{clinic_id}/prescriptions",
            get(routes::prescriptions::list).post(routes::prescriptions::create),
        )
        .route(
            "/clinics/{clinic_id}/prescriptions/{id}",
            get(routes::prescriptions::get),
        )
        .route(
            "/clinics/{clinic_id}/invoices",
            get(routes::invoices::list).post(routes::invoices::create),
        )
        .route(
            "/clinics/{clinic_id}/invoices/{id}",
            get(routes::invoices::get),
        )
        .route(
            "/clinics/{clinic_id}/cancelled-invoice-numbers",
            get(routes::invoices::cancelled_numbers),
        )
        .route(
            "/groups/{group_id}/catalogue",
            get(routes::catalogue::group_list).post(routes::catalogue::group_create),
        )
        .route(
            "/groups/{group_id}/catalogue/{id}",
            axum::routing::patch(routes::catalogue::group_update),
        )
        .route(
            "/groups/{group_id}/reports/collections",
            get(routes::reports::group_collections),
        )
        .route(
            "/clinics/{clinic_id}/invoice-series",
            post(routes::invoices::allocate_series),
        )
        .route(
            "/clinics/{clinic_id}/clinical-store-key",
            post(routes::clinical_store::key),
        )
        .route(
            "/clinics/{clinic_id}/invoices/{id}/payments",
            post(routes::invoices::add_payment),
        )
        .route(
            "/clinics/{clinic_id}/invoices/{id}/credit-notes",
            post(routes::invoices::add_credit_note),
        )
        .route(
            "/clinics/{clinic_id}/invoices/{id}/cancel",
            post(routes::invoices::cancel),
        )
        .route(
            "/clinics/{clinic_id}/patients/{patient_id}/allergies",
            get(routes::allergies::list),
        )
        .route(
            "/clinics/{clinic_id}/allergies",
            post(routes::allergies::create),
        )
        .route(
            "/clinics/{clinic_id}/catalogue",
            get(routes::catalogue::list).post(routes::catalogue::create),
        )
        .route(
            "/clinics/{clinic_id}/catalogue/{id}",
            axum::routing::patch(routes::catalogue::update),
        )
        .route(
            "/clinics/{clinic_id}/allergies/{id}",
            get(routes::allergies::get).patch(routes::allergies::update),
        )
        .route("/clinics/{clinic_id}/audit", get(routes::audit::list))
        .route(
            "/clinics/{clinic_id}/invitations",
            get(routes::invitations::list_open),
        )
        .route(
            "/clinics/{clinic_id}/invitations/{id}",
            delete(routes::invitations::withdraw),
        )
        .route(
            "/clinics/{clinic_id}/reports/collections",
            get(routes::reports::collections),
        )
        .route(
            "/clinics/{clinic_id}/reports/gstr1",
            get(routes::reports::gstr1),
        )
        .route(
            "/clinics/{clinic_id}/sync/push",
            post(crate::sync::push::push),
        )
        .route(
            "/clinics/{clinic_id}/sync/relay-answers",
            post(crate::sync::relay_answers::relay_answers),
        )
        .route(
            "/clinics/{clinic_id}/sync/pull",
            get(crate::sync::pull::pull),
        )
        .route(
            "/clinics/{clinic_id}/hub/feed",
            get(crate::sync::hub_feed::feed),
        )
        .route(
            "/clinics/{clinic_id}/sync/live",
            get(crate::sync::live::live),
        )
        .route(
            "/clinics/{clinic_id}/conflicts",
            get(crate::sync::conflicts::list),
        )
        .route(
            "/clinics/{clinic_id}/conflicts/{id}/resolve",
            post(crate::sync::conflicts::resolve_handler),
        )
        .method_not_allowed_fallback(method_not_allowed);

    Router::new()
        .nest("/v1", v1)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            hub_writes_only_by_sync,
        ))
        .route("/health", get(|| async { "ok" }))
        .fallback(|| async { crate::http::AppError::not_found() })
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // A bug that panics answers like any internal error (JSON `internal`, logged with
        // its cause), never by dropping the connection; its transaction rolls back.
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                use axum::response::IntoResponse as _;
                crate::http::AppError::Internal(anyhow::anyhow!("a request handler panicked"))
                    .into_response()
            },
        ))
        // Answers are compressed as the client asks (zstd, else gzip; live streams and tiny
        // bodies never), and pushed bodies may come compressed: a clinic on a few Mbit/s
        // line moves a fraction of the JSON. The body limit applies to the decompressed
        // body, so a small compressed bomb is refused like a large plain one. An encoding
        // the server does not know passes through and fails as malformed JSON (400).
        // The fastest level: on pull pages zstd's level 1 is both twice as fast as its
        // default (3) and smaller (bench-wire: 71 against 82 bytes per row).
        .layer(
            CompressionLayer::new()
                .gzip(true)
                .zstd(true)
                .quality(CompressionLevel::Fastest),
        )
        .layer(RequestDecompressionLayer::new().pass_through_unaccepted(true))
        .layer(TraceLayer::new_for_http())
        .with_state(app)
}

/// On a clinic hub (issue 11) a write goes through sync push alone, which checks every
/// signature and queues the change for the group server; sign-in is the other way in. Any
/// other write (a REST create, a role change, an invoice series, a device key) would change
/// the hub's copy and never reach the group server, so it is refused. Reads are served.
async fn hub_writes_only_by_sync(
    axum::extract::State(app): axum::extract::State<App>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let method = request.method();
    let path = request.uri().path();
    let through_sync = method == axum::http::Method::GET
        || method == axum::http::Method::HEAD
        || path.starts_with("/v1/auth/")
        || path.ends_with("/sync/push")
        // A question, not a write: what the group server answered the hub's relay.
        || path.ends_with("/sync/relay-answers");
    if !through_sync {
        let hub = app.is_hub().await;
        match hub {
            Ok(false) => {}
            Ok(true) => {
                return crate::http::AppError::client(
                    vaidya_shared::ErrorCode::Forbidden,
                    "A clinic hub takes changes only through sync; do this with the group server.",
                )
                .into_response()
            }
            Err(e) => return e.into_response(),
        }
    }
    next.run(request).await
}

/// A known address with another method: the same JSON error body as every other answer
/// (axum's own 405 has none).
async fn method_not_allowed() -> crate::http::AppError {
    crate::http::AppError::client(
        vaidya_shared::ErrorCode::MethodNotAllowed,
        "This address does not take that method.",
    )
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi::document())
}

/// Serve until `shutdown` resolves. The listener is bound by the caller (port 0 in tests):
/// a `TcpListener`, or a clinic hub's TLS listener (`hub::lan`).
pub async fn launch<L>(
    settings: Settings,
    listener: L,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()>
where
    L: axum::serve::Listener<Addr = std::net::SocketAddr>,
{
    use axum::serve::ListenerExt;
    let app = App::new(settings)?;
    // Fail at start, not at the first request, when the database is unreachable.
    drop(
        app.pool
            .get()
            .await
            .context("connecting to the database as the app role")?,
    );
    let listener_task = tokio::spawn(crate::sync::live::listen(
        app.settings
            .listen_database
            .clone()
            .unwrap_or_else(|| app.settings.database.clone()),
        app.changes.clone(),
    ));
    tracing::info!(addr = %listener.local_addr()?, "vaidya-server listening");
    let served = axum::serve(
        // `tap_io` gives any listener's peer address to `ConnectInfo`.
        listener.tap_io(|_| ()),
        router(app).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    listener_task.abort();
    Ok(served?)
}

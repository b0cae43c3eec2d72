//! Test harness for Vaidya's cross-crate tests: one private PostgreSQL cluster per test run
//! (temp dir, free loopback port, removed afterwards), a fresh migrated database per test,
//! the real server on port 0, and a world of two clinics with a user of every kind.

pub mod hub;
pub mod pgbouncer;
pub mod proxy;
pub mod realistic;
pub mod webdriver;

use std::sync::Arc;

use anyhow::{Context, Result};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::oneshot;
use uuid::Uuid;
use vaidya_server::admin::Admin;
use vaidya_server::migrate;
use vaidya_server::pg_cluster::PgCluster;
use vaidya_shared::api::Role;

pub const APP_PASSWORD: &str = "test-app-password";
const TEMPLATE: &str = "vaidya_template";

/// The cluster of this test run, with a migrated template database.
pub struct Harness {
    pub cluster: Arc<PgCluster>,
    /// When set, the servers of this harness's tests reach PostgreSQL through this
    /// PgBouncer in transaction mode (see [`Harness::through_pgbouncer`]).
    pub pooler: Option<pgbouncer::PgBouncer>,
}

impl Harness {
    /// Start the cluster and build the template (migrated once, copied per test).
    pub async fn start() -> Result<Arc<Harness>> {
        let cluster = PgCluster::start_temporary()?;
        let admin = migrate::connect(&cluster.superuser_url("postgres")).await?;
        admin
            .batch_execute(&format!("CREATE DATABASE {TEMPLATE}"))
            .await?;
        migrate::migrate(&cluster.superuser_url(TEMPLATE), Some(APP_PASSWORD)).await?;
        Ok(Arc::new(Harness {
            cluster: Arc::new(cluster),
            pooler: None,
        }))
    }

    /// The same cluster, with the servers of the tests run on it behind a PgBouncer in
    /// transaction mode (`Settings::pooled`, LISTEN straight to PostgreSQL).
    pub fn through_pgbouncer(&self) -> Result<Arc<Harness>> {
        let pooler =
            pgbouncer::PgBouncer::start(self.cluster.port, &[(migrate::APP_ROLE, APP_PASSWORD)])?;
        Ok(Arc::new(Harness {
            cluster: self.cluster.clone(),
            pooler: Some(pooler),
        }))
    }

    /// A fresh database for one test, copied from the template and re-migrated (database
    /// grants are not copied by CREATE DATABASE, and a second migrate must be a no-op).
    pub async fn database(&self) -> Result<TestDb> {
        let name = format!("t_{}", Uuid::new_v4().simple());
        let admin = migrate::connect(&self.cluster.superuser_url("postgres")).await?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
            .await?;
        let applied = migrate::migrate(&self.cluster.superuser_url(&name), None).await?;
        assert!(applied.is_empty(), "re-running migrate applied {applied:?}");
        Ok(self.test_db(name))
    }

    /// A fresh database made with an ICU locale (`en-US`: a group server on a cluster that
    /// is not the embedded one's C), migrated from nothing.
    pub async fn database_with_icu_locale(&self, icu_locale: &str) -> Result<TestDb> {
        let name = format!("t_{}", Uuid::new_v4().simple());
        let admin = migrate::connect(&self.cluster.superuser_url("postgres")).await?;
        admin
            .batch_execute(&format!(
                "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'
                 LOCALE_PROVIDER icu ICU_LOCALE '{icu_locale}' LOCALE 'C'"
            ))
            .await?;
        migrate::migrate(&self.cluster.superuser_url(&name), None).await?;
        Ok(self.test_db(name))
    }

    fn test_db(&self, name: String) -> TestDb {
        let app_url = self.cluster.url_for(migrate::APP_ROLE, APP_PASSWORD, &name);
        TestDb {
            admin_url: self.cluster.superuser_url(&name),
            server_url: match &self.pooler {
                Some(pooler) => pooler.url(migrate::APP_ROLE, APP_PASSWORD, &name),
                None => app_url.clone(),
            },
            pooled: self.pooler.is_some(),
            app_url,
            name,
        }
    }
}

/// One test's database: the superuser URL (setup, tampering) and the app role URL.
pub struct TestDb {
    pub name: String,
    pub admin_url: String,
    pub app_url: String,
    /// What the servers of the test connect to: `app_url`, or the same through a pooler.
    pub server_url: String,
    /// `server_url` is a transaction-mode pooler.
    pub pooled: bool,
}

impl TestDb {
    /// A connection as the app role, the one the server uses.
    pub async fn app(&self) -> Result<tokio_postgres::Client> {
        migrate::connect(&self.app_url).await
    }

    /// A superuser connection.
    pub async fn superuser(&self) -> Result<tokio_postgres::Client> {
        migrate::connect(&self.admin_url).await
    }

    /// The settings a server of this test runs with (through the pooler, if any).
    pub fn server_settings(&self, pool_size: usize) -> Result<vaidya_server::Settings> {
        let mut settings = vaidya_server::Settings::from_url(&self.server_url)?;
        settings.pool_size = pool_size;
        if self.pooled {
            settings.pooled = true;
            settings.listen_database = Some(self.app_url.parse()?);
        }
        Ok(settings)
    }
}

/// The real server on a loopback port, stopped when dropped.
pub struct TestServer {
    pub base: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub async fn spawn(db: &TestDb, pool_size: usize) -> Result<TestServer> {
        Self::spawn_with(db.server_settings(pool_size)?).await
    }

    /// The server with settings of the test's choosing.
    pub async fn spawn_with(settings: vaidya_server::Settings) -> Result<TestServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            if let Err(e) = vaidya_server::launch(settings, listener, async move {
                let _ = rx.await;
            })
            .await
            {
                eprintln!("server stopped with error: {e:#}");
            }
        });
        Ok(TestServer {
            base,
            stop: Some(tx),
            task: Some(task),
        })
    }

    /// A client signed in as `person`.
    pub async fn login_as(&self, person: &Person) -> Result<Api> {
        Ok(self
            .client()
            .login(&person.email, &person.password)
            .await?
            .0)
    }

    /// An HTTP client for this server, not signed in.
    pub fn client(&self) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: self.base.clone(),
            token: None,
        }
    }
}

impl TestServer {
    /// Stops the server at once, as a crash would: every request in flight is dropped where
    /// it stands (its transaction is never committed), its connections close.
    pub fn kill(mut self) {
        self.stop.take();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// A clinic's live change stream (`/sync/live`, server-sent events) as a device holds it.
pub struct LiveStream {
    stream: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
}

impl LiveStream {
    /// The text received up to and including the next `changed` event, waiting at most
    /// `within` for each piece.
    pub async fn changed(&mut self, within: std::time::Duration) -> Result<String> {
        use futures::StreamExt;
        let mut seen = String::new();
        while !seen.contains("event: changed") {
            let chunk = tokio::time::timeout(within, self.stream.next())
                .await?
                .ok_or_else(|| anyhow::anyhow!("stream ended"))??;
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        Ok(seen)
    }

    /// Everything received until the server ends the stream (or `within` passes: `Err`).
    pub async fn until_end(&mut self, within: std::time::Duration) -> Result<String> {
        use futures::StreamExt;
        let mut seen = String::new();
        tokio::time::timeout(within, async {
            while let Some(chunk) = self.stream.next().await {
                match chunk {
                    Ok(bytes) => seen.push_str(&String::from_utf8_lossy(&bytes)),
                    Err(_) => break,
                }
            }
        })
        .await?;
        Ok(seen)
    }
}

/// A small JSON client over reqwest.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

impl Api {
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value)> {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, value))
    }

    /// Send a raw body (for malformed input tests).
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<(StatusCode, Value)> {
        // A connection of its own, closed after the answer: the server may close one whose
        // body it refused unread (413), and a pooled client racing to reuse it would fail
        // the next request with "connection closed before message completed".
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .header("content-type", content_type)
            .header("connection", "close")
            .body(body);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// The same client naming itself as device `name` (`x-vaidya-device`) on every request.
    pub fn with_device(&self, name: &str) -> Result<Api> {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(vaidya_shared::DEVICE_HEADER, name.parse()?);
        Ok(Api {
            http: reqwest::Client::builder()
                .default_headers(headers)
                .build()?,
            ..self.clone()
        })
    }

    pub async fn get(&self, path: &str) -> Result<(StatusCode, Value)> {
        self.send(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Result<(StatusCode, Value)> {
        self.send(Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Result<(StatusCode, Value)> {
        self.send(Method::PUT, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Result<(StatusCode, Value)> {
        self.send(Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Result<(StatusCode, Value)> {
        self.send(Method::DELETE, path, None).await
    }

    /// Opens the clinic's live stream: its status, and the stream when it is 200.
    pub async fn live(&self, clinic: Uuid) -> Result<(StatusCode, Option<LiveStream>)> {
        let resp = self
            .http
            .get(format!("{}/v1/clinics/{clinic}/sync/live", self.base))
            .bearer_auth(self.token.clone().unwrap_or_default())
            .send()
            .await?;
        let status = resp.status();
        let stream = (status == StatusCode::OK).then(|| LiveStream {
            stream: Box::pin(resp.bytes_stream()),
        });
        Ok((status, stream))
    }

    /// Sign in; returns a client carrying the access token, and the session body.
    pub async fn login(&self, email: &str, password: &str) -> Result<(Api, Value)> {
        let (status, body) = self
            .post(
                "/v1/auth/login",
                serde_json::json!({"email": email, "password": password}),
            )
            .await?;
        anyhow::ensure!(
            status == StatusCode::OK,
            "login of {email} failed: {status} {body}"
        );
        Ok((self.with_session(&body)?, body))
    }

    /// This client carrying the access token of a session body (sign-in or refresh).
    fn with_session(&self, session: &Value) -> Result<Api> {
        let token = session["access_token"]
            .as_str()
            .context("no access token")?
            .to_string();
        Ok(Api {
            token: Some(token),
            ..self.clone()
        })
    }

    /// As a clinic admin: registers a hub for `clinic` (`POST /v1/clinics/{id}/hubs`), has
    /// `approver` (a doctor of the clinic) approve it, and signs it in the only way a hub
    /// can, with the refresh token the approval hands out once. Returns the hub's client
    /// and the approval's body (`HubApproved`).
    pub async fn register_hub(
        &self,
        clinic: Uuid,
        name: &str,
        approver: &Api,
    ) -> Result<(Api, Value)> {
        let (status, registered) = self
            .post(
                &format!("/v1/clinics/{clinic}/hubs"),
                serde_json::json!({ "name": name }),
            )
            .await?;
        anyhow::ensure!(
            status == StatusCode::CREATED,
            "registering a hub failed: {status} {registered}"
        );
        let hub_id = registered["id"].as_str().context("no hub id")?;
        let (status, approved) = approver
            .post(
                &format!("/v1/clinics/{clinic}/hubs/{hub_id}/approve"),
                Value::Null,
            )
            .await?;
        anyhow::ensure!(
            status == StatusCode::OK,
            "approving the hub failed: {status} {approved}"
        );
        let refresh = approved["refresh_token"]
            .as_str()
            .context("no refresh token")?;
        let anon = Api {
            token: None,
            ..self.clone()
        };
        let (status, session) = anon
            .post(
                "/v1/auth/refresh",
                serde_json::json!({ "refresh_token": refresh }),
            )
            .await?;
        anyhow::ensure!(
            status == StatusCode::OK,
            "the hub's refresh failed: {status} {session}"
        );
        Ok((anon.with_session(&session)?, approved))
    }
}

/// A user of the test world.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: Uuid,
    pub email: String,
    pub password: String,
}

/// A clinic of the test world with one user per role and one revoked member.
#[derive(Debug, Clone)]
pub struct TestClinic {
    pub id: Uuid,
    /// Two-digit GST state code.
    pub state_code: String,
    /// A well-formed GSTIN of that state (check character included).
    pub gstin: String,
    pub name: String,
    pub admin: Person,
    pub doctor: Person,
    pub nurse: Person,
    pub desk: Person,
    /// A doctor whose membership was revoked.
    pub revoked: Person,
    /// The clinic's hub (issue 11): an account without a password, member with role `hub`.
    pub hub: Uuid,
}

impl TestClinic {
    /// The clinic as a device knows it when it bills (its name and address as created).
    pub fn supplier(&self) -> vaidya_shared::api::InvoiceSupplier {
        vaidya_shared::api::InvoiceSupplier {
            name: self.name.clone(),
            address: "Somewhere".to_owned(),
            gstin: Some(self.gstin.clone()),
            state_code: self.state_code.clone(),
        }
    }

    pub fn person(&self, role: Role) -> &Person {
        match role {
            Role::Admin => &self.admin,
            Role::Doctor => &self.doctor,
            Role::Nurse => &self.nurse,
            Role::FrontDesk => &self.desk,
            Role::Hub => panic!("the clinic hub is not a person: use `hub`"),
        }
    }
}

/// Two clinics (A in Maharashtra, B in Karnataka) in two different groups.
pub struct World {
    pub db: TestDb,
    pub a: TestClinic,
    pub b: TestClinic,
}

impl World {
    pub async fn create(h: &Harness) -> Result<World> {
        Self::create_in(h.database().await?).await
    }

    /// Two clinics in a database the test made.
    pub async fn create_in(db: TestDb) -> Result<World> {
        let admin = Admin::connect(&db.admin_url).await?;
        let a = Self::clinic(&admin, "a", "27").await?;
        let b = Self::clinic(&admin, "b", "29").await?;
        Ok(World { db, a, b })
    }

    async fn clinic(admin: &Admin, tag: &str, state: &str) -> Result<TestClinic> {
        let group = admin.create_group(&format!("Group {tag}")).await?;
        let first14 = format!("{state}AAPFA1234C1Z");
        let check = vaidya_shared::gst::gstin_check_char(&first14).expect("a GSTIN's characters");
        let gstin = format!("{first14}{check}");
        let clinic = admin
            .create_clinic(
                group,
                &format!("Clinic {tag}"),
                state,
                Some(&gstin),
                "Somewhere",
            )
            .await?;
        let mut people = Vec::new();
        for role in ["admin", "doctor", "nurse", "desk", "revoked"] {
            let email = format!("{role}.{tag}@test.vaidya.in");
            let password = format!("password-{role}-{tag}");
            let id = admin
                .create_user(&email, &format!("{role} {tag}"), &password)
                .await?;
            let r = match role {
                "admin" => Role::Admin,
                "nurse" => Role::Nurse,
                "desk" => Role::FrontDesk,
                _ => Role::Doctor,
            };
            admin.add_member(clinic, &email, r).await?;
            people.push(Person {
                id,
                email,
                password,
            });
        }
        admin
            .client()
            .execute("UPDATE vaidya.memberships SET revoked_at = now() WHERE clinic_id = $1 AND user_id = $2", &[&clinic, &people[4].id])
            .await?;
        // The clinic's hub, registered by its admin and approved by its doctor through the
        // very functions `routes::hubs` calls (here on the owner's connection, one
        // transaction, each step under its person's identity).
        let c = admin.client();
        c.batch_execute(&format!(
            "BEGIN;
             SELECT vaidya.set_identity('{admin_id}');
             SELECT set_config('test.hub', vaidya.register_hub('{clinic}', 'Hub {tag}', NULL)::text, true);
             SELECT vaidya.set_identity('{doctor_id}');
             SELECT vaidya.approve_hub('{clinic}', current_setting('test.hub')::uuid, '{{doctor}}');",
            admin_id = people[0].id,
            doctor_id = people[1].id
        ))
        .await?;
        let hub: Uuid = c
            .query_one("SELECT current_setting('test.hub')::uuid", &[])
            .await?
            .get(0);
        c.batch_execute("COMMIT").await?;
        let mut it = people.into_iter();
        let mut next = || it.next().expect("five people");
        Ok(TestClinic {
            id: clinic,
            state_code: state.to_owned(),
            gstin,
            name: format!("Clinic {tag}"),
            admin: next(),
            doctor: next(),
            nurse: next(),
            desk: next(),
            revoked: next(),
            hub,
        })
    }
}

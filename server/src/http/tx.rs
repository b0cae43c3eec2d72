//! `RequestTx`: one database transaction per request, carrying the caller's identity.
//!
//! Identity reaches the row-level security policies through `set_config(..., true)` with bind
//! parameters, which lasts only until the transaction ends, so a pooled connection can never
//! carry one caller's identity into another's request. A transaction dropped without commit
//! (an error, a panic, a client that went away) is rolled back before the connection is
//! reused.
//!
//! A transaction that fails transiently (a deadlock victim, a serialization failure, a
//! broken connection: [`AppError::Transient`]) is rolled back; the client gets
//! `503 retry_later` with `Retry-After`, never a 409. A sync push is first run again from
//! the start by the server itself ([`RequestTx::retrying`], up to [`MAX_ATTEMPTS`] times).
//! Nothing of a failed attempt is kept, so a retry can neither apply anything twice nor
//! remember the failure.

use std::time::Duration;

use chrono::{DateTime, Utc};
use std::collections::HashMap;

use deadpool_postgres::Object;
use futures::TryStreamExt;
use rand::Rng;
use tokio_postgres::types::ToSql;
use tokio_postgres::types::Type;
use tokio_postgres::Row;
use uuid::Uuid;
use vaidya_shared::api::{AuditAction, Role};
use vaidya_shared::rules::{self, Action, Resource};
use vaidya_shared::ErrorCode;

use super::{AppError, RequestMeta};
use crate::app::Db;

const AUDIT_SQL: &str = "SELECT vaidya.audit_append($1, $2, $3, $4, $5)";

/// Tries of one request's transaction before a transient failure reaches the client.
pub const MAX_ATTEMPTS: u32 = 3;

pub struct RequestTx {
    conn: Option<Object>,
    /// The user the transaction acts as: the signed-in user (nil before sign-in completes),
    /// or, while a push applies a colleague's signed change, its author (`act_as`).
    user: std::sync::RwLock<Uuid>,
    /// When the act being written happened: set by a push to a device change's bounded
    /// device time (`rules::clock`); unset, it is now.
    acted_at: std::sync::RwLock<Option<DateTime<Utc>>>,
    /// The device change a push is applying now (`None` outside one): what the records it
    /// raises are derived from (`sync::conflicts::record`).
    mutation: std::sync::RwLock<Option<Uuid>>,
    /// Through a transaction-mode pooler (`Db::pooled`): the parameter types of each
    /// statement, learned once per process, with which every statement is sent unnamed
    /// (parse, bind and execute in one round trip; nothing outlives the transaction).
    /// `None`: the connection's own prepared-statement cache is used.
    param_types: Option<ParamTypes>,
}

/// Parameter types per statement text (see [`RequestTx`]'s `param_types`): the same on
/// every backend of the database, so one process-wide map serves all connections.
pub type ParamTypes = std::sync::Arc<std::sync::Mutex<HashMap<String, std::sync::Arc<[Type]>>>>;

impl RequestTx {
    /// Begin a transaction for a signed-in caller: resolve the bearer token to a user and set
    /// the identity. BEGIN and the (prepared) identity statement are pipelined, so this costs
    /// one round trip. An unknown, expired or revoked token gives `unauthenticated`.
    pub async fn begin(pool: &Db, meta: &RequestMeta) -> Result<RequestTx, AppError> {
        let token_hash = meta
            .token_hash
            .clone()
            .ok_or_else(AppError::unauthenticated)?;
        let (mut tx, user) = Self::start(
            pool,
            "SELECT vaidya.set_identity(vaidya.auth_session_user($1)),
                    set_config('app.request_id', $2, true), set_config('app.device', $3, true)",
            &[
                &token_hash,
                &meta.request_id,
                &meta.device.clone().unwrap_or_default(),
            ],
        )
        .await?;
        let user = Uuid::parse_str(&user).map_err(|_| AppError::unauthenticated())?;
        tx.user = std::sync::RwLock::new(user);
        Ok(tx)
    }

    /// Begin a transaction with no user yet (sign-in), with request id and device set.
    pub async fn begin_anonymous(pool: &Db, meta: &RequestMeta) -> Result<RequestTx, AppError> {
        let (tx, _) = Self::start(
            pool,
            "SELECT vaidya.set_identity(NULL), set_config('app.request_id', $1, true),
                    set_config('app.device', $2, true)",
            &[&meta.request_id, &meta.device.clone().unwrap_or_default()],
        )
        .await?;
        Ok(tx)
    }

    /// BEGIN and the identity statement in one round trip; returns the first column.
    async fn start(
        pool: &Db,
        identity_sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<(RequestTx, String), AppError> {
        let conn = pool.get().await?;
        let tx = RequestTx {
            conn: Some(conn),
            user: std::sync::RwLock::new(Uuid::nil()),
            acted_at: std::sync::RwLock::new(None),
            mutation: std::sync::RwLock::new(None),
            param_types: pool.param_types(),
        };
        let client = tx.client();
        let row = if tx.param_types.is_some() {
            // Through a pooler: the statement goes unnamed inside the transaction, on the
            // backend the transaction runs on. BEGIN goes first (the futures send in the
            // order they are first polled); its types are learned before, when unknown.
            let types = tx.types_of(identity_sql, true).await?;
            let typed = with_types(params, &types);
            let (_, row) = tokio::try_join!(
                client.batch_execute("BEGIN"),
                client.query_typed_one(identity_sql, &typed)
            )?;
            row
        } else {
            let stmt = client.prepare_cached(identity_sql).await?;
            let (_, row) = tokio::try_join!(
                client.batch_execute("BEGIN"),
                client.query_one(&stmt, params)
            )?;
            row
        };
        let first: String = row.get(0);
        Ok((tx, first))
    }

    /// The parameter types of `sql` (pooled mode), learned on first use in this process by
    /// preparing it once. `outside`: not yet in a transaction, so the prepare, its execute
    /// and its close run in one of their own (a transaction-mode pooler keeps a transaction
    /// on one backend, never a bare statement sequence).
    async fn types_of(&self, sql: &str, outside: bool) -> Result<std::sync::Arc<[Type]>, AppError> {
        let cache = self.param_types.as_ref().expect("pooled mode");
        if let Some(types) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(sql) {
            return Ok(types.clone());
        }
        let client = self.client();
        if outside {
            client.batch_execute("BEGIN").await?;
        }
        let learned: std::sync::Arc<[Type]> = {
            let stmt = client.prepare(sql).await?;
            stmt.params().into()
            // The statement is closed here, inside the transaction.
        };
        if outside {
            client.batch_execute("COMMIT").await?;
        }
        cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sql.to_owned(), learned.clone());
        Ok(learned)
    }

    /// The statement of `sql` from the connection's cache (not pooled).
    async fn cached(&self, sql: &str) -> Result<tokio_postgres::Statement, AppError> {
        Ok(self.client().prepare_cached(sql).await?)
    }

    /// Set the transaction's user (after the password or token was checked).
    pub async fn set_user(&mut self, user: Uuid) -> Result<(), AppError> {
        self.act_as(user).await
    }

    /// The user the transaction acts as (whose memberships RLS applies).
    pub fn user_id(&self) -> Uuid {
        *self.user.read().unwrap_or_else(|e| e.into_inner())
    }

    /// When the act being written happened (a note's signing, an invoice's issue, a
    /// payment's receipt): the device's time while a push applies a device change, else now.
    pub fn acted_at(&self) -> DateTime<Utc> {
        self.acted_at
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or_else(Utc::now)
    }

    /// Dates the acts written from now on (`None`: now). Set per change by a push.
    pub fn set_acted_at(&self, at: Option<DateTime<Utc>>) {
        *self.acted_at.write().unwrap_or_else(|e| e.into_inner()) = at;
    }

    /// The device change being applied, if any.
    pub fn mutation(&self) -> Option<Uuid> {
        *self.mutation.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Names the device change applied from now on (`None`: none). Set per change by a push.
    pub fn set_mutation(&self, mutation: Option<Uuid>) {
        *self.mutation.write().unwrap_or_else(|e| e.into_inner()) = mutation;
    }

    /// Takes `user` as the acting user without telling the database: only after a rollback
    /// to a savepoint has already restored the database identity to `user`.
    pub fn assume_user(&self, user: Uuid) {
        *self.user.write().unwrap_or_else(|e| e.into_inner()) = user;
    }

    /// Acts as `user` from now on in this transaction: the database identity (RLS, audit
    /// actor) and `user_id()`. A push uses it to apply a colleague's change, proven by its
    /// signature, as its author; it then acts as the pushing user again.
    pub async fn act_as(&self, user: Uuid) -> Result<(), AppError> {
        // The user and, read from memberships in the same call, their clinics for each
        // role set this transaction's policies ask about (migrations 0019, 0036).
        self.execute("SELECT vaidya.set_identity($1)", &[&user])
            .await?;
        *self.user.write().unwrap_or_else(|e| e.into_inner()) = user;
        Ok(())
    }

    /// [`act_as`](Self::act_as), naming in the same statement the device the writes are
    /// made for (`app.device`: invoice series, conflicts, audit rows): a change a clinic hub
    /// relays is written for the PC that made it, and the hub's own name comes back after.
    pub async fn act_as_on(&self, user: Uuid, device: &str) -> Result<(), AppError> {
        let device = vaidya_shared::device_name(device);
        self.execute(
            "SELECT vaidya.set_identity($1), set_config('app.device', $2, true)",
            &[&user, &device],
        )
        .await?;
        *self.user.write().unwrap_or_else(|e| e.into_inner()) = user;
        Ok(())
    }

    // Statements go through the connection's prepared-statement cache: one round trip per
    // query instead of a prepare plus an execute.
    fn client(&self) -> &Object {
        self.conn.as_ref().expect("transaction used after it ended")
    }

    pub async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, AppError> {
        if self.param_types.is_some() {
            let types = self.types_of(sql, false).await?;
            return Ok(self
                .client()
                .query_typed(sql, &with_types(params, &types))
                .await?);
        }
        let stmt = self.cached(sql).await?;
        Ok(self.client().query(&stmt, params).await?)
    }

    /// A query planned afresh with these values each time (an unnamed statement, one more
    /// round trip), for one whose best plan depends on them: a search term that matches half
    /// the clinic wants another plan than one that matches three patients.
    pub async fn query_planned(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, AppError> {
        Ok(self.client().query(sql, params).await?)
    }

    pub async fn query_one(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, AppError> {
        if self.param_types.is_some() {
            let types = self.types_of(sql, false).await?;
            return Ok(self
                .client()
                .query_typed_one(sql, &with_types(params, &types))
                .await?);
        }
        let stmt = self.cached(sql).await?;
        Ok(self.client().query_one(&stmt, params).await?)
    }

    pub async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, AppError> {
        if self.param_types.is_some() {
            let types = self.types_of(sql, false).await?;
            return Ok(self
                .client()
                .query_typed_opt(sql, &with_types(params, &types))
                .await?);
        }
        let stmt = self.cached(sql).await?;
        Ok(self.client().query_opt(&stmt, params).await?)
    }

    pub async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, AppError> {
        if self.param_types.is_some() {
            let types = self.types_of(sql, false).await?;
            let stream = self
                .client()
                .query_typed_raw(sql, with_types(params, &types))
                .await?;
            let mut stream = std::pin::pin!(stream);
            while stream.try_next().await?.is_some() {}
            return Ok(stream.rows_affected().unwrap_or(0));
        }
        let stmt = self.cached(sql).await?;
        Ok(self.client().execute(&stmt, params).await?)
    }

    /// Prepare a statement into the connection's cache (no round trip when it is there).
    /// Pipelined statements whose order matters are prepared first: then each is sent when
    /// its future is first polled.
    pub async fn prepare(&self, sql: &str) -> Result<(), AppError> {
        if self.param_types.is_some() {
            self.types_of(sql, false).await?;
        } else {
            self.cached(sql).await?;
        }
        Ok(())
    }

    /// [`prepare`](Self::prepare) the statement of [`audit`](Self::audit).
    pub async fn prepare_audit(&self) -> Result<(), AppError> {
        self.prepare(AUDIT_SQL).await
    }

    /// Run a statement without parameters through the simple protocol (savepoints).
    pub async fn execute_simple(&self, sql: &str) -> Result<(), AppError> {
        Ok(self.client().batch_execute(sql).await?)
    }

    /// The caller's active role in a clinic, read under RLS (only their own memberships and
    /// those of their clinics are visible).
    pub async fn role_in(&self, clinic: Uuid) -> Result<Option<Role>, AppError> {
        let row = self
            .query_opt(
                "SELECT role FROM vaidya.memberships
                 WHERE clinic_id = $1 AND user_id = $2 AND revoked_at IS NULL",
                &[&clinic, &self.user_id()],
            )
            .await?;
        Ok(row.and_then(|r| Role::parse(r.get(0))))
    }

    /// Require a role that the permission table (`shared::rules`) allows for `action` on
    /// `resource` in `clinic`. A refusal is audited as `denied`; a
    /// non-member gets the same 404 as a missing row, a member with the wrong role a 403.
    pub async fn authorize(
        &self,
        clinic: Uuid,
        resource: Resource,
        action: Action,
    ) -> Result<Role, AppError> {
        self.check_role(
            clinic,
            rules::roles_for(resource, action),
            resource.as_str(),
        )
        .await
    }

    /// Refuses a clinic hub's session for what only a person has: device signing keys,
    /// wipe reports, invitations. A hub is an account, not a person (migration 0031), and
    /// writes nothing as itself.
    pub async fn require_person(&self) -> Result<(), AppError> {
        let kind: String = self
            .query_one(
                "SELECT kind FROM vaidya.users WHERE id = $1",
                &[&self.user_id()],
            )
            .await?
            .get(0);
        if kind == "person" {
            Ok(())
        } else {
            Err(AppError::client(
                ErrorCode::Forbidden,
                "A clinic hub has no device keys, wipe reports or invitations of its own.",
            ))
        }
    }

    /// Any active membership of the clinic will do (sync, the clinic's own details); the
    /// records themselves are then filtered by row-level security.
    pub async fn require_member(&self, clinic: Uuid, entity_type: &str) -> Result<Role, AppError> {
        self.check_role(clinic, &Role::ALL, entity_type).await
    }

    pub(crate) async fn check_role(
        &self,
        clinic: Uuid,
        allowed: &[Role],
        entity_type: &str,
    ) -> Result<Role, AppError> {
        match self.role_in(clinic).await? {
            Some(role) if allowed.contains(&role) => Ok(role),
            found => {
                self.audit(clinic, AuditAction::Denied, entity_type, &[], &[])
                    .await?;
                Err(AppError::Denied(if found.is_some() {
                    ErrorCode::Forbidden
                } else {
                    ErrorCode::NotFound
                }))
            }
        }
    }

    /// Append an audit record in this transaction (it commits or rolls back with the work).
    pub async fn audit(
        &self,
        clinic: Uuid,
        action: AuditAction,
        entity_type: &str,
        entity_ids: &[Uuid],
        patient_ids: &[Uuid],
    ) -> Result<(), AppError> {
        let mut patients = patient_ids.to_vec();
        patients.sort();
        patients.dedup();
        self.execute(
            AUDIT_SQL,
            &[
                &clinic,
                &action.as_str(),
                &entity_type,
                &entity_ids,
                &patients,
            ],
        )
        .await?;
        Ok(())
    }

    /// Whether this database is the clinic hub of `clinic` (issue 11; `vaidya.hub_clinic`,
    /// migration 0032): the database says so, not a setting.
    pub async fn is_hub_of(&self, clinic: Uuid) -> Result<bool, AppError> {
        let hub: Option<Uuid> = self
            .query_one("SELECT vaidya.hub_clinic()", &[])
            .await?
            .get(0);
        Ok(hub == Some(clinic))
    }

    /// Tells the clinic's live streams, when this transaction commits, that something of it
    /// changed (as the tables' notify triggers do): each pulls, and each checks again that
    /// its member still is one.
    pub async fn notify_clinic(&self, clinic: Uuid) -> Result<(), AppError> {
        self.execute(
            "SELECT pg_notify('vaidya_changes', $1)",
            &[&clinic.to_string()],
        )
        .await?;
        Ok(())
    }

    pub async fn commit(mut self) -> Result<(), AppError> {
        let conn = self.conn.take().expect("transaction used after it ended");
        conn.batch_execute("COMMIT").await?;
        Ok(())
    }

    /// Roll back now, so the connection is back in the pool when the caller goes on (a
    /// retry on a one-connection pool would otherwise wait for the rollback of `Drop`).
    async fn rollback(mut self) {
        if let Some(conn) = self.conn.take() {
            if conn.batch_execute("ROLLBACK").await.is_err() {
                let _ = Object::take(conn);
            }
        }
    }

    /// Run `work` in this transaction: commit on success (and on an audited denial, so the
    /// record of it is kept), roll back on any other error.
    pub async fn run<T>(
        mut self,
        work: impl AsyncFnOnce(&mut RequestTx) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        match work(&mut self).await {
            Ok(value) => {
                self.commit().await?;
                Ok(value)
            }
            Err(e) if e.keeps_transaction() => {
                self.commit().await?;
                Err(e)
            }
            Err(e) => {
                self.rollback().await;
                Err(e)
            }
        }
    }

    /// Run `attempt` (a whole transaction: begin, [`run`](Self::run)) again while it fails
    /// transiently, at most [`MAX_ATTEMPTS`] times with a short jittered pause; the last
    /// error is returned (a transient one becomes `503 retry_later`).
    ///
    /// Only for work that is safe to repeat even when a lost answer to COMMIT hides that an
    /// attempt did commit: a sync push is (the next attempt finds its stored results).
    pub async fn retrying<T, F>(mut attempt: impl FnMut() -> F) -> Result<T, AppError>
    where
        F: std::future::Future<Output = Result<T, AppError>>,
    {
        let mut tries = 1;
        loop {
            match attempt().await {
                Err(e) if e.is_transient() && tries < MAX_ATTEMPTS => {
                    tracing::info!(tries, error = ?e, "transaction failed transiently; retrying");
                    // A deadlock's other party needs a moment to finish; jitter keeps two
                    // retrying victims from meeting again.
                    let pause = rand::thread_rng().gen_range(10..=40) * u64::from(tries);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                    tries += 1;
                }
                result => return result,
            }
        }
    }
}

/// `params` paired with their types, for an unnamed statement.
fn with_types<'a>(
    params: &[&'a (dyn ToSql + Sync)],
    types: &[Type],
) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
    params.iter().copied().zip(types.iter().cloned()).collect()
}

impl Drop for RequestTx {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Roll back before the connection goes back to the pool. If the runtime is gone
            // the connection is dropped with the task and never reused.
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    if conn.batch_execute("ROLLBACK").await.is_err() {
                        let _ = Object::take(conn);
                    }
                });
            } else {
                let _ = Object::take(conn);
            }
        }
    }
}

//! The ways of binding a connection to a territory that are compared, each
//! serving a request on a plain diesel-async connection.

use careservice::tenancy::connection::set_config;
use diesel_async::{AsyncConnection, AsyncPgConnection, CacheSize, RunQueryDsl, SimpleAsyncConnection};
use futures::FutureExt;
use scoped_futures::ScopedFutureExt;

use crate::generated::Generated;

use crate::workload::{Fixture, Request, Statements, Workload, serve};

/// A binding strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// A: session `set_config(.., false)` when the binding differs (today).
    Session,
    /// B: `BEGIN`, transaction-local `set_config(.., true)`, the queries, `COMMIT`.
    Transaction,
    /// B': B with the `set_config` pipelined with the first query.
    Pipelined,
    /// C: schema-qualified SQL under an empty search_path; only the role is
    /// set, transaction-locally, pipelined with the first query.
    Qualified,
    /// C': C with the prepared statement cache off (PgBouncer 1.18 in
    /// transaction mode).
    QualifiedUncached,
    /// D: A, on the connection the territory hashes to.
    Affinity,
    /// E: A, with statements whose text names the territory, so that the
    /// statement cache holds one per territory.
    Keyed,
    /// F: B' with E's statements.
    KeyedPipelined,
    /// G: B' with `BEGIN` sent with the binding and the first query, and
    /// `COMMIT` with the last: one round trip for a one-statement request.
    OneTrip,
}

impl Strategy {
    /// Every strategy, in the order they are measured.
    pub const ALL: [Self; 9] = [
        Self::Session,
        Self::Transaction,
        Self::Pipelined,
        Self::Qualified,
        Self::QualifiedUncached,
        Self::Affinity,
        Self::Keyed,
        Self::KeyedPipelined,
        Self::OneTrip,
    ];

    /// Its letter.
    pub fn code(self) -> &'static str {
        match self {
            Self::Session => "A",
            Self::Transaction => "B",
            Self::Pipelined => "B'",
            Self::Qualified => "C",
            Self::QualifiedUncached => "C'",
            Self::Affinity => "D",
            Self::Keyed => "E",
            Self::KeyedPipelined => "F",
            Self::OneTrip => "G",
        }
    }

    /// What it does, in a few words.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Session => "session binding when it differs (today)",
            Self::Transaction => "BEGIN; set_config(.., true); queries; COMMIT",
            Self::Pipelined => "B, set_config pipelined with the first query",
            Self::Qualified => "schema-qualified SQL, empty search_path, role set in the transaction",
            Self::QualifiedUncached => "C with the prepared statement cache disabled",
            Self::Affinity => "A, each territory on the connection its name hashes to",
            Self::Keyed => "A, with the territory in each statement's cache key",
            Self::KeyedPipelined => "B', with the territory in each statement's cache key",
            Self::OneTrip => "B', with BEGIN and COMMIT in the same round trips",
        }
    }

    /// Its `application_name`, by which its backends are found.
    pub fn application_name(self, phase: &str) -> String {
        format!("binding_{}_{phase}", self.code().replace('\'', "x").to_lowercase())
    }
}

/// A connection and the territory its session is bound to (A and D).
pub struct Session {
    conn: AsyncPgConnection,
    bound_to: Option<usize>,
}

impl Session {
    /// A connection to `url` (the application's login role) set up for `strategy`.
    pub async fn open(strategy: Strategy, url: &str) -> anyhow::Result<Self> {
        let mut conn = AsyncPgConnection::establish(url).await?;
        if matches!(strategy, Strategy::Qualified | Strategy::QualifiedUncached) {
            // Nothing unqualified can resolve to a tenant table.
            diesel::select(set_config("search_path", "", false)).execute(&mut conn).await?;
        }
        if strategy == Strategy::QualifiedUncached {
            conn.set_prepared_statement_cache_size(CacheSize::Disabled);
        }
        Ok(Self { conn, bound_to: None })
    }

    /// Serves `workload` for the territory `index` under `strategy`.
    pub async fn serve(
        &mut self,
        strategy: Strategy,
        index: usize,
        fixture: &Fixture,
        unqualified: &Statements,
        workload: Workload,
        day: chrono::NaiveDate,
    ) -> anyhow::Result<()> {
        let plain = Request { fixture, statements: unqualified, dsl: true, day };
        let qualified = Request { fixture, statements: &fixture.qualified, dsl: false, day };
        let keyed = Request { fixture, statements: &fixture.keyed, dsl: false, day };
        let (path, role) = (fixture.search_path.as_str(), fixture.role.as_str());
        match strategy {
            Strategy::Session | Strategy::Affinity | Strategy::Keyed => {
                if self.bound_to != Some(index) {
                    // As the application does: unknown until the statement succeeds.
                    self.bound_to = None;
                    diesel::select((set_config("search_path", path, false), set_config("role", role, false)))
                        .execute(&mut self.conn)
                        .await?;
                    self.bound_to = Some(index);
                }
                let request = if strategy == Strategy::Keyed { &keyed } else { &plain };
                serve(&mut self.conn, request, workload, None, None).await
            }
            Strategy::Transaction => {
                self.conn
                    .transaction::<_, anyhow::Error, _>(|conn| {
                        async move {
                            diesel::select((set_config("search_path", path, true), set_config("role", role, true)))
                                .execute(conn)
                                .await?;
                            serve(conn, &plain, workload, None, None).await
                        }
                        .scope_boxed()
                    })
                    .await
            }
            Strategy::Pipelined | Strategy::KeyedPipelined => {
                let request = if strategy == Strategy::KeyedPipelined { &keyed } else { &plain };
                self.conn
                    .transaction::<_, anyhow::Error, _>(|conn| {
                        async move {
                            let ahead =
                                diesel::select((set_config("search_path", path, true), set_config("role", role, true)))
                                    .execute(conn);
                            serve(conn, request, workload, Some(ahead), None).await
                        }
                        .scope_boxed()
                    })
                    .await
            }
            Strategy::OneTrip => {
                // Outside diesel's transaction manager, which awaits BEGIN on
                // its own: BEGIN and COMMIT are cached statements here, sent
                // with the request's first and last queries.
                let conn = &mut self.conn;
                let begin = Generated::new("BEGIN", Vec::new())?.execute(conn);
                let bind = diesel::select((set_config("search_path", path, true), set_config("role", role, true)))
                    .execute(conn);
                let ahead = async move { futures::try_join!(begin, bind).map(|(_, bound)| bound) }.boxed();
                let commit = Generated::new("COMMIT", Vec::new())?.execute(conn);
                let served = serve(conn, &plain, workload, Some(ahead), Some(commit)).await;
                if served.is_err() {
                    // A failure before COMMIT was sent leaves the transaction open.
                    conn.batch_execute("ROLLBACK").await?;
                }
                served
            }
            Strategy::Qualified | Strategy::QualifiedUncached => {
                self.conn
                    .transaction::<_, anyhow::Error, _>(|conn| {
                        async move {
                            let ahead = diesel::select(set_config("role", role, true)).execute(conn);
                            serve(conn, &qualified, workload, Some(ahead), None).await
                        }
                        .scope_boxed()
                    })
                    .await
            }
        }
    }
}

//! The two requests every strategy serves, with the SQL the application runs
//! for them, and the check of every answer.
//!
//! (a) `GET /api/v1/settings`: the settings row, read with the application's
//! own diesel query (`catalog/settings.rs`). (b) The slot search's reads
//! (`scheduling/routes.rs` `prepare_search`): the effective catalog
//! (`catalog/effective.rs`), the booking horizon, the candidate pros and
//! their rules, exceptions and busy time (`scheduling/store.rs`). The
//! statements are those, written with a schema qualifier so that strategy C
//! can name the territory's schema; unqualified, the text is the
//! application's. They are prepared and cached by text here, as diesel's DSL
//! would cache them (today's `sql_query` prepares them anew each time).

use careservice::catalog::effective::EffectiveService;
use careservice::catalog::settings::Settings;
use careservice::schema::tenant::settings;
use careservice::tenancy::sql::quote_ident;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{
    Array, BigInt, Date, Integer, Nullable, Numeric, SmallInt, Text, Time, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures::FutureExt;
use futures::future::BoxFuture;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::generated::{Generated, bind};

/// The service every territory's pros offer (in HQ's seeded catalog).
pub const SERVICE: &str = "personal-care";

/// Which request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Workload {
    /// One primary-key read of `settings`.
    Settings,
    /// The slot search's six reads over seven tables.
    Slots,
}

impl Workload {
    /// Both, in the order they are measured.
    pub const ALL: [Self; 2] = [Self::Settings, Self::Slots];

    /// Its name in the output.
    pub fn label(self) -> &'static str {
        match self {
            Self::Settings => "settings read",
            Self::Slots => "slot search",
        }
    }
}

/// The statements of both requests, for one schema qualifier.
pub struct Statements {
    settings: String,
    catalog: String,
    horizon: String,
    candidates: String,
    rules: String,
    exceptions: String,
    busy: String,
}

impl Statements {
    /// The statements with `qualifier` (`"t_x".` or nothing) before every
    /// tenant table, each opening with `mark` (a comment naming the territory
    /// puts it in the statement cache's key, or nothing).
    pub fn new(mark: &str, qualifier: &str) -> anyhow::Result<Self> {
        let q = qualifier;
        // The settings read is the application's diesel query, qualified.
        let query = settings::table.select(Settings::as_select()).limit(1);
        let dsl = diesel::debug_query::<Pg, _>(&query).to_string();
        let dsl = dsl.split(" -- binds:").next().unwrap_or_default();
        anyhow::ensure!(dsl.contains(r#"FROM "settings""#), "unexpected settings query {dsl:?}");
        let effective = careservice::catalog::effective::EFFECTIVE_SQL;
        anyhow::ensure!(
            effective.contains("CROSS JOIN settings st") && effective.contains("LEFT JOIN service_overrides o"),
            "the effective catalog query no longer names its tenant tables as expected"
        );
        let statements = Self {
            settings: dsl.replace(r#"FROM "settings""#, &format!(r#"FROM {q}"settings""#)),
            // The application's own query, with the territory's tables qualified.
            catalog: effective
                .replace("CROSS JOIN settings st", &format!("CROSS JOIN {q}settings st"))
                .replace("LEFT JOIN service_overrides o", &format!("LEFT JOIN {q}service_overrides o")),
            horizon: format!(r#"SELECT "settings"."booking_horizon_days" FROM {q}"settings" LIMIT $1"#),
            candidates: format!(
                "SELECT p.id, p.buffer_minutes FROM {q}pros p JOIN {q}pro_offerings o ON o.pro_id = p.id
          WHERE p.status = 'active' AND o.service_code = $1
            AND ($2::text IS NULL OR cardinality(p.postcodes) = 0 OR $2 = ANY (p.postcodes))
            AND ($3::uuid IS NULL OR p.id = $3)
          ORDER BY p.id"
            ),
            rules: format!("SELECT pro_id, weekday, starts, ends FROM {q}availability_rules WHERE pro_id = ANY ($1)"),
            exceptions: format!(
                "SELECT pro_id, day, kind, starts, ends FROM {q}availability_exceptions
          WHERE pro_id = ANY ($1) AND day BETWEEN ($2::timestamptz - interval '2 days')::date
                                            AND ($3::timestamptz + interval '2 days')::date"
            ),
            busy: format!(
                "SELECT pro_id, lower(blocked) AS starts, upper(blocked) AS ends FROM {q}bookings
          WHERE pro_id = ANY ($1) AND status IN ('held', 'awaiting_pro', 'confirmed')
            AND blocked && tstzrange($2, $3)"
            ),
        };
        Ok(statements.marked(mark))
    }

    fn marked(self, mark: &str) -> Self {
        let mark = |sql: String| format!("{mark}{sql}");
        Self {
            settings: mark(self.settings),
            catalog: mark(self.catalog),
            horizon: mark(self.horizon),
            candidates: mark(self.candidates),
            rules: mark(self.rules),
            exceptions: mark(self.exceptions),
            busy: mark(self.busy),
        }
    }
}

/// An onboarded territory and what its answers must hold.
pub struct Fixture {
    /// Also its settings' `portal_display_name`, so that an answer from the
    /// wrong schema is caught.
    pub slug: String,
    pub role: String,
    /// The search_path the application binds: its schema, then hq.
    pub search_path: String,
    /// Its statements, qualified with its schema (C).
    pub qualified: Statements,
    /// The application's statements, marked with its name (E).
    pub keyed: Statements,
    /// Its active pros (1 to 3), each with 6 rules, 1 exception, 2 bookings.
    pub pros: usize,
    /// Its settings' `booking_horizon_days`.
    pub horizon: i32,
    /// Which of the connections affinity sends it to.
    pub connection: usize,
}

/// The set-up a territory's fixture is made with (run by the superuser):
/// a distinct settings row and its pros' calendars around `day`.
pub fn seed_sql(schema: &str, slug: &str, pros: usize, horizon: i32, day: NaiveDate) -> String {
    let s = quote_ident(schema);
    format!(
        "UPDATE {s}.settings SET portal_display_name = '{slug}', booking_horizon_days = {horizon};
         INSERT INTO {s}.pros (account_id, display_name, status)
           SELECT gen_random_uuid(), 'Pro ' || i, 'active' FROM generate_series(1, {pros}) i;
         INSERT INTO {s}.pro_offerings (pro_id, service_code) SELECT id, '{SERVICE}' FROM {s}.pros;
         INSERT INTO {s}.availability_rules (pro_id, weekday, starts, ends)
           SELECT p.id, d, time '08:00', time '18:00' FROM {s}.pros p, generate_series(1, 6) d;
         INSERT INTO {s}.availability_exceptions (pro_id, day, kind) SELECT id, date '{day}', 'off' FROM {s}.pros;
         INSERT INTO {s}.bookings (customer_account_id, pro_id, service_code, starts_at, ends_at, buffer_minutes,
                                   blocked, status, price, vat_rate, cancellation_free_hours,
                                   cancellation_fee_percent, postcode, address)
           SELECT gen_random_uuid(), p.id, '{SERVICE}', t, t + interval '1 hour', 15,
                  tstzrange(t, t + interval '75 minutes'), 'confirmed', 58, 0.21, 24, 50, '1011AB', 'Damrak 1'
             FROM {s}.pros p, (VALUES (timestamptz '{day} 10:00+00'), (timestamptz '{day} 14:00+00')) v (t);"
    )
}

/// A statement sent in the same round trip as the request's first query
/// (ahead of it: the binding of B', C, F, G) or its last (behind it: G's
/// COMMIT).
pub type Ahead<'a> = Option<BoxFuture<'a, QueryResult<usize>>>;

/// What one request reads with.
pub struct Request<'a> {
    pub fixture: &'a Fixture,
    /// The statements to run: the fixture's own, or the shared unqualified
    /// ones.
    pub statements: &'a Statements,
    /// Whether the settings read is the application's diesel query itself
    /// (unqualified only).
    pub dsl: bool,
    /// The searched day.
    pub day: NaiveDate,
}

/// Serves `workload` for `request`, with `ahead` pipelined before its first
/// query and `behind` after its last, and checks the answer. Boxed, so that
/// the compiler proves it `Send` here rather than inside a transaction's
/// higher-ranked closure.
pub fn serve<'a>(
    conn: &'a mut AsyncPgConnection,
    request: &'a Request<'a>,
    workload: Workload,
    ahead: Ahead<'a>,
    behind: Ahead<'a>,
) -> BoxFuture<'a, anyhow::Result<()>> {
    match workload {
        Workload::Settings => read_settings(conn, request, ahead, behind).boxed(),
        Workload::Slots => search_slots(conn, request, ahead, behind).boxed(),
    }
}

/// `query` between `ahead` and `behind`, all sent before any answer is
/// awaited (futures are polled, and so sent, in this order). The query comes
/// boxed: rustc cannot prove a diesel-async load future `Send` once it is
/// passed through a generic parameter.
async fn joined<'a, T>(ahead: Ahead<'a>, query: BoxFuture<'a, QueryResult<T>>, behind: Ahead<'a>) -> QueryResult<T> {
    let optional = |statement: Ahead<'a>| async move {
        match statement {
            Some(statement) => statement.await.map(|_| ()),
            None => Ok(()),
        }
    };
    futures::try_join!(optional(ahead), query, optional(behind)).map(|(_, answer, _)| answer)
}

#[derive(QueryableByName)]
struct SettingsByName {
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Nullable<Text>)]
    portal_display_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    portal_primary_color: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    portal_secondary_color: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    portal_logo_url: Option<String>,
    #[diesel(sql_type = Integer)]
    cancellation_free_hours: i32,
    #[diesel(sql_type = Numeric)]
    cancellation_fee_percent: Decimal,
    #[diesel(sql_type = Integer)]
    min_notice_minutes: i32,
    #[diesel(sql_type = Integer)]
    booking_horizon_days: i32,
}

async fn read_settings(
    conn: &mut AsyncPgConnection,
    request: &Request<'_>,
    ahead: Ahead<'_>,
    behind: Ahead<'_>,
) -> anyhow::Result<()> {
    let fixture = request.fixture;
    let (name, horizon) = if request.dsl {
        let row: Settings =
            joined(ahead, settings::table.select(Settings::as_select()).first(conn).boxed(), behind).await?;
        (row.portal_display_name, row.booking_horizon_days)
    } else {
        let query = Generated::new(&request.statements.settings, vec![bind::<BigInt, _>(1_i64)])?;
        let mut rows: Vec<SettingsByName> = joined(ahead, query.load(conn).boxed(), behind).await?;
        let row = rows.pop().ok_or_else(|| anyhow::anyhow!("no settings row"))?;
        // Everything but the two seeded columns still holds its default.
        anyhow::ensure!(
            row.currency == "EUR"
                && row.portal_primary_color.is_none()
                && row.portal_secondary_color.is_none()
                && row.portal_logo_url.is_none()
                && row.cancellation_free_hours == 24
                && row.cancellation_fee_percent == Decimal::from(50)
                && row.min_notice_minutes == 120,
            "settings row of {:?} is not the seeded one",
            fixture.slug
        );
        (row.portal_display_name, row.booking_horizon_days)
    };
    anyhow::ensure!(
        name.as_deref() == Some(fixture.slug.as_str()) && horizon == fixture.horizon,
        "settings of {:?} answered {name:?}/{horizon}",
        fixture.slug
    );
    Ok(())
}

#[derive(QueryableByName)]
struct Horizon {
    #[diesel(sql_type = Integer)]
    booking_horizon_days: i32,
}

#[derive(QueryableByName)]
struct Candidate {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Integer)]
    buffer_minutes: i32,
}

#[derive(QueryableByName)]
struct Rule {
    #[diesel(sql_type = SqlUuid)]
    pro_id: Uuid,
    #[diesel(sql_type = SmallInt)]
    weekday: i16,
    #[diesel(sql_type = Time)]
    starts: NaiveTime,
    #[diesel(sql_type = Time)]
    ends: NaiveTime,
}

#[derive(QueryableByName)]
struct Exception {
    #[diesel(sql_type = SqlUuid)]
    pro_id: Uuid,
    #[diesel(sql_type = Date)]
    day: NaiveDate,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Nullable<Time>)]
    starts: Option<NaiveTime>,
    #[diesel(sql_type = Nullable<Time>)]
    ends: Option<NaiveTime>,
}

#[derive(QueryableByName)]
struct Busy {
    #[diesel(sql_type = SqlUuid)]
    pro_id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    starts: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    ends: DateTime<Utc>,
}

async fn search_slots(
    conn: &mut AsyncPgConnection,
    request: &Request<'_>,
    ahead: Ahead<'_>,
    behind: Ahead<'_>,
) -> anyhow::Result<()> {
    let (fixture, sql, day) = (request.fixture, request.statements, request.day);
    let catalog = Generated::new(&sql.catalog, vec![bind::<Date, _>(day)])?;
    let catalog: Vec<EffectiveService> = joined(ahead, catalog.load(conn).boxed(), None).await?;
    anyhow::ensure!(catalog.iter().any(|service| service.code == SERVICE), "{SERVICE} missing from the catalog");
    let horizon: Vec<Horizon> = Generated::new(&sql.horizon, vec![bind::<BigInt, _>(1_i64)])?.load(conn).await?;
    let no_area: Option<&str> = None;
    let no_pro: Option<Uuid> = None;
    let candidates: Vec<Candidate> = Generated::new(
        &sql.candidates,
        vec![bind::<Text, _>(SERVICE), bind::<Nullable<Text>, _>(no_area), bind::<Nullable<SqlUuid>, _>(no_pro)],
    )?
    .load(conn)
    .await?;
    let ids: Vec<Uuid> = candidates.iter().map(|c| c.id).collect();
    let from = day.and_time(NaiveTime::MIN).and_utc() - chrono::Duration::days(1);
    let to = day.and_time(NaiveTime::MIN).and_utc() + chrono::Duration::days(2);
    let rules: Vec<Rule> = Generated::new(&sql.rules, vec![bind::<Array<SqlUuid>, _>(&ids[..])])?.load(conn).await?;
    let window = || vec![bind::<Array<SqlUuid>, _>(&ids[..]), bind::<Timestamptz, _>(from), bind::<Timestamptz, _>(to)];
    let exceptions: Vec<Exception> = Generated::new(&sql.exceptions, window())?.load(conn).await?;
    let busy = Generated::new(&sql.busy, window())?;
    let busy: Vec<Busy> = joined(None, busy.load(conn).boxed(), behind).await?;
    let pros = fixture.pros;
    anyhow::ensure!(
        horizon.iter().map(|h| h.booking_horizon_days).eq([fixture.horizon])
            && candidates.len() == pros
            && candidates.iter().all(|c| c.buffer_minutes == 15)
            && rules.len() == 6 * pros
            && rules.iter().all(|r| (1..=6).contains(&r.weekday) && r.starts < r.ends && ids.contains(&r.pro_id))
            && exceptions.len() == pros
            && exceptions.iter().all(|e| e.day == day && e.kind == "off" && e.starts.is_none() && e.ends.is_none())
            && exceptions.iter().all(|e| ids.contains(&e.pro_id))
            && busy.len() == 2 * pros
            && busy.iter().all(|b| b.starts < b.ends && ids.contains(&b.pro_id)),
        "slot search of {:?} answered {} pros, {} rules, {} exceptions, {} busy",
        fixture.slug,
        candidates.len(),
        rules.len(),
        exceptions.len(),
        busy.len()
    );
    Ok(())
}

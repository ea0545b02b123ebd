//! Loading a pro's calendar (weekly hours, exceptions, busy time) from the
//! territory's schema.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use diesel::sql_types::{Array, Date, Integer, Nullable, SmallInt, Text, Time, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::slots::{DateException, ProCalendar, WeeklyHours};

#[derive(diesel::QueryableByName)]
struct RuleRow {
    #[diesel(sql_type = SqlUuid)]
    pro_id: Uuid,
    #[diesel(sql_type = SmallInt)]
    weekday: i16,
    #[diesel(sql_type = Time)]
    starts: NaiveTime,
    #[diesel(sql_type = Time)]
    ends: NaiveTime,
}

#[derive(diesel::QueryableByName)]
struct ExceptionRow {
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

#[derive(diesel::QueryableByName)]
struct BusyRow {
    #[diesel(sql_type = SqlUuid)]
    pro_id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    starts: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    ends: DateTime<Utc>,
}

#[derive(diesel::QueryableByName)]
struct CandidateRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Integer)]
    buffer_minutes: i32,
}

/// Active pros offering `service`, serving `postcode` (its four digits) if
/// given, only `pro` if given; with their buffers.
pub async fn candidate_pros(
    conn: &mut AsyncPgConnection,
    service: &str,
    postcode: Option<&str>,
    pro: Option<Uuid>,
) -> diesel::QueryResult<Vec<(Uuid, i32)>> {
    let area = postcode.map(|p| p.chars().filter(char::is_ascii_digit).take(4).collect::<String>());
    let rows: Vec<CandidateRow> = diesel::sql_query(
        "SELECT p.id, p.buffer_minutes FROM pros p JOIN pro_offerings o ON o.pro_id = p.id
          WHERE p.status = 'active' AND o.service_code = $1
            AND ($2::text IS NULL OR cardinality(p.postcodes) = 0 OR $2 = ANY (p.postcodes))
            AND ($3::uuid IS NULL OR p.id = $3)
          ORDER BY p.id",
    )
    .bind::<Text, _>(service)
    .bind::<Nullable<Text>, _>(area)
    .bind::<Nullable<SqlUuid>, _>(pro)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|row| (row.id, row.buffer_minutes)).collect())
}

/// The calendars of `pros` over [from, to) with the busy time of their
/// blocking bookings.
pub async fn calendars(
    conn: &mut AsyncPgConnection,
    pros: &[(Uuid, i32)],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> diesel::QueryResult<Vec<(Uuid, ProCalendar)>> {
    let ids: Vec<Uuid> = pros.iter().map(|(id, _)| *id).collect();
    let rules: Vec<RuleRow> =
        diesel::sql_query("SELECT pro_id, weekday, starts, ends FROM availability_rules WHERE pro_id = ANY ($1)")
            .bind::<Array<SqlUuid>, _>(&ids)
            .load(conn)
            .await?;
    let exceptions: Vec<ExceptionRow> = diesel::sql_query(
        "SELECT pro_id, day, kind, starts, ends FROM availability_exceptions
          WHERE pro_id = ANY ($1) AND day BETWEEN ($2::timestamptz - interval '2 days')::date
                                            AND ($3::timestamptz + interval '2 days')::date",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(to)
    .load(conn)
    .await?;
    let busy: Vec<BusyRow> = diesel::sql_query(
        "SELECT pro_id, lower(blocked) AS starts, upper(blocked) AS ends FROM bookings
          WHERE pro_id = ANY ($1) AND status IN ('held', 'awaiting_pro', 'confirmed')
            AND blocked && tstzrange($2, $3)",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(to)
    .load(conn)
    .await?;
    Ok(pros
        .iter()
        .map(|&(id, buffer)| {
            let calendar = ProCalendar {
                weekly: rules
                    .iter()
                    .filter(|r| r.pro_id == id)
                    .map(|r| WeeklyHours {
                        weekday: u32::try_from(r.weekday).unwrap_or(0),
                        starts: r.starts,
                        ends: r.ends,
                    })
                    .collect(),
                exceptions: exceptions
                    .iter()
                    .filter(|e| e.pro_id == id)
                    .filter_map(|e| match e.kind.as_str() {
                        "off" => Some(DateException::Off { date: e.day, starts: e.starts, ends: e.ends }),
                        _ => Some(DateException::Extra { date: e.day, starts: e.starts?, ends: e.ends? }),
                    })
                    .collect(),
                buffer_minutes: i64::from(buffer),
                busy: busy.iter().filter(|b| b.pro_id == id).map(|b| (b.starts, b.ends)).collect(),
            };
            (id, calendar)
        })
        .collect())
}

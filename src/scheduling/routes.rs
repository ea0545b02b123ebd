//! Availability (set by the pro or its franchisee) and the slot search.

use std::collections::{BTreeMap, HashMap};

use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Integer;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use scoped_futures::ScopedFutureExt;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::slots::{ProCalendar, SlotRequest, free_starts};
use super::store;
use crate::catalog::effective::{EffectiveService, effective_catalog};
use crate::catalog::prices::{customer_price, pro_prices};
use crate::catalog::pros::own_pro;
use crate::catalog::routes::local_date;
use crate::clock::SharedClock;
use crate::http::ApiError;
use crate::http::problem::Problem;
use crate::identity::{TerritoryFranchisee, TerritoryMember};
use crate::money::Money;
use crate::tenancy::{CurrentTerritory, Territory};

/// Registers the scheduling routes (under `/api/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(slots).service(own_availability).service(pro_availability).service(own_exception);
}

/// Weekly hours on one weekday, in the territory's time zone.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct WeeklyInput {
    /// 1 (Monday) to 7 (Sunday).
    #[schema(minimum = 1, maximum = 7)]
    weekday: u32,
    #[schema(value_type = String, format = "partial-time", example = "09:00:00")]
    #[serde(deserialize_with = "crate::http::dates::time")]
    starts: NaiveTime,
    #[schema(value_type = String, format = "partial-time", example = "17:00:00")]
    #[serde(deserialize_with = "crate::http::dates::time")]
    ends: NaiveTime,
}

/// A pro's weekly hours (replacing the earlier ones) and travel buffer.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"buffer_minutes": 15, "weekly": [{"weekday": 1, "starts": "09:00:00", "ends": "17:00:00"}]}))]
struct AvailabilityInput {
    /// 0 to 240 minutes between appointments.
    buffer_minutes: Option<i32>,
    /// At most 50 intervals.
    weekly: Vec<WeeklyInput>,
}

impl AvailabilityInput {
    fn validate(&self) -> Result<(), String> {
        if self.weekly.len() > 50 {
            return Err("at most 50 weekly intervals".into());
        }
        if self.weekly.iter().any(|w| !(1..=7).contains(&w.weekday) || w.starts >= w.ends) {
            return Err("each interval has a weekday 1 (Monday) to 7 and starts before it ends".into());
        }
        if self.buffer_minutes.is_some_and(|b| !(0..=240).contains(&b)) {
            return Err("buffer_minutes is 0 to 240".into());
        }
        Ok(())
    }
}

async fn replace_availability(
    conn: &mut AsyncPgConnection,
    pro_id: Uuid,
    input: &AvailabilityInput,
) -> Result<(), ApiError> {
    input.validate().map_err(|e| ApiError::unprocessable("invalid-availability", e))?;
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        async move {
            diesel::sql_query("DELETE FROM availability_rules WHERE pro_id = $1")
                .bind::<diesel::sql_types::Uuid, _>(pro_id)
                .execute(conn)
                .await?;
            for interval in &input.weekly {
                diesel::sql_query(
                    "INSERT INTO availability_rules (pro_id, weekday, starts, ends) VALUES ($1, $2, $3, $4)",
                )
                .bind::<diesel::sql_types::Uuid, _>(pro_id)
                .bind::<diesel::sql_types::SmallInt, _>(i16::try_from(interval.weekday).unwrap_or(0))
                .bind::<diesel::sql_types::Time, _>(interval.starts)
                .bind::<diesel::sql_types::Time, _>(interval.ends)
                .execute(conn)
                .await?;
            }
            if let Some(buffer) = input.buffer_minutes {
                diesel::sql_query("UPDATE pros SET buffer_minutes = $2 WHERE id = $1")
                    .bind::<diesel::sql_types::Uuid, _>(pro_id)
                    .bind::<Integer, _>(buffer)
                    .execute(conn)
                    .await?;
            }
            Ok(())
        }
        .scope_boxed()
    })
    .await?;
    Ok(())
}

/// A pro sets its weekly hours (replacing them) and travel buffer.
#[utoipa::path(tag = "scheduling", security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 204, description = "Set"),
    (status = 409, description = "no-profile", body = Problem),
    (status = 422, description = "invalid-availability", body = Problem),
))]
#[put("/pro/availability")]
async fn own_availability(
    member: TerritoryMember,
    body: web::Json<AvailabilityInput>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = member.territory.connection().await?;
    let pro_id = own_pro(&member, &mut conn).await?.id;
    replace_availability(&mut conn, pro_id, &body).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The franchisee sets a pro's weekly hours and travel buffer.
#[utoipa::path(tag = "scheduling", security(("bearer" = []), ("session_cookie" = [])), params(("id" = Uuid, Path, description = "The pro's id")), responses(
    (status = 204, description = "Set"),
    (status = 404, description = "unknown-pro", body = Problem),
    (status = 422, description = "invalid-availability", body = Problem),
))]
#[put("/pros/{id}/availability")]
async fn pro_availability(
    franchisee: TerritoryFranchisee,
    path: web::Path<Uuid>,
    body: web::Json<AvailabilityInput>,
) -> Result<HttpResponse, ApiError> {
    use crate::schema::tenant::pros;
    let mut conn = franchisee.territory.connection().await?;
    let exists: i64 = pros::table.filter(pros::id.eq(*path)).count().get_result(&mut *conn).await?;
    if exists == 0 {
        return Err(ApiError::not_found("unknown-pro", "there is no such pro in this territory"));
    }
    replace_availability(&mut conn, *path, &body).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Time off, or extra hours.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
enum ExceptionKind {
    Off,
    Extra,
}

/// An exception to the weekly hours on one day.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"day": "2026-05-04", "kind": "off"}))]
struct ExceptionInput {
    /// From yesterday to 400 days ahead.
    #[serde(deserialize_with = "crate::http::dates::date")]
    day: NaiveDate,
    kind: ExceptionKind,
    /// With `ends`; neither for a whole day off.
    #[schema(value_type = Option<String>, format = "partial-time")]
    #[serde(default, deserialize_with = "crate::http::dates::optional_time")]
    starts: Option<NaiveTime>,
    #[schema(value_type = Option<String>, format = "partial-time")]
    #[serde(default, deserialize_with = "crate::http::dates::optional_time")]
    ends: Option<NaiveTime>,
}

/// A pro adds time off (all day without times) or extra hours on a date.
#[utoipa::path(tag = "scheduling", security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 201, description = "Added"),
    (status = 409, description = "no-profile", body = Problem),
    (status = 422, description = "invalid-exception or too-many-exceptions", body = Problem),
))]
#[post("/pro/availability/exceptions")]
async fn own_exception(member: TerritoryMember, body: web::Json<ExceptionInput>) -> Result<HttpResponse, ApiError> {
    let today = local_date(member.territory.territory());
    if body.day < today - chrono::Duration::days(1) || body.day > today + chrono::Duration::days(400) {
        return Err(ApiError::unprocessable(
            "invalid-exception",
            "the day lies between yesterday and 400 days from now",
        ));
    }
    let times_ok = match (body.starts, body.ends) {
        (Some(s), Some(e)) => s < e,
        (None, None) => matches!(body.kind, ExceptionKind::Off),
        _ => false,
    };
    if !times_ok {
        return Err(ApiError::unprocessable(
            "invalid-exception",
            "give starts before ends (or neither, for a whole day off)",
        ));
    }
    let mut conn = member.territory.connection().await?;
    let pro_id = own_pro(&member, &mut conn).await?.id;
    // A handful a day is plenty; thousands would slow every slot search.
    let existing: i64 =
        diesel::sql_query("SELECT count(*) AS n FROM availability_exceptions WHERE pro_id = $1 AND day = $2")
            .bind::<diesel::sql_types::Uuid, _>(pro_id)
            .bind::<diesel::sql_types::Date, _>(body.day)
            .get_result::<Count>(&mut *conn)
            .await?
            .n;
    if existing >= 10 {
        return Err(ApiError::unprocessable("too-many-exceptions", "at most 10 exceptions a day"));
    }
    let kind = match body.kind {
        ExceptionKind::Off => "off",
        ExceptionKind::Extra => "extra",
    };
    diesel::sql_query(
        "INSERT INTO availability_exceptions (pro_id, day, kind, starts, ends) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind::<diesel::sql_types::Uuid, _>(pro_id)
    .bind::<diesel::sql_types::Date, _>(body.day)
    .bind::<diesel::sql_types::Text, _>(kind)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Time>, _>(body.starts)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Time>, _>(body.ends)
    .execute(&mut *conn)
    .await?;
    Ok(HttpResponse::Created().finish())
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Everything a slot search or a booking check needs.
pub struct Search {
    pub service: EffectiveService,
    pub request: SlotRequest,
    pub calendars: Vec<(Uuid, ProCalendar)>,
    /// What each candidate pro charges, VAT included, within HQ's bounds.
    pub prices: HashMap<Uuid, Decimal>,
}

impl Search {
    /// What a customer pays `pro` for the service.
    pub fn price_of(&self, pro: Uuid) -> Decimal {
        self.prices.get(&pro).copied().unwrap_or_else(|| customer_price(&self.service, None))
    }
}

/// Loads the service, the notice and horizon, and the candidate pros'
/// calendars for local dates `from..=to`.
#[expect(clippy::too_many_arguments, reason = "the search's parts, all used by the one query set")]
pub async fn prepare_search(
    conn: &mut AsyncPgConnection,
    territory: &Territory,
    service_code: &str,
    from: NaiveDate,
    to: NaiveDate,
    pro: Option<Uuid>,
    postcode: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Search, ApiError> {
    // Price and VAT as they stand on the service's day.
    let service =
        effective_catalog(conn, from).await?.into_iter().find(|service| service.code == service_code).ok_or_else(
            || ApiError::not_found("unknown-service", format!("this territory does not offer {service_code:?}")),
        )?;
    let horizon: i32 = crate::schema::tenant::settings::table
        .select(crate::schema::tenant::settings::booking_horizon_days)
        .first(conn)
        .await?;
    let zone = territory.zone();
    let request = SlotRequest {
        zone,
        from,
        to,
        duration_minutes: i64::from(service.duration_minutes),
        earliest: now + Duration::minutes(i64::from(service.min_notice_minutes)),
        latest: now + Duration::days(i64::from(horizon)),
    };
    let pros = store::candidate_pros(conn, service_code, postcode, pro).await?;
    let window_start = from.and_time(NaiveTime::MIN).and_utc() - Duration::days(1);
    let window_end = to.and_time(NaiveTime::MIN).and_utc() + Duration::days(2);
    let calendars = store::calendars(conn, &pros, window_start, window_end).await?;
    let ids: Vec<Uuid> = pros.iter().map(|(id, _)| *id).collect();
    let prices = pro_prices(conn, &service, &ids).await?;
    Ok(Search { service, request, calendars, prices })
}

/// What to search.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SlotQuery {
    /// The service's code.
    #[param(example = "house-cleaning")]
    service: String,
    /// The first local date.
    #[serde(deserialize_with = "crate::http::dates::date")]
    from: NaiveDate,
    /// The last local date, at most 31 days after `from`.
    #[serde(deserialize_with = "crate::http::dates::date")]
    to: NaiveDate,
    /// Only this pro.
    pro: Option<Uuid>,
    /// Only pros who serve this postcode.
    postcode: Option<String>,
}

/// Free start times (RFC 3339 with the territory's offset) with the pros free
/// at each. Public.
#[utoipa::path(tag = "scheduling", params(SlotQuery), responses(
    (status = 200, body = SlotList),
    (status = 400, description = "invalid-range", body = Problem),
    (status = 404, description = "unknown-service", body = Problem),
))]
#[get("/slots")]
async fn slots(
    current: CurrentTerritory,
    query: web::Query<SlotQuery>,
    clock: web::Data<SharedClock>,
) -> Result<HttpResponse, ApiError> {
    if query.to < query.from || (query.to - query.from).num_days() > 31 {
        return Err(ApiError::bad_request("invalid-range", "to is on or after from, at most 31 days later"));
    }
    let today = local_date(current.territory());
    if query.from < today - chrono::Duration::days(1) || query.to > today + chrono::Duration::days(400) {
        return Err(ApiError::bad_request("invalid-range", "dates lie between yesterday and 400 days from now"));
    }
    let mut conn = current.connection().await?;
    let territory = current.territory();
    let search = prepare_search(
        &mut conn,
        territory,
        &query.service,
        query.from,
        query.to,
        query.pro,
        query.postcode.as_deref(),
        clock.now(),
    )
    .await?;
    let mut by_start: BTreeMap<DateTime<Utc>, Vec<Uuid>> = BTreeMap::new();
    for (pro, calendar) in &search.calendars {
        for start in free_starts(calendar, &search.request) {
            by_start.entry(start).or_default().push(*pro);
        }
    }
    let zone = search.request.zone;
    let slots: Vec<Slot<'_>> =
        by_start.iter().map(|(start, pros)| Slot { start: start.with_timezone(&zone).to_rfc3339(), pros }).collect();
    let prices: BTreeMap<Uuid, Money> =
        by_start.values().flatten().map(|pro| (*pro, Money::euros(search.price_of(*pro)))).collect();
    Ok(HttpResponse::Ok().json(SlotList {
        service: &search.service.code,
        duration_minutes: search.service.duration_minutes,
        slots,
        prices,
    }))
}

/// A free start and the pros free at it.
#[derive(serde::Serialize, ToSchema)]
struct Slot<'a> {
    /// RFC 3339 with the territory's offset.
    #[schema(format = DateTime, example = "2026-05-04T09:00:00+02:00")]
    start: String,
    pros: &'a [Uuid],
}

/// The answer of a slot search.
#[derive(serde::Serialize, ToSchema)]
struct SlotList<'a> {
    service: &'a str,
    duration_minutes: i32,
    slots: Vec<Slot<'a>>,
    /// What each pro listed in a slot charges, VAT included: what a booking
    /// with that pro costs.
    #[schema(value_type = HashMap<String, Money>)]
    prices: BTreeMap<Uuid, Money>,
}

/// The scheduling operations, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(own_availability, pro_availability, own_exception, slots))]
pub struct Doc;

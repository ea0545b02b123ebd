//! A pro's profile and the franchisee's review of its public text. A new
//! pro is not public until the franchisee approves it, so its first name and
//! bio are stored as they are; every later change to them is held as a
//! pending edit: the public keeps seeing the approved text, the pro sees its
//! edit, and the franchisee approves or rejects it by its revision (so an
//! edit made after the franchisee looked is never approved unseen). Public
//! text is only ever served as JSON strings.

use actix_web::{HttpResponse, get, post, put, web};
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use scoped_futures::ScopedFutureExt;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::model::check_text;
use super::pros::{Pro, own_pro, require_pro};
use crate::http::ApiError;
use crate::http::problem::Problem;
use crate::identity::{TerritoryFranchisee, TerritoryMember};
use crate::schema::tenant::pros;

/// Registers the profile routes (under `/api/v1`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(put_profile).service(get_profile).service(review_profile);
}

/// A pro's profile.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"display_name": "Pieter", "bio": "Ten years of window cleaning", "languages": ["nl", "en"], "postcodes": ["1011", "1012"]}))]
struct Profile {
    /// Public once the franchisee approves it.
    display_name: String,
    /// Public once the franchisee approves it.
    #[serde(default)]
    bio: String,
    #[serde(default)]
    languages: Vec<String>,
    #[serde(default)]
    postcodes: Vec<String>,
}

impl Profile {
    fn validate(&self) -> Result<(), String> {
        check_text("display_name", self.display_name.trim(), 1, 200)?;
        check_text("bio", &self.bio, 0, 4000)?;
        let language_ok = |l: &String| (2..=3).contains(&l.len()) && l.chars().all(|c| c.is_ascii_lowercase());
        if self.languages.len() > 10 || !self.languages.iter().all(language_ok) {
            return Err("languages are up to 10 ISO 639 codes such as nl, en".into());
        }
        let postcode_ok = |p: &String| p.len() == 4 && p.chars().all(|c| c.is_ascii_digit()) && !p.starts_with('0');
        if self.postcodes.len() > 500 || !self.postcodes.iter().all(postcode_ok) {
            return Err("postcodes are up to 500 four-digit postcode areas such as 1011".into());
        }
        Ok(())
    }
}

/// What a pro's edit of its public text does to what is stored.
#[derive(Debug, PartialEq, Eq)]
enum TextEdit {
    /// The approved text again: any pending edit is withdrawn.
    Withdraw,
    /// The pending edit again: nothing changes.
    Same,
    /// A new edit, held for review.
    Hold,
}

fn text_edit(pro: &Pro, name: &str, bio: &str) -> TextEdit {
    if pro.display_name == name && pro.bio == bio {
        TextEdit::Withdraw
    } else if pro.pending_display_name.as_deref() == Some(name) && pro.pending_bio.as_deref() == Some(bio) {
        TextEdit::Same
    } else {
        TextEdit::Hold
    }
}

/// Stores a profile: a new pro's text as it is, an approved pro's changed
/// text as a pending edit; languages and postcodes (codes, not free text)
/// at once.
async fn store_profile(conn: &mut AsyncPgConnection, account: Uuid, profile: &Profile) -> QueryResult<Pro> {
    let name = profile.display_name.trim();
    // A first profile goes in as it is; a concurrent first profile of the
    // same account waits here for this one and then edits it.
    let created: Option<Pro> = diesel::insert_into(pros::table)
        .values((
            pros::account_id.eq(account),
            pros::display_name.eq(name),
            pros::bio.eq(&profile.bio),
            pros::languages.eq(&profile.languages),
            pros::postcodes.eq(&profile.postcodes),
        ))
        .on_conflict(pros::account_id)
        .do_nothing()
        .returning(Pro::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    if let Some(pro) = created {
        return Ok(pro);
    }
    let pro: Pro =
        pros::table.filter(pros::account_id.eq(account)).select(Pro::as_select()).for_update().first(conn).await?;
    let now = Utc::now();
    let codes =
        (pros::languages.eq(&profile.languages), pros::postcodes.eq(&profile.postcodes), pros::updated_at.eq(now));
    let target = diesel::update(pros::table.find(pro.id));
    match text_edit(&pro, name, &profile.bio) {
        TextEdit::Withdraw => {
            target
                .set((
                    codes,
                    pros::pending_display_name.eq(None::<String>),
                    pros::pending_bio.eq(None::<String>),
                    pros::pending_since.eq(None::<chrono::DateTime<Utc>>),
                ))
                .returning(Pro::as_returning())
                .get_result(conn)
                .await
        }
        TextEdit::Same => target.set(codes).returning(Pro::as_returning()).get_result(conn).await,
        TextEdit::Hold => {
            target
                .set((
                    codes,
                    pros::pending_display_name.eq(name),
                    pros::pending_bio.eq(&profile.bio),
                    pros::pending_since.eq(now),
                    pros::profile_revision.eq(pros::profile_revision + 1),
                ))
                .returning(Pro::as_returning())
                .get_result(conn)
                .await
        }
    }
}

/// A pro sets its profile. A new profile waits for the franchisee's approval
/// of the pro; a changed name or bio of an existing profile waits for the
/// franchisee's review (`pending_*`), while the public keeps seeing the
/// approved text.
#[utoipa::path(tag = "pros", security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, description = "The profile as stored, with any edit awaiting review", body = Pro),
    (status = 403, description = "not-a-pro", body = Problem),
    (status = 422, description = "invalid-profile", body = Problem),
))]
#[put("/pro/profile")]
async fn put_profile(member: TerritoryMember, body: web::Json<Profile>) -> Result<HttpResponse, ApiError> {
    require_pro(&member)?;
    body.validate().map_err(|e| ApiError::unprocessable("invalid-profile", e))?;
    let account = member.auth.account.id;
    let profile = body.into_inner();
    let mut conn = member.territory.connection().await?;
    let pro = conn
        .transaction::<_, diesel::result::Error, _>(|conn| {
            async { store_profile(conn, account, &profile).await }.scope_boxed()
        })
        .await?;
    Ok(HttpResponse::Ok().json(pro))
}

/// The pro's own profile: the approved text and any edit awaiting review.
#[utoipa::path(tag = "pros", security(("bearer" = []), ("session_cookie" = [])), responses(
    (status = 200, body = Pro),
    (status = 403, description = "not-a-pro", body = Problem),
    (status = 409, description = "no-profile", body = Problem),
))]
#[get("/pro/profile")]
async fn get_profile(member: TerritoryMember) -> Result<HttpResponse, ApiError> {
    let mut conn = member.territory.connection().await?;
    Ok(HttpResponse::Ok().json(own_pro(&member, &mut conn).await?))
}

/// What the franchisee decides on a pending edit.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum Decision {
    /// The edit becomes the public text.
    Approve,
    /// The edit is dropped; the approved text stays.
    Reject,
}

/// A review of a pro's pending edit.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"revision": 2, "decision": "approve"}))]
struct Review {
    /// The `profile_revision` of the edit as the franchisee saw it.
    revision: i32,
    decision: Decision,
}

/// The franchisee approves or rejects a pro's pending edit of its public
/// text, naming the revision it saw.
#[utoipa::path(tag = "pros", security(("bearer" = []), ("session_cookie" = [])), params(("id" = Uuid, Path, description = "The pro's id")), responses(
    (status = 200, description = "The profile after the review", body = Pro),
    (status = 409, description = "no-pending-edit: no such pro, nothing awaits review, or the pro edited again since that revision", body = Problem),
))]
#[post("/pros/{id}/profile/review")]
async fn review_profile(
    franchisee: TerritoryFranchisee,
    path: web::Path<Uuid>,
    body: web::Json<Review>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let mut conn = franchisee.territory.connection().await?;
    let pending =
        pros::table.find(id).filter(pros::profile_revision.eq(body.revision)).filter(pros::pending_since.is_not_null());
    let cleared = (
        pros::pending_display_name.eq(None::<String>),
        pros::pending_bio.eq(None::<String>),
        pros::pending_since.eq(None::<chrono::DateTime<Utc>>),
        pros::updated_at.eq(diesel::dsl::now),
    );
    let reviewed: Option<Pro> = match body.decision {
        Decision::Approve => {
            diesel::update(pending)
                .set((
                    pros::display_name.eq(pros::pending_display_name.assume_not_null()),
                    pros::bio.eq(pros::pending_bio.assume_not_null()),
                    cleared,
                ))
                .returning(Pro::as_returning())
                .get_result(&mut *conn)
                .await
        }
        Decision::Reject => {
            diesel::update(pending).set(cleared).returning(Pro::as_returning()).get_result(&mut *conn).await
        }
    }
    .optional()?;
    let pro = reviewed.ok_or_else(|| {
        ApiError::conflict(
            "no-pending-edit",
            format!("no pro {id} has an edit awaiting review at revision {}", body.revision),
        )
    })?;
    tracing::info!(pro.id = %pro.id, revision = body.revision, "pro profile reviewed");
    Ok(HttpResponse::Ok().json(pro))
}

/// The profile operations, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(put_profile, get_profile, review_profile))]
pub struct Doc;

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::{Pro, TextEdit, text_edit};

    fn pro(pending: Option<(&str, &str)>) -> Pro {
        Pro {
            id: Uuid::nil(),
            account_id: Uuid::nil(),
            display_name: "Sanne".into(),
            bio: "Tien jaar ervaring".into(),
            languages: vec![],
            postcodes: vec![],
            status: "active".into(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
            pending_display_name: pending.map(|(name, _)| name.into()),
            pending_bio: pending.map(|(_, bio)| bio.into()),
            pending_since: pending.map(|_| Utc::now()),
            profile_revision: 1,
        }
    }

    #[test]
    fn only_a_change_of_public_text_is_held() {
        assert_eq!(text_edit(&pro(None), "Sanne", "Tien jaar ervaring"), TextEdit::Withdraw);
        assert_eq!(text_edit(&pro(None), "Sanne", "<b>Bel mij</b>"), TextEdit::Hold);
        let pending = pro(Some(("Sanne B.", "Tien jaar ervaring")));
        assert_eq!(text_edit(&pending, "Sanne B.", "Tien jaar ervaring"), TextEdit::Same);
        assert_eq!(text_edit(&pending, "Sanne", "Tien jaar ervaring"), TextEdit::Withdraw);
        assert_eq!(text_edit(&pending, "Sanne C.", "Tien jaar ervaring"), TextEdit::Hold);
    }
}

//! The audit trail as auditors read it: `GET /api/v1/audit` and its CSV
//! export, filtered by actor, organisation, object, action and period.
//!
//! Only the auditor reads it (三员分立): the system and security
//! administrators, whose own actions it records, are refused. An export is
//! itself recorded (`audit.export`), so reading the whole log in bulk
//! leaves a trace; paging through it does not, to keep the log about the
//! market rather than about its readers.

use axum::extract::State;
use axum::response::Response;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use techtrade_db::audit::{self, AuditFilter, AuditRecord};
use techtrade_web::error::Problem;
use techtrade_web::extract::{Query, RequestId};
use techtrade_web::pagination::{Page, PageQuery};
use techtrade_web::{ApiError, ApiResult, AppState, CurrentUser, ErrorCode, Json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(export))
}

/// The most records one export holds; a larger one asks for a narrower filter.
pub const MAX_EXPORT: i64 = 200_000;

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only what this user did: a user id, or an e-mail address.
    #[param(max_length = 254)]
    pub actor: Option<String>,
    /// Only what concerns this organisation (an organisation id): its
    /// members' actions and failed sign-ins on their accounts.
    #[param(max_length = 64)]
    pub organization: Option<String>,
    /// Only about this object: `type` (`deal`) or `type:id` (`deal:0193…`).
    #[param(max_length = 160, pattern = "^[^:]+(:.+)?$")]
    pub object: Option<String>,
    /// `noun.verb` exactly (`session.denied`), or `noun` for all its verbs (`session`).
    #[param(pattern = "^[a-z_]+(\\.[a-z_]+)?$")]
    pub action: Option<String>,
    /// From this day (Beijing time), included.
    pub from: Option<NaiveDate>,
    /// To this day (Beijing time), included; not before `from`.
    pub to: Option<NaiveDate>,
}

fn query_error(field: &str, code: &str, message: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidQuery, format!("{field}: {message}")).with_field(field, code, message)
}

impl AuditQuery {
    /// The filter asked for: ids as given, the days as instants.
    pub fn filter(self) -> Result<AuditFilter, ApiError> {
        // The lengths the document states (`#[param(max_length)]` above).
        for (field, value, max) in
            [("actor", &self.actor, 254), ("organization", &self.organization, 64), ("object", &self.object, 160)]
        {
            if value.as_deref().is_some_and(|v| v.chars().count() > max) {
                return Err(query_error(field, "too_long", &format!("at most {max} characters")));
            }
        }
        // A value of only spaces is left out, as no value is.
        let blank_out = |value: &str| Some(value.trim().to_string()).filter(|v| !v.is_empty());
        let given = |value: Option<String>| value.as_deref().and_then(blank_out);
        let (subject_type, subject_id) = match self.object.as_deref().filter(|o| !o.trim().is_empty()) {
            None => (None, None),
            Some(object) => {
                let (kind, id) = match object.split_once(':') {
                    Some((kind, id)) => (kind, Some(id)),
                    None => (object, None),
                };
                // What the documented pattern refuses: no type, or nothing after the colon.
                if kind.is_empty() || id.is_some_and(str::is_empty) {
                    return Err(query_error("object", "bad_format", "an object is `type` or `type:id`"));
                }
                (blank_out(kind), id.and_then(blank_out))
            }
        };
        let action = given(self.action);
        if let Some(action) = &action {
            let words: Vec<&str> = action.split('.').collect();
            if words.len() > 2
                || words.iter().any(|w| w.is_empty() || !w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
            {
                return Err(query_error("action", "bad_format", "an action is `noun.verb` or `noun`"));
            }
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && to < from
        {
            return Err(query_error("to", "before_from", "the period ends before it starts"));
        }
        let midnight = |day: NaiveDate| day.and_hms_opt(0, 0, 0).unwrap_or_default() - techtrade_db::market_offset();
        Ok(AuditFilter {
            actor_user_id: given(self.actor),
            organization_id: given(self.organization),
            subject_type,
            subject_id,
            action,
            from: self.from.map(midnight),
            before: self.to.and_then(|to| to.succ_opt()).map(midnight),
        })
    }
}

/// The filter with an actor given by e-mail address turned into the id
/// (an address no account has matches nothing).
fn with_actor_id(conn: &mut techtrade_db::AnyConnection, mut filter: AuditFilter) -> Result<AuditFilter, ApiError> {
    if let Some(actor) = filter.actor_user_id.as_ref().filter(|a| a.contains('@')) {
        let email = actor.to_lowercase();
        let found = techtrade_db::accounts::find_user_by_email(conn, &email)?;
        filter.actor_user_id = Some(found.map_or(email, |user| user.id));
    }
    Ok(filter)
}

/// One record as an auditor reads it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditRecordView {
    /// Its place in the chain, from 1.
    pub seq: i64,
    /// When it was recorded (UTC).
    pub time: chrono::DateTime<chrono::Utc>,
    /// The user who acted; none for the system itself and for who was not
    /// signed in (a failed sign-in names the account in `object`).
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub actor_role: Option<String>,
    pub organization_id: Option<String>,
    /// `noun.verb`, e.g. `session.create`, `claim.review`.
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    /// `success`, `denied` (refused: a wrong password, a locked account) or `failed`.
    pub result: String,
    /// The object's state before and after, as recorded.
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    pub request_id: Option<String>,
}

/// A record with its actor, as the views and the export take it.
type Actor = Option<(String, String)>;

fn view(record: AuditRecord, actor: Actor) -> AuditRecordView {
    let state = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
    AuditRecordView {
        seq: record.seq,
        time: record.created_at.and_utc(),
        actor_email: actor.as_ref().map(|(email, _)| email.clone()),
        actor_role: actor.map(|(_, role)| role),
        actor_id: record.actor_user_id,
        organization_id: record.organization_id,
        action: record.action,
        object_type: record.subject_type,
        object_id: record.subject_id,
        result: record.outcome,
        before: state(record.before_state),
        after: state(record.after_state),
        request_id: record.request_id,
    }
}

/// The actors of `records`, by id: (e-mail, role).
fn actors(
    conn: &mut techtrade_db::AnyConnection,
    records: &[AuditRecord],
) -> Result<std::collections::HashMap<String, (String, String)>, ApiError> {
    let mut ids: Vec<String> = records.iter().filter_map(|r| r.actor_user_id.clone()).collect();
    ids.sort();
    ids.dedup();
    Ok(techtrade_db::accounts::users_by_ids(conn, &ids)?
        .into_iter()
        .map(|user| (user.id, (user.email, user.role)))
        .collect())
}

fn with_actors(
    conn: &mut techtrade_db::AnyConnection,
    records: Vec<AuditRecord>,
) -> Result<Vec<AuditRecordView>, ApiError> {
    let actors = actors(conn, &records)?;
    Ok(records
        .into_iter()
        .map(|record| {
            let actor = record.actor_user_id.as_ref().and_then(|id| actors.get(id).cloned());
            view(record, actor)
        })
        .collect())
}

/// A page of the audit trail, newest first (auditors only).
pub async fn page(
    state: &AppState,
    user: &CurrentUser,
    query: AuditQuery,
    page: PageQuery,
) -> ApiResult<Page<AuditRecordView>> {
    user.require_auditor()?;
    let filter = query.filter()?;
    let request = page.validate()?;
    state
        .db
        .run(move |conn| {
            let filter = with_actor_id(conn, filter)?;
            let total = audit::count(conn, &filter)?;
            let records = audit::search(conn, &filter, request.offset(), request.limit())?;
            Ok(Page::new(with_actors(conn, records)?, total, request))
        })
        .await
}

/// The audit trail, filtered; records newest first.
#[utoipa::path(
    get, path = "/api/v1/audit", tag = "audit",
    security(("bearer" = [])),
    params(AuditQuery, PageQuery),
    responses(
        (status = 200, body = Page<AuditRecordView>),
        (status = 400, body = Problem),
        (status = 401, body = Problem),
        (status = 403, description = "only auditors read the audit log", body = Problem),
    )
)]
async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(query): Query<AuditQuery>,
    Query(paging): Query<PageQuery>,
) -> ApiResult<Json<Page<AuditRecordView>>> {
    Ok(Json(page(&state, &user, query, paging).await?))
}

/// The CSV columns, in order.
const COLUMNS: [&str; 13] = [
    "seq",
    "time",
    "actor_id",
    "actor_email",
    "actor_role",
    "organization_id",
    "action",
    "object_type",
    "object_id",
    "result",
    "before",
    "after",
    "request_id",
];

fn csv_row(record: &AuditRecordView) -> [String; 13] {
    let json = |value: &Option<serde_json::Value>| value.as_ref().map(|v| v.to_string()).unwrap_or_default();
    [
        record.seq.to_string(),
        record.time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        record.actor_id.clone().unwrap_or_default(),
        record.actor_email.clone().unwrap_or_default(),
        record.actor_role.clone().unwrap_or_default(),
        record.organization_id.clone().unwrap_or_default(),
        record.action.clone(),
        record.object_type.clone(),
        record.object_id.clone(),
        record.result.clone(),
        json(&record.before),
        json(&record.after),
        record.request_id.clone().unwrap_or_default(),
    ]
}

/// Every record the filter matches, oldest first, as CSV (UTF-8 with a
/// byte-order mark for spreadsheet programs); the export is recorded.
pub async fn export_csv(
    state: &AppState,
    user: &CurrentUser,
    query: AuditQuery,
    request_id: Option<String>,
) -> ApiResult<Vec<u8>> {
    user.require_auditor()?;
    let described = serde_json::json!({
        "actor": query.actor, "organization": query.organization, "object": query.object,
        "action": query.action, "from": query.from, "to": query.to,
    });
    let filter = query.filter()?;
    let auditor = user.user_id.clone();
    state
        .db
        .run(move |conn| {
            let filter = with_actor_id(conn, filter)?;
            let total = audit::count(conn, &filter)?;
            if total > MAX_EXPORT {
                return Err(ApiError::new(
                    ErrorCode::InvalidQuery,
                    format!("{total} records match; an export holds at most {MAX_EXPORT}: narrow the period"),
                )
                .with_field("to", "too_many_records", "narrow the period or the filter"));
            }
            // Recorded first, so the export names itself as its last line.
            audit::append(
                conn,
                audit::AuditEntry {
                    actor_user_id: Some(&auditor),
                    action: "audit.export",
                    subject_type: "audit",
                    subject_id: "log",
                    after: Some(serde_json::json!({"filter": described, "records": total})),
                    request_id: request_id.as_deref(),
                    ..Default::default()
                },
            )?;
            let mut writer = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
            writer.write_record(COLUMNS).map_err(ApiError::internal)?;
            let mut after = 0;
            loop {
                let records = audit::search_after(conn, &filter, after, 1000)?;
                let Some(last) = records.last() else { break };
                after = last.seq;
                for record in with_actors(conn, records)? {
                    writer.write_record(csv_row(&record)).map_err(ApiError::internal)?;
                }
            }
            writer.into_inner().map_err(ApiError::internal)
        })
        .await
}

/// The audit trail as CSV, oldest first (auditors only; the export is itself recorded).
#[utoipa::path(
    get, path = "/api/v1/audit/export.csv", tag = "audit",
    security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, content_type = "text/csv", body = String),
        (status = 400, body = Problem),
        (status = 401, body = Problem),
        (status = 403, description = "only auditors read the audit log", body = Problem),
    )
)]
async fn export(
    State(state): State<AppState>,
    user: CurrentUser,
    RequestId(request_id): RequestId,
    Query(query): Query<AuditQuery>,
) -> ApiResult<Response> {
    Ok(csv_download(export_csv(&state, &user, query, request_id).await?))
}

/// An export as a download (the API's and the console's): a CSV file
/// named after today, never cached.
pub fn csv_download(bytes: Vec<u8>) -> Response {
    techtrade_web::download::csv(&format!("audit-{}.csv", techtrade_db::today()), bytes)
}

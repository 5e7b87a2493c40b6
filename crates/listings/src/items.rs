//! What listings and demands share: ownership, visibility, and the
//! moderation lifecycle, written once over the [`Item`] trait.

use chrono::NaiveDateTime;
use serde::Serialize;
use serde::de::DeserializeOwned;
use techtrade_db::listings::{ListFilter, ModerationReview};
use techtrade_db::{AnyConnection, audit, listings as db, outbox};
use techtrade_domain::{ListingStatus, Transition, ids};
use techtrade_web::{ApiError, CurrentUser, ErrorCode};

/// The lifecycle fields every item has.
pub(crate) struct Lifecycle<'a> {
    pub status: &'a mut String,
    pub version: &'a mut i64,
    pub review_reason: &'a mut Option<String>,
    pub submitted_at: &'a mut Option<NaiveDateTime>,
    pub published_at: &'a mut Option<NaiveDateTime>,
    pub updated_at: &'a mut NaiveDateTime,
}

/// The [`Item`] accessors of a row with the lifecycle columns every
/// listing and demand has (`id`, `owner_organization_id`, `status`,
/// `title`, `version`, `review_reason`, `submitted_at`, `published_at`,
/// `updated_at`).
macro_rules! lifecycle_fields {
    () => {
        fn id(&self) -> &str {
            &self.id
        }

        fn owner(&self) -> &str {
            &self.owner_organization_id
        }

        fn title(&self) -> &str {
            &self.title
        }

        fn review_reason(&self) -> Option<&str> {
            self.review_reason.as_deref()
        }

        fn status_text(&self) -> &str {
            &self.status
        }

        fn version(&self) -> i64 {
            self.version
        }

        fn lifecycle(&mut self) -> Lifecycle<'_> {
            Lifecycle {
                status: &mut self.status,
                version: &mut self.version,
                review_reason: &mut self.review_reason,
                submitted_at: &mut self.submitted_at,
                published_at: &mut self.published_at,
                updated_at: &mut self.updated_at,
            }
        }
    };
}
pub(crate) use lifecycle_fields;

/// A listing or a demand.
pub(crate) trait Item: Clone + Send + 'static {
    /// `listing` or `demand`: the audit subject and the outbox prefix.
    const SUBJECT: &'static str;
    type Request: DeserializeOwned + Send + 'static;
    type Response: Serialize + DeserializeOwned + Send + 'static;

    fn find(conn: &mut AnyConnection, id: &str) -> diesel::QueryResult<Option<Self>>;
    /// Writes the item when its stored version is `expected_version`.
    fn store(&self, conn: &mut AnyConnection, expected_version: i64) -> diesel::QueryResult<bool>;
    fn id(&self) -> &str;
    fn owner(&self) -> &str;
    fn title(&self) -> &str;
    /// The moderator's reason for the last decision, if they gave one.
    fn review_reason(&self) -> Option<&str>;
    fn status_text(&self) -> &str;
    fn version(&self) -> i64;
    fn lifecycle(&mut self) -> Lifecycle<'_>;
    /// A new draft owned by `user`'s organisation, inserted with its children.
    fn create(conn: &mut AnyConnection, request: Self::Request, user: &CurrentUser) -> Result<Self, ApiError>;
    /// Replaces the content with `request`, children included (not stored yet).
    fn edit(&mut self, conn: &mut AnyConnection, request: Self::Request) -> Result<(), ApiError>;
    fn respond(conn: &mut AnyConnection, items: Vec<Self>) -> Result<Vec<Self::Response>, ApiError>;
    /// The editable content in request form, to apply a merge patch to.
    fn request_form(response: &Self::Response) -> serde_json::Value;
    fn list(conn: &mut AnyConnection, filter: &ListFilter) -> diesel::QueryResult<(Vec<Self>, i64)>;
    /// Takes the item's lock before an edit reads it (the lock order's
    /// first lock, for items that deals also lock).
    fn lock(_conn: &mut AnyConnection, _id: &str) -> diesel::QueryResult<()> {
        Ok(())
    }
    /// Refuses an edit the item's state forbids beyond its status.
    fn check_editable(&self, _conn: &mut AnyConnection) -> Result<(), ApiError> {
        Ok(())
    }

    fn status(&self) -> ListingStatus {
        ListingStatus::from_db(self.status_text()).unwrap_or(ListingStatus::Draft)
    }

    fn respond_one(conn: &mut AnyConnection, item: Self) -> Result<Self::Response, ApiError> {
        Self::respond(conn, vec![item])?.pop().ok_or_else(|| ApiError::internal("an item vanished while responding"))
    }
}

/// Whether `viewer` may see `item`: everyone sees public items; the owner's
/// members and officials see all.
pub(crate) fn can_see<I: Item>(item: &I, viewer: Option<&CurrentUser>) -> bool {
    item.status().is_public() || viewer.is_some_and(|u| u.role.is_official() || u.is_member_of(item.owner()))
}

/// The item, if the viewer may see it; 404 otherwise (never telling what
/// exists elsewhere).
pub(crate) fn load_visible<I: Item>(
    conn: &mut AnyConnection,
    id: &str,
    viewer: Option<&CurrentUser>,
) -> Result<I, ApiError> {
    I::find(conn, id)?.filter(|item| can_see(item, viewer)).ok_or_else(|| ApiError::not_found(I::SUBJECT))
}

/// The item, for its owner to change: 404 when the caller may not see it,
/// 403 when they may see it but it is not theirs.
pub(crate) fn load_owned<I: Item>(conn: &mut AnyConnection, id: &str, user: &CurrentUser) -> Result<I, ApiError> {
    let item = load_visible::<I>(conn, id, Some(user))?;
    if !user.is_member_of(item.owner()) {
        return Err(ApiError::forbidden(format!("only the owner's members may change this {}", I::SUBJECT)));
    }
    Ok(item)
}

/// The outbox event a transition emits. An edit that sends a published
/// item back to review says so, so that consumers (search) drop it.
fn event_name(transition: Transition, to: ListingStatus) -> &'static str {
    match transition {
        Transition::Submit => "submitted",
        Transition::Approve => "published",
        Transition::Reject => "rejected",
        Transition::Withdraw => "withdrawn",
        Transition::MarkTraded => "traded",
        Transition::Reopen => "reopened",
        Transition::Edit if to == ListingStatus::PendingReview => "unpublished",
        Transition::Edit => "updated",
    }
}

/// Moves the item along its lifecycle in memory: status, timestamps and the
/// review reason (kept on rejection, cleared on resubmission).
pub(crate) fn advance<I: Item>(
    item: &mut I,
    transition: Transition,
    reason: Option<String>,
    now: NaiveDateTime,
) -> Result<ListingStatus, ApiError> {
    let to = item.status().apply(transition).map_err(|e| ApiError::new(ErrorCode::InvalidState, e.to_string()))?;
    let lifecycle = item.lifecycle();
    *lifecycle.status = to.as_str().to_string();
    *lifecycle.version += 1;
    *lifecycle.updated_at = now;
    match transition {
        Transition::Submit => {
            *lifecycle.submitted_at = Some(now);
            *lifecycle.review_reason = None;
        }
        Transition::Approve => {
            *lifecycle.published_at = Some(now);
            *lifecycle.review_reason = reason;
        }
        Transition::Reject => *lifecycle.review_reason = reason,
        Transition::Edit if to == ListingStatus::PendingReview => *lifecycle.submitted_at = Some(now),
        _ => {}
    }
    Ok(to)
}

/// Who changes an item, and in which request; no user when the system
/// does (a deal completed by a payment provider's notification).
#[derive(Clone, Copy)]
pub(crate) struct Actor<'a> {
    pub user_id: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

/// Stores an item that [`advance`] moved (409 when someone changed it
/// first), with its audit entry and outbox event, inside the caller's
/// transaction. `before` is the response form before the change.
pub(crate) fn save<I: Item>(
    conn: &mut AnyConnection,
    item: I,
    actor: Actor<'_>,
    transition: Transition,
    from: ListingStatus,
    before: serde_json::Value,
) -> Result<I::Response, ApiError> {
    if !item.store(conn, item.version() - 1)? {
        return Err(ApiError::conflict(format!("the {} was changed by someone else; reload it", I::SUBJECT)));
    }
    let event = Event {
        id: item.id().to_string(),
        owner: item.owner().to_string(),
        title: item.title().to_string(),
        // The reason goes out with a rejection, for the owner's email.
        reason: if transition == Transition::Reject { item.review_reason().map(str::to_string) } else { None },
        action: transition.as_str(),
        name: event_name(transition, item.status()),
        from: Some(from),
        to: item.status(),
    };
    let response = I::respond_one(conn, item)?;
    let after = serde_json::to_value(&response).map_err(ApiError::internal)?;
    record::<I>(conn, actor, event, Some(before), after)?;
    Ok(response)
}

/// One change to an item, as the audit log and the outbox see it.
pub(crate) struct Event {
    pub id: String,
    pub owner: String,
    pub title: String,
    /// Set on a rejection when the moderator gave a reason.
    pub reason: Option<String>,
    /// The audit action after the subject: `create`, `submit`, ...
    pub action: &'static str,
    /// The outbox event after the subject: `created`, `submitted`, ...
    pub name: &'static str,
    pub from: Option<ListingStatus>,
    pub to: ListingStatus,
}

/// The audit entry and the outbox event of a change.
pub(crate) fn record<I: Item>(
    conn: &mut AnyConnection,
    actor: Actor<'_>,
    event: Event,
    before: Option<serde_json::Value>,
    after: serde_json::Value,
) -> Result<(), ApiError> {
    audit::append(
        conn,
        audit::AuditEntry {
            actor_user_id: actor.user_id,
            action: &format!("{}.{}", I::SUBJECT, event.action),
            subject_type: I::SUBJECT,
            subject_id: &event.id,
            before,
            after: Some(after),
            request_id: actor.request_id,
            ..Default::default()
        },
    )?;
    let mut payload = serde_json::json!({
        "id": event.id,
        "owner_organization_id": event.owner,
        "title": event.title,
        "from": event.from.map(ListingStatus::as_str),
        "status": event.to.as_str(),
        "actor_user_id": actor.user_id,
    });
    if let (Some(reason), Some(object)) = (event.reason, payload.as_object_mut()) {
        object.insert("reason".into(), reason.into());
    }
    outbox::emit(conn, &format!("{}.{}", I::SUBJECT, event.name), I::SUBJECT, &event.id, &payload)?;
    Ok(())
}

/// Records an official's moderation decision.
pub(crate) fn record_review<I: Item>(
    conn: &mut AnyConnection,
    item: &I,
    reviewer: &CurrentUser,
    decision: &str,
    reason: Option<String>,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    let review = ModerationReview {
        id: ids::new_id(),
        subject_type: I::SUBJECT.to_string(),
        subject_id: item.id().to_string(),
        reviewer_id: reviewer.user_id.clone(),
        decision: decision.to_string(),
        reason,
        created_at: now,
    };
    Ok(db::insert_review(conn, &review)?)
}

/// Marks a published listing `traded` when a deal for it completed; a
/// listing in any other state is left as it is (it may have been
/// withdrawn meanwhile). Runs in the caller's transaction.
pub fn mark_listing_traded(
    conn: &mut AnyConnection,
    listing_id: &str,
    actor_user_id: Option<&str>,
    request_id: Option<&str>,
) -> Result<bool, ApiError> {
    follow_deal(conn, listing_id, Transition::MarkTraded, Actor { user_id: actor_user_id, request_id })
}

/// Puts a traded listing back on the market when the sale that traded it
/// was undone (refunded below its total, the contract terminated); a
/// listing in any other state is left as it is. Runs in the caller's
/// transaction.
pub fn reopen_traded_listing(
    conn: &mut AnyConnection,
    listing_id: &str,
    actor_user_id: Option<&str>,
    request_id: Option<&str>,
) -> Result<bool, ApiError> {
    follow_deal(conn, listing_id, Transition::Reopen, Actor { user_id: actor_user_id, request_id })
}

/// Applies a transition a deal caused, if the listing's state allows it;
/// whether it did.
fn follow_deal(
    conn: &mut AnyConnection,
    listing_id: &str,
    transition: Transition,
    actor: Actor<'_>,
) -> Result<bool, ApiError> {
    let Some(mut listing) = db::find_listing(conn, listing_id)? else {
        return Ok(false);
    };
    let from = listing.status();
    if from.apply(transition).is_err() {
        return Ok(false);
    }
    let before =
        serde_json::to_value(<db::Listing as Item>::respond_one(conn, listing.clone())?).map_err(ApiError::internal)?;
    advance(&mut listing, transition, None, techtrade_db::now())?;
    save(conn, listing, actor, transition, from, before)?;
    Ok(true)
}

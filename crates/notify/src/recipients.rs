//! Who receives an email, from the database: the users an [`Audience`]
//! names, each with the address and language to write to; and the few
//! facts the templates show that events do not carry (organisation and
//! item names).

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::Serialize;
use techtrade_db::AnyConnection;
use techtrade_db::accounts::{self, User};
use techtrade_db::listings as items;

use crate::events::{Audience, ItemRef};
use crate::templates::Locale;

/// One user an email goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recipient {
    pub user_id: String,
    pub email: String,
    pub name: String,
    #[serde(skip)]
    pub locale: Locale,
    pub organization_id: Option<String>,
}

impl From<User> for Recipient {
    fn from(user: User) -> Self {
        Self {
            locale: Locale::from_user(&user.locale),
            user_id: user.id,
            email: user.email,
            name: user.name,
            organization_id: user.organization_id,
        }
    }
}

/// The active users `audience` names, each address once, in a stable
/// order. Disabled users receive nothing; a user or organisation that does
/// not exist (any more) yields no one.
pub fn resolve(conn: &mut AnyConnection, audience: &Audience) -> QueryResult<Vec<Recipient>> {
    let users = match audience {
        Audience::User(id) => accounts::find_user(conn, id)?.into_iter().collect(),
        Audience::Organizations(ids) => {
            let mut users = Vec::new();
            for id in ids {
                users.extend(accounts::organization_members(conn, id)?);
            }
            users
        }
        Audience::Officials => accounts::officials(conn)?,
    };
    let mut recipients: Vec<Recipient> = Vec::with_capacity(users.len());
    for user in users.into_iter().filter(|u| u.disabled_at.is_none()) {
        if !recipients.iter().any(|r| r.email.eq_ignore_ascii_case(&user.email)) {
            recipients.push(user.into());
        }
    }
    Ok(recipients)
}

/// The names of `ids`, by id; an unknown organisation is shown by its id.
pub fn organization_names(conn: &mut AnyConnection, ids: &[String]) -> QueryResult<BTreeMap<String, String>> {
    let mut names: BTreeMap<String, String> = items::organization_names(conn, ids)?.into_iter().collect();
    for id in ids {
        names.entry(id.clone()).or_insert_with(|| id.clone());
    }
    Ok(names)
}

/// An item's current title and review reason, for events from before the
/// payload carried them.
pub fn item_details(conn: &mut AnyConnection, item: &ItemRef) -> QueryResult<Option<(String, Option<String>)>> {
    Ok(match item.kind {
        "listing" => items::find_listing(conn, &item.id)?.map(|l| (l.title, l.review_reason)),
        _ => items::find_demand(conn, &item.id)?.map(|d| (d.title, d.review_reason)),
    })
}

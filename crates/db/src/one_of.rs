//! `column IN (ids)` with the ids bound as one value, so that the statement
//! reads the same for any number of ids and a connection prepares it once.
//!
//! diesel's `eq_any` binds one parameter per id on SQLite, which makes each
//! call a statement of its own that SQLite parses and plans again and diesel
//! cannot cache: for matching's hundred candidates that was about a third of
//! the time of loading them. Here SQLite reads the ids from one JSON array
//! (`json_each`), and PostgreSQL from one array (`= ANY`, what `eq_any` does
//! there too). One bound value also has no parameter limit to chunk around.

use diesel::expression::{AppearsOnTable, Expression, ValidGrouping};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Array, Bool, Text};
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, SelectableExpression};

use crate::MultiBackend;

/// `column` is one of `ids`: see the module's comment.
pub fn one_of<C>(column: C, ids: &[String]) -> OneOf<C>
where
    C: Expression<SqlType = Text>,
{
    OneOf { column, ids: ids.to_vec(), json: serde_json::Value::from(ids).to_string() }
}

#[derive(Debug, Clone)]
pub struct OneOf<C> {
    column: C,
    /// PostgreSQL's bound array.
    ids: Vec<String>,
    /// SQLite's bound JSON array of the same ids.
    json: String,
}

impl<C: Expression<SqlType = Text>> Expression for OneOf<C> {
    type SqlType = Bool;
}

impl<C: AppearsOnTable<QS>, QS> AppearsOnTable<QS> for OneOf<C> where Self: Expression {}

impl<C: SelectableExpression<QS>, QS> SelectableExpression<QS> for OneOf<C> where Self: AppearsOnTable<QS> {}

impl<C: ValidGrouping<GB>, GB> ValidGrouping<GB> for OneOf<C> {
    type IsAggregate = C::IsAggregate;
}

impl<C: QueryId> QueryId for OneOf<C> {
    // The statement's text depends on the column alone, never on the ids.
    type QueryId = OneOf<C::QueryId>;
    const HAS_STATIC_QUERY_ID: bool = C::HAS_STATIC_QUERY_ID;
}

impl<C: QueryFragment<Sqlite>> QueryFragment<Sqlite> for OneOf<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" IN (SELECT value FROM json_each(");
        out.push_bind_param::<Text, _>(&self.json)?;
        out.push_sql("))");
        Ok(())
    }
}

impl<C: QueryFragment<Pg>> QueryFragment<Pg> for OneOf<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" = ANY(");
        out.push_bind_param::<Array<Text>, _>(&self.ids)?;
        out.push_sql(")");
        Ok(())
    }
}

impl<C> QueryFragment<MultiBackend> for OneOf<C>
where
    Self: QueryFragment<Sqlite> + QueryFragment<Pg>,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        MultiBackend::walk_variant_ast(self, pass)
    }
}

#[cfg(test)]
mod tests {
    use crate::accounts::{Organization, insert_organization};
    use crate::listings::organization_names;
    use crate::testing::TestDatabase;

    /// Ids that a JSON array or an SQL literal would have to escape.
    const AWKWARD: [&str; 6] = ["plain", "quote\"d", "back\\slash", "青海-机构", "comma,id", "[bracket]'"];

    fn finds_exactly_the_listed_rows(database: TestDatabase) {
        let mut conn = database.connect();
        let now = crate::now();
        for (n, id) in AWKWARD.iter().enumerate() {
            let organization = Organization {
                id: (*id).to_string(),
                name: format!("机构{n}"),
                kind: "enterprise".into(),
                credit_code: format!("91630100MA7{n:07}"),
                region_code: "630100".into(),
                created_at: now,
                updated_at: now,
                version: 1,
            };
            insert_organization(&mut conn, &organization).unwrap();
        }
        let found = |conn: &mut crate::AnyConnection, ids: &[String]| {
            let mut ids: Vec<String> = organization_names(conn, ids).unwrap().into_iter().map(|(id, _)| id).collect();
            ids.sort();
            ids
        };
        let strings = |ids: &[&str]| ids.iter().map(|id| (*id).to_string()).collect::<Vec<_>>();
        let mut every = strings(&AWKWARD);
        every.sort();
        assert_eq!(found(&mut conn, &strings(&AWKWARD)), every);
        assert_eq!(found(&mut conn, &[]), Vec::<String>::new(), "no ids, no rows");
        assert_eq!(found(&mut conn, &strings(&["quote\"d", "absent", "quote\"d"])), ["quote\"d"]);
        assert_eq!(found(&mut conn, &strings(&["quote"])), Vec::<String>::new(), "whole ids only");
        // More ids than SQLite once allowed parameters (999): one value.
        let many: Vec<String> =
            (0..5_000).map(|n| format!("absent-{n}")).chain(std::iter::once("青海-机构".to_string())).collect();
        assert_eq!(found(&mut conn, &many), ["青海-机构"]);
    }

    #[test]
    fn finds_exactly_the_listed_rows_sqlite() {
        finds_exactly_the_listed_rows(TestDatabase::sqlite());
    }

    #[test]
    fn finds_exactly_the_listed_rows_postgres() {
        if let Some(database) = TestDatabase::postgres() {
            finds_exactly_the_listed_rows(database);
        }
    }
}

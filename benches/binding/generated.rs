//! A statement whose SQL text is generated at run time (here: with a
//! territory's schema written into it) and that diesel-async prepares once and
//! caches by its text, as it caches its DSL queries. `diesel::sql_query` is
//! never cached (it marks itself unsafe to cache), so it cannot stand for a
//! generated, schema-qualified statement.

use std::marker::PhantomData;

use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};

/// One bind value with its SQL type.
pub trait BindValue: Send + Sync {
    /// Pushes the value (and, in SQL text, its `$n`).
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()>;
}

struct Bind<ST, T> {
    value: T,
    sql_type: PhantomData<fn() -> ST>,
}

impl<ST, T> BindValue for Bind<ST, T>
where
    Pg: HasSqlType<ST>,
    T: ToSql<ST, Pg> + Send + Sync,
{
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_bind_param::<ST, T>(&self.value)
    }
}

/// `value` bound as SQL type `ST`.
pub fn bind<'a, ST: 'a, T>(value: T) -> Box<dyn BindValue + 'a>
where
    Pg: HasSqlType<ST>,
    T: ToSql<ST, Pg> + Send + Sync + 'a,
{
    Box::new(Bind { value, sql_type: PhantomData::<fn() -> ST> })
}

/// SQL text with `$1`..`$n` and its n binds, loaded into `QueryableByName`
/// rows. A placeholder may appear again after its first use (`$2 ... $2`).
pub struct Generated<'a> {
    /// The text between the first uses of `$1`, `$2`, ...
    parts: Vec<&'a str>,
    binds: Vec<Box<dyn BindValue + 'a>>,
}

impl<'a> Generated<'a> {
    /// The statement `sql` with `binds` for `$1`, `$2`, ... in order.
    pub fn new(sql: &'a str, binds: Vec<Box<dyn BindValue + 'a>>) -> anyhow::Result<Self> {
        let mut parts = Vec::with_capacity(binds.len() + 1);
        let mut rest = sql;
        for number in 1..=binds.len() {
            let placeholder = format!("${number}");
            let at = rest
                .find(&placeholder)
                .ok_or_else(|| anyhow::anyhow!("{placeholder} missing or out of order in {sql:?}"))?;
            parts.push(&rest[..at]);
            rest = &rest[at + placeholder.len()..];
        }
        parts.push(rest);
        Ok(Self { parts, binds })
    }
}

impl QueryFragment<Pg> for Generated<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        // diesel numbers binds in the order they are pushed, which is the
        // order of their first use in the text.
        let mut parts = self.parts.iter();
        if let Some(first) = parts.next() {
            out.push_sql(first);
        }
        for (bind, part) in self.binds.iter().zip(parts) {
            bind.push(&mut out)?;
            out.push_sql(part);
        }
        Ok(())
    }
}

/// No static id: the statement cache keys it by its SQL text.
impl QueryId for Generated<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Generated<'_> {
    type SqlType = Untyped;
}

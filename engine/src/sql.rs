//! A small builder for SQL assembled at run time (filters, tenancy scopes).
//!
//! sqlx's `QueryBuilder` formats placeholders as `?` for the `Any` driver,
//! which PostgreSQL rejects; this builder numbers them `$1, $2, …`, which the
//! `Any` driver accepts on both databases.

use sqlx::any::AnyArguments;
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{Any, FromRow};

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Int(Option<i64>),
    Float(Option<f64>),
    Text(Option<String>),
}

impl From<i64> for Param {
    fn from(v: i64) -> Self {
        Param::Int(Some(v))
    }
}
impl From<Option<i64>> for Param {
    fn from(v: Option<i64>) -> Self {
        Param::Int(v)
    }
}
impl From<Option<f64>> for Param {
    fn from(v: Option<f64>) -> Self {
        Param::Float(v)
    }
}
impl From<f64> for Param {
    fn from(v: f64) -> Self {
        Param::Float(Some(v))
    }
}
impl From<&str> for Param {
    fn from(v: &str) -> Self {
        Param::Text(Some(v.to_string()))
    }
}
impl From<String> for Param {
    fn from(v: String) -> Self {
        Param::Text(Some(v))
    }
}
impl From<&String> for Param {
    fn from(v: &String) -> Self {
        Param::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Param {
    fn from(v: Option<String>) -> Self {
        Param::Text(v)
    }
}

/// SQL text plus its parameters, in placeholder order.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    text: String,
    params: Vec<Param>,
}

impl Sql {
    pub fn new(text: &str) -> Sql {
        Sql {
            text: text.to_string(),
            params: Vec::new(),
        }
    }

    /// Appends literal SQL (never user input).
    pub fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    ///
    /// A missing float is written as a literal `NULL` instead: sqlx 0.9's
    /// `Any` driver declares a bound `None::<f64>` to PostgreSQL as `real`,
    /// and the statement it caches then refuses the next non-null `f64`
    /// ("incorrect binary data format").
    pub fn bind(&mut self, value: impl Into<Param>) -> &mut Sql {
        let value = value.into();
        if value == Param::Float(None) {
            self.text.push_str("NULL");
            return self;
        }
        self.params.push(value);
        self.text.push('$');
        self.text.push_str(&self.params.len().to_string());
        self
    }

    /// Appends `a, b, c` placeholders for a list (an empty list gives `NULL`,
    /// so `x IN (NULL)` matches nothing rather than being a syntax error).
    pub fn bind_list<T: Into<Param>>(&mut self, values: impl IntoIterator<Item = T>) -> &mut Sql {
        let mut first = true;
        for v in values {
            if !first {
                self.text.push_str(", ");
            }
            first = false;
            self.bind(v);
        }
        if first {
            self.text.push_str("NULL");
        }
        self
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn params(&self) -> &[Param] {
        &self.params
    }

    pub fn query(&self) -> Query<'_, Any, AnyArguments> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(self.text.clone()));
        for p in &self.params {
            q = match p {
                Param::Int(v) => q.bind(*v),
                Param::Float(v) => q.bind(*v),
                Param::Text(v) => q.bind(v.clone()),
            };
        }
        q
    }

    pub fn query_as<T>(&self) -> QueryAs<'_, Any, T, AnyArguments>
    where
        T: for<'r> FromRow<'r, sqlx::any::AnyRow>,
    {
        let mut q = sqlx::query_as::<Any, T>(sqlx::AssertSqlSafe(self.text.clone()));
        for p in &self.params {
            q = match p {
                Param::Int(v) => q.bind(*v),
                Param::Float(v) => q.bind(*v),
                Param::Text(v) => q.bind(v.clone()),
            };
        }
        q
    }

    pub fn query_scalar<T>(&self) -> QueryScalar<'_, Any, T, AnyArguments>
    where
        (T,): for<'r> FromRow<'r, sqlx::any::AnyRow>,
    {
        let mut q = sqlx::query_scalar::<Any, T>(sqlx::AssertSqlSafe(self.text.clone()));
        for p in &self.params {
            q = match p {
                Param::Int(v) => q.bind(*v),
                Param::Float(v) => q.bind(*v),
                Param::Text(v) => q.bind(v.clone()),
            };
        }
        q
    }
}

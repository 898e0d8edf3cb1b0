//! Pages of a long list (`?page=N`, from 1): which page was asked for, and
//! the links to the pages before and after it with the list's other
//! filters kept. Lists read one page more than they show to know whether
//! a next page exists, never a count of everything (issue 11 point 11).

use serde::{Deserialize, Serialize};

/// The page a list was asked for; anything but a number reads as the first.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PageQuery {
    page: Option<String>,
}

impl PageQuery {
    /// From 1.
    pub fn number(&self) -> i64 {
        self.page
            .as_deref()
            .and_then(|p| p.trim().parse::<i64>().ok())
            .unwrap_or(1)
            .clamp(1, 100_000)
    }
}

/// What `pages/_pager.html` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Pager {
    pub page: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// The links of page `page` of the list at `path`, asked with the query
    /// string `query` (its `page` replaced, everything else kept).
    pub fn new(path: &str, query: Option<&str>, page: i64, has_next: bool) -> Pager {
        let href = |n: i64| {
            let mut out = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
                if k != "page" && !v.is_empty() {
                    out.append_pair(&k, &v);
                }
            }
            out.append_pair("page", &n.to_string());
            format!("{path}?{}", out.finish())
        };
        Pager {
            page,
            prev: (page > 1).then(|| href(page - 1)),
            next: has_next.then(|| href(page + 1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_the_filters_and_replace_the_page() {
        let p = Pager::new("/tasks", Some("q=%D0%B7&page=3&mine=1&priority="), 3, true);
        assert_eq!(p.prev.as_deref(), Some("/tasks?q=%D0%B7&mine=1&page=2"));
        assert_eq!(p.next.as_deref(), Some("/tasks?q=%D0%B7&mine=1&page=4"));
        let first = Pager::new("/tasks", None, 1, false);
        assert_eq!((first.prev, first.next), (None, None));
    }

    #[test]
    fn nonsense_is_the_first_page() {
        let q: PageQuery = serde_urlencoded::from_str("page=abc").unwrap();
        assert_eq!(q.number(), 1);
        let q: PageQuery = serde_urlencoded::from_str("page=-4").unwrap();
        assert_eq!(q.number(), 1);
        let q: PageQuery = serde_urlencoded::from_str("page=50").unwrap();
        assert_eq!(q.number(), 50);
    }
}

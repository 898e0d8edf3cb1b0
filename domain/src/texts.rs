//! Interface texts the domain needs (notifications) come from the product's
//! message catalogue, which the web layer owns; the domain sees it through
//! this trait so that no Russian text lives in code.

use std::collections::HashMap;

pub trait Texts: Send + Sync + 'static {
    /// The text for `key` with named arguments; the key itself when missing.
    fn text(&self, key: &str, args: &HashMap<&str, String>) -> String;
}

/// Builds an argument map: `args!["name" => value, …]`.
#[macro_export]
macro_rules! args {
    () => { ::std::collections::HashMap::<&str, String>::new() };
    ($($k:literal => $v:expr),+ $(,)?) => {{
        let mut m = ::std::collections::HashMap::<&str, String>::new();
        $( m.insert($k, ($v).to_string()); )+
        m
    }};
}

/// Echoes keys and arguments; for tests that check what was sent, not how it reads.
pub struct KeyTexts;

impl Texts for KeyTexts {
    fn text(&self, key: &str, args: &HashMap<&str, String>) -> String {
        let mut pairs: Vec<_> = args.iter().map(|(k, v)| format!("{k}={v}")).collect();
        pairs.sort();
        if pairs.is_empty() {
            key.to_string()
        } else {
            format!("{key}({})", pairs.join(", "))
        }
    }
}

//! The brokerage: who the parties are, what they may see, and the rules of
//! the business — requests, matching, quotes, orders, money.
//!
//! The broker stands between suppliers and clients, so the rules that keep
//! each side's identity and prices from the other live here, next to the
//! data, not in the web handlers. Mechanics (workflow steps, timers, the
//! outbox) belong to `engine`; documents and the outside world to
//! `documents` and `connectors`. Every function that reads tenant data takes
//! the acting [`access::Actor`] and scopes its query through [`access::scope`].

pub mod access;
pub mod accounts;
pub mod api_tokens;
pub mod audit;
pub mod catalogue;
pub mod crypto;
pub mod demo;
pub mod employees;
pub mod error;
pub mod export;
pub mod files;
pub mod garage;
pub mod imports;
pub mod intake;
pub mod matching;
pub mod matching_bench;
pub mod notify;
pub mod offers;
pub mod orgs;
pub mod ownership;
pub mod parties;
pub mod quotes;
pub mod rate_limit;
pub mod request_types;
pub mod requests;
pub mod rfq;
pub mod roles;
pub mod scoring;
pub mod search;
pub mod services;
pub mod telegram;
pub mod test_actions;
pub mod texts;
pub mod tokens;
pub mod values;
pub mod wiring;

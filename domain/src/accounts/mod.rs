//! Accounts: people who sign in — users, sessions and sign-in throttling,
//! invitations and password reset, one-time link tokens, API tokens, and
//! linking a Telegram chat to an account.
//!
//! Offers the others the user records and [`tokens`] (one-time links, which
//! parties use for e-mail confirmation and employee invitations). Telegram
//! linking lives here, not in `notify`: it is about proving that a chat
//! belongs to an account (a token spent by the bot); `notify` only reads the
//! linked chat. A person's saved filters of the staff lists
//! ([`saved_filters`]) are theirs like their password. Accounts registers
//! nothing with the workflow engine.

pub mod api_tokens;
pub mod saved_filters;
pub mod session_cache;
pub mod telegram;
pub mod tokens;
mod users;

pub use users::*;

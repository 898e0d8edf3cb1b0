//! Messages to people go through the notification outbox of `connectors`.

pub use connectors::notify::{NewNotification, enqueue};

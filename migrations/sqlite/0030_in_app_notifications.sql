-- In-app notifications: the bell in the header and /notifications. One row
-- per message to a signed-in person, written by notify::tell in the same
-- transaction as the e-mail/SMS/Telegram rows of the outbox. Texts are
-- stored masked (no live one-time link sits in a second table); `link` is
-- the page the message is about, when it has one.
CREATE TABLE user_notifications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    subject         TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    link            TEXT,
    created_at      INTEGER NOT NULL,
    read_at         INTEGER
);
-- The bell's count (unread of one person) and the list (newest first).
CREATE INDEX user_notifications_unread ON user_notifications (user_id, read_at);
CREATE INDEX user_notifications_user ON user_notifications (user_id, id);

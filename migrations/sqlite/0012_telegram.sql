-- The Telegram chat a person linked on their account page: notifications
-- go there too (see domain/src/notify.rs).
ALTER TABLE users ADD COLUMN telegram_chat_id TEXT;

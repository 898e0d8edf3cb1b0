-- Case-insensitive search that works for Cyrillic on both databases:
-- SQLite's LOWER() folds only ASCII, so the application stores a folded copy
-- of what people search by (see domain::search) and queries compare with LIKE.
ALTER TABLE organisations ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
ALTER TABLE machines ADD COLUMN search_text TEXT NOT NULL DEFAULT '';

-- VAT rates as data keyed by date (DESIGN §10): never constants in code.
-- A rate code applies from valid_from until the next row of the same code;
-- the rate of a supply is the one in force on its shipment date. rate_bp is
-- in basis points (2200 = 22 %); NULL means "без НДС" (no VAT is stated),
-- which is not the same as 0 %. See domain/src/values/vat.rs.
CREATE TABLE vat_rates (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    code            TEXT    NOT NULL,
    valid_from      TEXT    NOT NULL,
    rate_bp         INTEGER,
    note            TEXT    NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX vat_rates_code_from ON vat_rates (code, valid_from);

INSERT INTO vat_rates (code, valid_from, rate_bp, note) VALUES
    ('general', '2019-01-01', 2000, '303-ФЗ от 03.08.2018'),
    ('general', '2026-01-01', 2200, '425-ФЗ от 28.11.2025'),
    ('reduced', '2004-01-01', 1000, 'п. 2 ст. 164 НК РФ'),
    ('zero',    '2004-01-01', 0,    'п. 1 ст. 164 НК РФ'),
    ('usn5',    '2025-01-01', 500,  'п. 8 ст. 164 НК РФ, УСН'),
    ('usn7',    '2025-01-01', 700,  'п. 8 ст. 164 НК РФ, УСН'),
    ('none',    '2000-01-01', NULL, 'без НДС');

-- The deal's legal model (resale | agency): on the broker's own row it is
-- the company setting (NULL = resale); on a client's row, the override for
-- that client (NULL = the company setting).
ALTER TABLE organisations ADD COLUMN legal_model TEXT CHECK (legal_model IN ('resale', 'agency'));

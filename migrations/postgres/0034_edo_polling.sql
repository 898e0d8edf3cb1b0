-- EDO operators (issue 13): where each operator's event feed was read up
-- to, and the operators' detached signatures kept with each signature.
--
-- The cursor of an operator's box advances in the transaction that applies
-- the events read before it (domain/src/signing/edo.rs), so after a restart
-- reading goes on from the last applied page: nothing is lost, and what is
-- read again is kept out by `edo_inbound_events`' (provider, event_id).
-- An empty cursor means "from the start of the feed".
CREATE TABLE edo_cursors (
    provider         TEXT    NOT NULL,
    box_id           TEXT    NOT NULL,
    cursor           TEXT    NOT NULL DEFAULT '',
    updated_at       BIGINT  NOT NULL,
    PRIMARY KEY (provider, box_id)
);

-- The detached CMS signature an EDO operator gave back with the signed
-- document (ours and the counterparty's), stored as a generated file.
ALTER TABLE signatures ADD COLUMN cms_storage_key TEXT;

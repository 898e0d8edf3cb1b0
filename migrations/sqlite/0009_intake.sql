-- Request intake (issue 5): what the channels, the hunter → manager rule and
-- the intake report need on top of 0008.

-- The manager an admin has chosen to take a hunter's client over when its
-- first order goes into work (instead of the least loaded one). Only used
-- while the client has no responsible manager yet.
ALTER TABLE organisations ADD COLUMN next_manager_user_id INTEGER REFERENCES users (id);

-- Phone lookup by the contact centre and matching repeat website visitors.
CREATE INDEX organisations_phone ON organisations (phone);
CREATE INDEX organisations_email ON organisations (email);
CREATE INDEX organisations_hunter ON organisations (hunter_user_id);
CREATE INDEX org_contacts_phone ON org_contacts (phone);
CREATE INDEX org_contacts_email ON org_contacts (email);
CREATE INDEX requests_contact_phone ON requests (contact_phone);
CREATE INDEX requests_hunter ON requests (hunter_user_id, created_at);
CREATE INDEX requests_created ON requests (created_at);

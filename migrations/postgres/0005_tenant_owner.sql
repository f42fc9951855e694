-- A tenant keeps its owner as its creator supplied them. Until the owner accepts an invitation
-- the tenant links no user, so no creator can read another's details for the same address.

ALTER TABLE tenants ADD COLUMN owner_email TEXT;
ALTER TABLE tenants ADD COLUMN owner_name TEXT;
ALTER TABLE tenants ADD COLUMN owner_first_name TEXT;
ALTER TABLE tenants ADD COLUMN owner_last_name TEXT;

UPDATE tenants SET
    owner_email = (SELECT u.email FROM users u WHERE u.id = tenants.owner_user_id),
    owner_name = (SELECT u.name FROM users u WHERE u.id = tenants.owner_user_id),
    owner_first_name = (SELECT u.first_name FROM users u WHERE u.id = tenants.owner_user_id),
    owner_last_name = (SELECT u.last_name FROM users u WHERE u.id = tenants.owner_user_id),
    owner_user_id = NULL
WHERE owner_user_id IS NOT NULL;

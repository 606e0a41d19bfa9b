-- A schema outside the application whose view reads a table of it.
CREATE SCHEMA @outside@;
COMMENT ON SCHEMA @outside@ IS 'Not part of the application: depends on its management schema';
CREATE VIEW @outside@.version_report AS
	SELECT id, label, status FROM @management@.versions WHERE status = 'delivered';

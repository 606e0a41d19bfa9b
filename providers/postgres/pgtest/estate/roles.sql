-- The roles the estate grants to. Roles belong to the cluster, not to a
-- database, and tests load estates concurrently: a role created by another
-- load in the meantime is not an error.
DO $roles$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['planb_fixture_reader', 'planb_fixture_writer', 'Planb Fixture Auditor'] LOOP
		IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
			BEGIN
				EXECUTE format('CREATE ROLE %I NOLOGIN', r);
			EXCEPTION WHEN duplicate_object OR unique_violation THEN
				NULL;
			END;
		END IF;
	END LOOP;
END
$roles$;

-- References between the application's schemas.
SET search_path TO @analysis@;

-- A table of analysis with types of dashboard and a foreign key to
-- management.
CREATE TABLE object_grades (
	object_id bigint NOT NULL REFERENCES objects (id),
	version_id integer NOT NULL REFERENCES @management@.versions (id),
	kind @dashboard@.metric_kind NOT NULL,
	grade @dashboard@.grade,
	PRIMARY KEY (object_id, version_id, kind)
);
COMMENT ON TABLE object_grades IS 'Grades per object and version: types of the dashboard, versions of the management schema';

-- A function of analysis returning a type of dashboard.
CREATE FUNCTION kind_of_grade(g numeric) RETURNS @dashboard@.metric_kind LANGUAGE sql IMMUTABLE STRICT
	AS $$ SELECT (CASE WHEN g < 2 THEN 'risk' ELSE 'quality' END)::@dashboard@.metric_kind $$;

-- A view of dashboard over tables of management and dashboard.
CREATE VIEW @dashboard@.version_snapshots AS
	SELECT v.id AS version_id, v.label, s.id AS snapshot_id, s.taken
	FROM @management@.versions v JOIN @dashboard@.snapshots s ON s.taken >= v.delivered AND s.taken < v.delivered + 15;

INSERT INTO object_grades (object_id, version_id, kind, grade)
SELECT 1000000 + 3 * (g % 1200), 100 + 10 * (g % 60), kind_of_grade(1 + (g % 300) / 100.0), 1 + (g % 300) / 100.0
FROM generate_series(1, 300) g;

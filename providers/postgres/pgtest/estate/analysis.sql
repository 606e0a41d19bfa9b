-- The analysis schema: the analysed objects, the links between them and
-- their sources.
CREATE SCHEMA @analysis@;
COMMENT ON SCHEMA @analysis@ IS 'Analysis schema of the fixture';
GRANT USAGE ON SCHEMA @analysis@ TO planb_fixture_reader, planb_fixture_writer;
SET search_path TO @analysis@;

CREATE TYPE object_kind AS ENUM ('program', 'copybook', 'JCL job', 'tâche d''écran', 'table');
CREATE DOMAIN object_path AS text COLLATE "C" CONSTRAINT object_path_trimmed CHECK (VALUE <> '' AND VALUE !~ '\s$');

CREATE TABLE objects (
	id bigint GENERATED ALWAYS AS IDENTITY (START WITH 1000000 INCREMENT BY 3) PRIMARY KEY,
	fullname object_path NOT NULL UNIQUE,
	kind object_kind NOT NULL,
	"ObjectName" text NOT NULL,
	"naïve_size" integer,
	hidden boolean NOT NULL DEFAULT false,
	fullname_hash text GENERATED ALWAYS AS (md5(fullname)) STORED
);
CREATE INDEX objects_name ON objects (lower("ObjectName"));
COMMENT ON TABLE objects IS 'Every object the analyser found';
COMMENT ON COLUMN objects."naïve_size" IS 'Size in lines, as first counted';

ALTER TABLE objects ENABLE ROW LEVEL SECURITY;
ALTER TABLE objects FORCE ROW LEVEL SECURITY;
CREATE POLICY objects_visible ON objects USING (NOT hidden);
CREATE POLICY objects_no_jobs ON objects AS RESTRICTIVE FOR SELECT TO planb_fixture_reader
	USING (kind <> 'JCL job');

CREATE FUNCTION normalize_object() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW."ObjectName" := upper(btrim(NEW."ObjectName"));
	RETURN NEW;
END
$$;
CREATE TRIGGER objects_normalize BEFORE INSERT OR UPDATE OF "ObjectName" ON objects
	FOR EACH ROW EXECUTE FUNCTION normalize_object();

CREATE TABLE links (
	caller bigint NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
	callee bigint NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
	link_type text NOT NULL CONSTRAINT links_type CHECK (link_type IN ('call', 'use', 'include')),
	weight real,
	PRIMARY KEY (caller, callee, link_type)
);
CREATE INDEX links_callee ON links (callee);

CREATE FUNCTION fanout_of(obj bigint) RETURNS bigint LANGUAGE sql STABLE
BEGIN ATOMIC
	SELECT count(*) FROM links WHERE caller = obj;
END;

CREATE VIEW object_fanout AS
	SELECT o.id, o."ObjectName", count(l.callee) AS fanout
	FROM objects o LEFT JOIN links l ON l.caller = o.id
	GROUP BY o.id, o."ObjectName";

-- Several rows of a few hundred KB: some incompressible, one repetitive.
CREATE TABLE source_blobs (
	id integer PRIMARY KEY,
	object_id bigint REFERENCES objects (id),
	path text NOT NULL,
	content bytea NOT NULL,
	size integer GENERATED ALWAYS AS (length(content)) STORED
);
COMMENT ON COLUMN source_blobs.content IS 'Source text as delivered, byte for byte';

CREATE TABLE "Überweisung_日本" (
	"Nummer" integer PRIMARY KEY,
	"Betrag€" numeric(12, 2) NOT NULL,
	"Empfänger" text,
	"列" text[]
);
ALTER TABLE "Überweisung_日本" OWNER TO planb_fixture_writer;

-- Negative and never used: no last value.
CREATE SEQUENCE spare_ids AS bigint INCREMENT BY -1 MINVALUE -1000 MAXVALUE -1 START WITH -100;

GRANT SELECT (id, fullname, kind, "ObjectName") ON objects TO planb_fixture_reader;
GRANT INSERT (caller, callee, link_type), SELECT ON links TO planb_fixture_writer;
GRANT SELECT ON object_fanout TO planb_fixture_reader, "Planb Fixture Auditor";
GRANT SELECT ("Nummer", "Betrag€") ON "Überweisung_日本" TO planb_fixture_reader;

INSERT INTO objects (fullname, kind, "ObjectName", "naïve_size", hidden)
SELECT format('/src/%s/%s_%s.%s', (ARRAY['batch', 'online', 'Ümlaut dir', 'lib'])[1 + g % 4], 'OBJ', g,
		(ARRAY['cbl', 'cpy', 'jcl', 'map', 'sql'])[1 + g % 5]),
	(enum_range(NULL::object_kind))[1 + g % 5],
	format('  obj_%s  ', g),
	CASE WHEN g % 10 = 0 THEN NULL ELSE g * 13 % 5000 END,
	g % 50 = 0
FROM generate_series(1, 1200) g
ORDER BY g;

INSERT INTO links (caller, callee, link_type, weight)
SELECT 1000000 + 3 * (a - 1), 1000000 + 3 * ((a * k * 37 + k) % 1200), (ARRAY['call', 'use'])[k],
	CASE WHEN a % 7 = 0 THEN NULL ELSE (a % 100) / 8.0 END
FROM generate_series(1, 1200) a, generate_series(1, 2) k;

INSERT INTO source_blobs (id, object_id, path, content)
SELECT b, 1000000 + 3 * b, format('/src/blob_%s.bin', b),
	CASE
		WHEN b % 3 = 0 THEN (SELECT string_agg(sha256(int4send(b * 100000 + i)), ''::bytea ORDER BY i)
			FROM generate_series(1, 9000 + b * 1000) i)
		WHEN b = 7 THEN convert_to(repeat('MOVE ZERO TO COUNTER. ', 25000), 'UTF8')
		ELSE sha256(int4send(b))
	END
FROM generate_series(1, 8) b;

INSERT INTO "Überweisung_日本" ("Nummer", "Betrag€", "Empfänger", "列")
SELECT g, g * 1234.56 % 100000, CASE WHEN g % 5 = 0 THEN NULL ELSE 'Empfänger Nr. ' || g END,
	ARRAY['列' || g, 'x"y', NULL]
FROM generate_series(1, 30) g;

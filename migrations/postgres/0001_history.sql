-- The snapshot history on PostgreSQL: the tables of the SQLite history (migrations/0001-0009) in
-- their current shape, for a fleet of hosts pushing into one database. Content is addressed by
-- SHA-256 exactly as in SQLite, so a snapshot pushed from any host shares what another sent.

CREATE TABLE store_identity (id TEXT NOT NULL);
INSERT INTO store_identity VALUES (md5(random()::text || clock_timestamp()::text));

CREATE TABLE snapshots (
    id                BIGSERIAL PRIMARY KEY,
    created_at        TEXT    NOT NULL,         -- UTC, 'YYYY-MM-DD HH:MM:SS.SSS', as in SQLite
    segment_name      TEXT    NOT NULL,
    host              TEXT    NOT NULL,
    generation        BIGINT  NOT NULL,
    message           TEXT,
    parent            BIGINT REFERENCES snapshots(id) ON DELETE SET NULL,
    command           TEXT,
    user_name         TEXT,
    uid               BIGINT,
    pid               BIGINT,
    tool_version      TEXT,
    restored_snapshot BIGINT,
    undo_snapshot     BIGINT
);
CREATE INDEX snapshots_by_segment ON snapshots(segment_name, id);
CREATE INDEX snapshots_by_host ON snapshots(host, segment_name, id);

CREATE TABLE snapshot_origins (
    snapshot     BIGINT PRIMARY KEY REFERENCES snapshots(id) ON DELETE CASCADE,
    origin_store TEXT   NOT NULL,
    origin_id    BIGINT NOT NULL,
    origin_host  TEXT   NOT NULL,
    UNIQUE (origin_store, origin_id)
);

CREATE TABLE tags (
    name     TEXT   PRIMARY KEY,
    snapshot BIGINT NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE
);
CREATE INDEX tags_by_snapshot ON tags(snapshot);

CREATE TABLE blobs (
    id   BIGSERIAL PRIMARY KEY,
    hash BYTEA NOT NULL UNIQUE,
    data BYTEA NOT NULL
);

CREATE TABLE chunks (
    id          BIGSERIAL PRIMARY KEY,
    hash        BYTEA  NOT NULL UNIQUE,
    entry_count BIGINT NOT NULL
);
CREATE TABLE chunk_entries (
    chunk BIGINT NOT NULL,
    key   BYTEA  NOT NULL,
    value BYTEA  NOT NULL,
    PRIMARY KEY (chunk, key)
);

CREATE TABLE map_contents (
    id               BIGSERIAL PRIMARY KEY,
    hash             BYTEA  NOT NULL UNIQUE,
    key_size         BIGINT NOT NULL,
    value_size       BIGINT NOT NULL,
    values_per_entry BIGINT NOT NULL,
    entry_count      BIGINT NOT NULL,
    base             BIGINT,
    layer_entries    BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE map_content_chunks (
    content BIGINT NOT NULL REFERENCES map_contents(id) ON DELETE CASCADE,
    seq     BIGINT NOT NULL,
    chunk   BIGINT NOT NULL REFERENCES chunks(id),
    PRIMARY KEY (content, seq)
);
CREATE INDEX map_content_chunks_by_chunk ON map_content_chunks(chunk);
CREATE TABLE map_content_layers (
    content BIGINT NOT NULL,
    depth   BIGINT NOT NULL,
    layer   BIGINT NOT NULL,
    PRIMARY KEY (content, depth)
);
CREATE TABLE map_content_deltas (
    content BIGINT NOT NULL,
    key     BYTEA  NOT NULL,
    value   BYTEA,
    PRIMARY KEY (content, key)
);

CREATE TABLE handler_states (
    id          BIGSERIAL PRIMARY KEY,
    hash        BYTEA NOT NULL UNIQUE,
    kind        TEXT  NOT NULL,
    name        TEXT,
    attributes  TEXT  NOT NULL CHECK (attributes::jsonb IS NOT NULL),
    program     BIGINT REFERENCES blobs(id),
    map_content BIGINT REFERENCES map_contents(id),
    aot_image   BIGINT REFERENCES blobs(id)
);
CREATE TABLE snapshot_handlers (
    snapshot BIGINT NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    fd       BIGINT NOT NULL,
    state    BIGINT NOT NULL REFERENCES handler_states(id),
    PRIMARY KEY (snapshot, fd)
);
CREATE INDEX snapshot_handlers_by_state ON snapshot_handlers(state);

CREATE TABLE handler_kinds (kind TEXT PRIMARY KEY, name TEXT NOT NULL);
INSERT INTO handler_kinds VALUES
    ('bpf_prog_handler', 'prog'), ('bpf_map_handler', 'map'), ('bpf_perf_event_handler', 'perf_event'),
    ('bpf_link_handler', 'link'), ('epoll_handler', 'epoll'), ('memfd_handler', 'memfd');
CREATE TABLE map_types (map_type BIGINT PRIMARY KEY, name TEXT NOT NULL);
INSERT INTO map_types VALUES
    (1, 'hash'), (2, 'array'), (3, 'prog_array'), (4, 'perf_event_array'), (5, 'percpu_hash'),
    (6, 'percpu_array'), (9, 'lru_hash'), (10, 'lru_percpu_hash'), (22, 'queue'), (23, 'stack'),
    (27, 'ringbuf');

CREATE TABLE restores (
    id            BIGSERIAL PRIMARY KEY,
    restored_at   TEXT   NOT NULL,
    segment_name  TEXT   NOT NULL,
    snapshot      BIGINT NOT NULL,
    undo_snapshot BIGINT NOT NULL UNIQUE,
    fds           TEXT   NOT NULL,
    selection     TEXT
);

-- SQLite's spellings, so that the README's queries run unchanged at the psql prompt.
CREATE FUNCTION json_extract(document TEXT, path TEXT) RETURNS TEXT IMMUTABLE LANGUAGE SQL AS
    $$ SELECT document::jsonb #>> string_to_array(substr(path, 3), '.') $$;
CREATE FUNCTION json_array_length(document TEXT, path TEXT) RETURNS BIGINT IMMUTABLE LANGUAGE SQL AS
    $$ SELECT jsonb_array_length(document::jsonb #> string_to_array(substr(path, 3), '.')) $$;
CREATE FUNCTION hex(bytes BYTEA) RETURNS TEXT IMMUTABLE LANGUAGE SQL AS $$ SELECT upper(encode(bytes, 'hex')) $$;
-- `key = x'01000000'`: in PostgreSQL x'...' is a bit string; compared with bytes, it means its bytes.
CREATE FUNCTION bits_bytes(bits BIT VARYING) RETURNS BYTEA IMMUTABLE LANGUAGE SQL AS $$
    SELECT coalesce(decode(string_agg(lpad(to_hex(substring(bits FROM i * 8 + 1 FOR 8)::bit(8)::int), 2, '0'), '' ORDER BY i), 'hex'), '')
    FROM generate_series(0, length(bits) / 8 - 1) i
    $$;
CREATE FUNCTION bytea_eq_bits(bytes BYTEA, bits BIT VARYING) RETURNS BOOLEAN IMMUTABLE LANGUAGE SQL AS $$ SELECT bytes = bits_bytes(bits) $$;
CREATE OPERATOR = (LEFTARG = BYTEA, RIGHTARG = BIT VARYING, FUNCTION = bytea_eq_bits);
-- Little-endian integer of 1, 2, 4 or 8 bytes (8-byte values of 2^63 and more read negative, as in SQLite).
CREATE FUNCTION le_u64(bytes BYTEA) RETURNS BIGINT IMMUTABLE LANGUAGE SQL AS $$
    SELECT CASE WHEN length(bytes) IN (1, 2, 4, 8) THEN
        ('x' || lpad((SELECT string_agg(lpad(to_hex(get_byte(bytes, i)), 2, '0'), '' ORDER BY i DESC)
                      FROM generate_series(0, length(bytes) - 1) i), 16, '0'))::bit(64)::bigint END
    $$;

-- Views: the same names and columns as the SQLite history's (0005).
CREATE VIEW snapshot_list AS
SELECT s.id, s.created_at, s.segment_name, s.host, s.generation, s.message, s.parent,
       (SELECT string_agg(t.name, ',' ORDER BY t.name) FROM tags t WHERE t.snapshot = s.id) AS tags,
       (SELECT count(*) FROM snapshot_handlers h WHERE h.snapshot = s.id) AS handlers
FROM snapshots s;

CREATE VIEW handlers AS
SELECT h.snapshot, s.segment_name, h.fd, k.name AS kind, st.name, st.attributes,
       encode(coalesce(b.hash, mc.hash), 'hex') AS content_hash,
       st.kind AS bpftime_kind, st.id AS state
FROM snapshot_handlers h
JOIN snapshots s ON s.id = h.snapshot
JOIN handler_states st ON st.id = h.state
JOIN handler_kinds k ON k.kind = st.kind
LEFT JOIN blobs b ON b.id = st.program
LEFT JOIN map_contents mc ON mc.id = st.map_content;

CREATE VIEW programs AS
SELECT h.snapshot, s.segment_name, h.fd, st.name,
       (st.attributes::jsonb ->> 'type')::bigint AS prog_type,
       length(b.data) / 8 AS instructions,
       json_array_length(st.attributes, '$.attachments') AS attachments,
       encode(b.hash, 'hex') AS content_hash,
       b.data AS bytecode,
       length(a.data) AS aot_bytes,
       encode(a.hash, 'hex') AS aot_hash
FROM snapshot_handlers h
JOIN snapshots s ON s.id = h.snapshot
JOIN handler_states st ON st.id = h.state AND st.kind = 'bpf_prog_handler'
JOIN blobs b ON b.id = st.program
LEFT JOIN blobs a ON a.id = st.aot_image;

CREATE VIEW maps AS
SELECT h.snapshot, s.segment_name, h.fd, st.name,
       coalesce(t.name, 'type ' || (st.attributes::jsonb ->> 'map_type')) AS map_type,
       (st.attributes::jsonb ->> 'key_size')::bigint AS key_size,
       (st.attributes::jsonb ->> 'value_size')::bigint AS value_size,
       (st.attributes::jsonb ->> 'max_entries')::bigint AS max_entries,
       mc.entry_count AS entries,
       encode(mc.hash, 'hex') AS content_hash
FROM snapshot_handlers h
JOIN snapshots s ON s.id = h.snapshot
JOIN handler_states st ON st.id = h.state AND st.kind = 'bpf_map_handler'
LEFT JOIN map_types t ON t.map_type = (st.attributes::jsonb ->> 'map_type')::bigint
LEFT JOIN map_contents mc ON mc.id = st.map_content;

CREATE VIEW map_entry_rows AS
SELECT h.snapshot, h.fd, st.name AS map_name, e.key, e.value
FROM snapshot_handlers h
JOIN handler_states st ON st.id = h.state
JOIN map_contents mc ON mc.id = st.map_content
JOIN map_content_chunks c ON c.content = coalesce(mc.base, mc.id)
JOIN chunk_entries e ON e.chunk = c.chunk
WHERE mc.base IS NULL OR NOT EXISTS (
    SELECT 1 FROM map_content_layers l JOIN map_content_deltas d ON d.content = l.layer AND d.key = e.key
    WHERE l.content = mc.id)
UNION ALL
SELECT h.snapshot, h.fd, st.name AS map_name, d.key, d.value
FROM snapshot_handlers h
JOIN handler_states st ON st.id = h.state
JOIN map_content_layers l ON l.content = st.map_content
JOIN map_content_deltas d ON d.content = l.layer
WHERE d.value IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM map_content_layers l2 JOIN map_content_deltas d2 ON d2.content = l2.layer AND d2.key = d.key
    WHERE l2.content = l.content AND l2.depth > l.depth);

CREATE VIEW map_entries AS
SELECT r.snapshot, s.segment_name, r.fd, r.map_name, r.key, r.value,
       encode(r.key, 'hex') AS key_hex, encode(r.value, 'hex') AS value_hex,
       le_u64(r.key) AS key_u64, le_u64(r.value) AS value_u64
FROM map_entry_rows r
JOIN snapshots s ON s.id = r.snapshot;

CREATE VIEW map_key_history AS
SELECT e.map_name, e.segment_name, e.fd, e.key, e.key_hex, e.key_u64, e.snapshot, s.created_at, s.message,
       e.value_hex, e.value_u64
FROM map_entries e
JOIN snapshots s ON s.id = e.snapshot;

CREATE VIEW handler_changes AS
SELECT s.id AS snapshot, s.parent AS previous, s.segment_name, a.fd,
       CASE WHEN b.state IS NULL THEN 'added' ELSE 'changed' END AS change,
       k.name AS kind, na.name, nb.attributes AS old_attributes, na.attributes AS new_attributes,
       (b.state IS NOT NULL AND na.program IS DISTINCT FROM nb.program)::int AS instructions_changed,
       (b.state IS NOT NULL AND na.map_content IS DISTINCT FROM nb.map_content)::int AS entries_changed
FROM snapshots s
JOIN snapshot_handlers a ON a.snapshot = s.id
JOIN handler_states na ON na.id = a.state
JOIN handler_kinds k ON k.kind = na.kind
LEFT JOIN snapshot_handlers b ON b.snapshot = s.parent AND b.fd = a.fd
LEFT JOIN handler_states nb ON nb.id = b.state
WHERE a.state IS DISTINCT FROM b.state
UNION ALL
SELECT s.id, s.parent, s.segment_name, b.fd, 'removed', k.name, nb.name, nb.attributes, NULL, 0, 0
FROM snapshots s
JOIN snapshot_handlers b ON b.snapshot = s.parent
JOIN handler_states nb ON nb.id = b.state
JOIN handler_kinds k ON k.kind = nb.kind
WHERE NOT EXISTS (SELECT 1 FROM snapshot_handlers a WHERE a.snapshot = s.id AND a.fd = b.fd);

CREATE VIEW changed_map_contents AS
SELECT s.id AS snapshot, s.parent AS previous, s.segment_name, a.fd, na.name AS map_name
FROM snapshots s
JOIN snapshot_handlers a ON a.snapshot = s.id
JOIN handler_states na ON na.id = a.state AND na.map_content IS NOT NULL
LEFT JOIN snapshot_handlers b ON b.snapshot = s.parent AND b.fd = a.fd
LEFT JOIN handler_states nb ON nb.id = b.state
WHERE na.map_content IS DISTINCT FROM nb.map_content;

CREATE VIEW map_key_changes AS
SELECT snapshot, previous, segment_name, fd, map_name, key, encode(key, 'hex') AS key_hex,
       encode(old_value, 'hex') AS old_value_hex, encode(new_value, 'hex') AS new_value_hex,
       CASE WHEN old_value IS NULL THEN 'added' WHEN new_value IS NULL THEN 'deleted' ELSE 'changed' END AS change,
       le_u64(key) AS key_u64, le_u64(old_value) AS old_u64, le_u64(new_value) AS new_u64
FROM (
    SELECT c.snapshot, c.previous, c.segment_name, c.fd, c.map_name, n.key,
           (SELECT o.value FROM map_entry_rows o WHERE o.snapshot = c.previous AND o.fd = c.fd AND o.key = n.key) AS old_value,
           n.value AS new_value
    FROM changed_map_contents c
    JOIN map_entry_rows n ON n.snapshot = c.snapshot AND n.fd = c.fd
    UNION ALL
    SELECT c.snapshot, c.previous, c.segment_name, c.fd, c.map_name, o.key, o.value, NULL
    FROM changed_map_contents c
    JOIN map_entry_rows o ON o.snapshot = c.previous AND o.fd = c.fd
    WHERE NOT EXISTS (SELECT 1 FROM map_entry_rows n WHERE n.snapshot = c.snapshot AND n.fd = c.fd AND n.key = o.key)
) changes
WHERE old_value IS DISTINCT FROM new_value;

-- The snapshot history of bpftime segments. See migrations/README.md for the layout and queries.

-- One row per saved state of a segment.
CREATE TABLE snapshots (
    id           INTEGER PRIMARY KEY,
    created_at   TEXT    NOT NULL,              -- UTC, 'YYYY-MM-DD HH:MM:SS.SSS'
    segment_name TEXT    NOT NULL,
    host         TEXT    NOT NULL,
    generation   INTEGER NOT NULL,              -- the segment's generation counter when read
    message      TEXT,
    parent       INTEGER REFERENCES snapshots(id) ON DELETE SET NULL
);

-- A tag names exactly one snapshot.
CREATE TABLE tags (
    name     TEXT    PRIMARY KEY,
    snapshot INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE
);
CREATE INDEX tags_by_snapshot ON tags(snapshot);

-- Program instructions, stored once per distinct content.
CREATE TABLE blobs (
    id   INTEGER PRIMARY KEY,
    hash BLOB    NOT NULL UNIQUE,               -- SHA-256 of data
    data BLOB    NOT NULL
);

-- A run of a map's entries, sorted by key, stored once per distinct content. Chunk boundaries
-- depend on keys only, so changing one entry rewrites one chunk.
CREATE TABLE chunks (
    id          INTEGER PRIMARY KEY,
    hash        BLOB    NOT NULL UNIQUE,        -- SHA-256 of sizes, keys and values
    entry_count INTEGER NOT NULL
);
CREATE TABLE chunk_entries (
    chunk INTEGER NOT NULL,                     -- chunks.id (no FK: checking it per row halves insert speed)
    key   BLOB    NOT NULL,                     -- queue/stack maps: the position, 4 bytes big-endian
    value BLOB    NOT NULL,                     -- per-CPU maps: every CPU's value, concatenated
    PRIMARY KEY (chunk, key)
) WITHOUT ROWID;

-- A map's whole contents: its chunks in key order, stored once per distinct content.
CREATE TABLE map_contents (
    id               INTEGER PRIMARY KEY,
    hash             BLOB    NOT NULL UNIQUE,   -- SHA-256 of sizes and chunk hashes
    key_size         INTEGER NOT NULL,          -- 0 for queue and stack maps
    value_size       INTEGER NOT NULL,
    values_per_entry INTEGER NOT NULL,          -- CPUs for per-CPU maps, else 1
    entry_count      INTEGER NOT NULL
);
CREATE TABLE map_content_chunks (
    content INTEGER NOT NULL REFERENCES map_contents(id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    chunk   INTEGER NOT NULL REFERENCES chunks(id),
    PRIMARY KEY (content, seq)
) WITHOUT ROWID;
CREATE INDEX map_content_chunks_by_chunk ON map_content_chunks(chunk);

-- Maps' contents as the segment listed them, unsorted: saving a map listed exactly as before
-- finds its contents here without sorting and chunking it again.
CREATE TABLE map_content_sources (
    hash    BLOB    PRIMARY KEY,                -- fingerprint of sizes, keys and values as listed
    content INTEGER NOT NULL REFERENCES map_contents(id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX map_content_sources_by_content ON map_content_sources(content);

-- A handler's whole state (kind, name, attributes, content), stored once per distinct state so
-- that saving an unchanged segment costs one small row per fd.
CREATE TABLE handler_states (
    id          INTEGER PRIMARY KEY,
    hash        BLOB    NOT NULL UNIQUE,        -- SHA-256 of everything below
    kind        TEXT    NOT NULL,               -- bpftime's type name, e.g. 'bpf_map_handler'
    name        TEXT,
    attributes  TEXT    NOT NULL CHECK (json_valid(attributes)),
    program     INTEGER REFERENCES blobs(id),        -- programs: their instructions
    map_content INTEGER REFERENCES map_contents(id)  -- maps with known contents
);

-- The handler table of each snapshot.
CREATE TABLE snapshot_handlers (
    snapshot INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    fd       INTEGER NOT NULL,
    state    INTEGER NOT NULL REFERENCES handler_states(id),
    PRIMARY KEY (snapshot, fd)
) WITHOUT ROWID;
CREATE INDEX snapshot_handlers_by_state ON snapshot_handlers(state);

-- Readable names for people at the sqlite3 prompt.
CREATE TABLE handler_kinds (kind TEXT PRIMARY KEY, name TEXT NOT NULL) WITHOUT ROWID;
INSERT INTO handler_kinds VALUES
    ('bpf_prog_handler', 'prog'), ('bpf_map_handler', 'map'), ('bpf_perf_event_handler', 'perf_event'),
    ('bpf_link_handler', 'link'), ('epoll_handler', 'epoll'), ('memfd_handler', 'memfd');
CREATE TABLE map_types (map_type INTEGER PRIMARY KEY, name TEXT NOT NULL);
INSERT INTO map_types VALUES
    (1, 'hash'), (2, 'array'), (3, 'prog_array'), (4, 'perf_event_array'), (5, 'percpu_hash'),
    (6, 'percpu_array'), (9, 'lru_hash'), (10, 'lru_percpu_hash'), (22, 'queue'), (23, 'stack'),
    (27, 'ringbuf');

-- Views --------------------------------------------------------------------------------------

CREATE VIEW snapshot_list AS
SELECT s.id, s.created_at, s.segment_name, s.host, s.generation, s.message, s.parent,
       (SELECT group_concat(t.name, ',') FROM (SELECT name FROM tags WHERE snapshot = s.id ORDER BY name) t) AS tags,
       (SELECT count(*) FROM snapshot_handlers h WHERE h.snapshot = s.id) AS handlers
FROM snapshots s;

CREATE VIEW handlers AS
SELECT h.snapshot, h.fd, k.name AS kind, st.name, st.attributes,
       lower(hex(coalesce(b.hash, mc.hash))) AS content_hash,
       st.kind AS bpftime_kind, st.id AS state
FROM snapshot_handlers h
JOIN handler_states st ON st.id = h.state
JOIN handler_kinds k ON k.kind = st.kind
LEFT JOIN blobs b ON b.id = st.program
LEFT JOIN map_contents mc ON mc.id = st.map_content;

CREATE VIEW programs AS
SELECT h.snapshot, h.fd, st.name,
       json_extract(st.attributes, '$.type') AS prog_type,
       length(b.data) / 8 AS instructions,
       json_array_length(st.attributes, '$.attachments') AS attachments,
       lower(hex(b.hash)) AS content_hash,
       b.data AS bytecode
FROM snapshot_handlers h
JOIN handler_states st ON st.id = h.state AND st.kind = 'bpf_prog_handler'
JOIN blobs b ON b.id = st.program;

CREATE VIEW maps AS
SELECT h.snapshot, h.fd, st.name,
       coalesce(t.name, 'type ' || json_extract(st.attributes, '$.map_type')) AS map_type,
       json_extract(st.attributes, '$.key_size') AS key_size,
       json_extract(st.attributes, '$.value_size') AS value_size,
       json_extract(st.attributes, '$.max_entries') AS max_entries,
       mc.entry_count AS entries,
       lower(hex(mc.hash)) AS content_hash
FROM snapshot_handlers h
JOIN handler_states st ON st.id = h.state AND st.kind = 'bpf_map_handler'
LEFT JOIN map_types t ON t.map_type = json_extract(st.attributes, '$.map_type')
LEFT JOIN map_contents mc ON mc.id = st.map_content;

-- Filter on `key = x'...'` (not key_hex) to look keys up through the primary key.
CREATE VIEW map_entries AS
SELECT h.snapshot, h.fd, st.name AS map_name, e.key, e.value,
       lower(hex(e.key)) AS key_hex, lower(hex(e.value)) AS value_hex
FROM snapshot_handlers h
JOIN handler_states st ON st.id = h.state AND st.map_content IS NOT NULL
JOIN map_content_chunks c ON c.content = st.map_content
JOIN chunk_entries e ON e.chunk = c.chunk;

CREATE VIEW map_key_history AS
SELECT e.map_name, e.fd, e.key, e.key_hex, e.snapshot, s.created_at, s.message, e.value_hex
FROM map_entries e
JOIN snapshots s ON s.id = e.snapshot;

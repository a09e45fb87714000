-- Views for change, not only state; the segment of every snapshot row; map keys and values of
-- 1, 2, 4 or 8 bytes decoded as little-endian integers (key_u64, value_u64: SQLite integers are
-- signed 64-bit, so 8-byte values of 2^63 and more read negative).

DROP VIEW map_key_history;
DROP VIEW map_entries;
DROP VIEW maps;
DROP VIEW programs;
DROP VIEW handlers;

CREATE VIEW handlers AS
SELECT h.snapshot, s.segment_name, h.fd, k.name AS kind, st.name, st.attributes,
       lower(hex(coalesce(b.hash, mc.hash))) AS content_hash,
       st.kind AS bpftime_kind, st.id AS state
FROM snapshot_handlers h
JOIN snapshots s ON s.id = h.snapshot
JOIN handler_states st ON st.id = h.state
JOIN handler_kinds k ON k.kind = st.kind
LEFT JOIN blobs b ON b.id = st.program
LEFT JOIN map_contents mc ON mc.id = st.map_content;

CREATE VIEW programs AS
SELECT h.snapshot, s.segment_name, h.fd, st.name,
       json_extract(st.attributes, '$.type') AS prog_type,
       length(b.data) / 8 AS instructions,
       json_array_length(st.attributes, '$.attachments') AS attachments,
       lower(hex(b.hash)) AS content_hash,
       b.data AS bytecode,
       length(a.data) AS aot_bytes,
       lower(hex(a.hash)) AS aot_hash
FROM snapshot_handlers h
JOIN snapshots s ON s.id = h.snapshot
JOIN handler_states st ON st.id = h.state AND st.kind = 'bpf_prog_handler'
JOIN blobs b ON b.id = st.program
LEFT JOIN blobs a ON a.id = st.aot_image;

CREATE VIEW maps AS
SELECT h.snapshot, s.segment_name, h.fd, st.name,
       coalesce(t.name, 'type ' || json_extract(st.attributes, '$.map_type')) AS map_type,
       json_extract(st.attributes, '$.key_size') AS key_size,
       json_extract(st.attributes, '$.value_size') AS value_size,
       json_extract(st.attributes, '$.max_entries') AS max_entries,
       mc.entry_count AS entries,
       lower(hex(mc.hash)) AS content_hash
FROM snapshot_handlers h
JOIN snapshots s ON s.id = h.snapshot
JOIN handler_states st ON st.id = h.state AND st.kind = 'bpf_map_handler'
LEFT JOIN map_types t ON t.map_type = json_extract(st.attributes, '$.map_type')
LEFT JOIN map_contents mc ON mc.id = st.map_content;

-- Internal: the entries of each snapshot's maps (base entries no layer replaced, then each
-- key's newest layered value unless it was a deletion), as 0004 defined map_entries.
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

-- Filter on `key = x'...'` (not key_hex) to look keys up through the keys.
CREATE VIEW map_entries AS
SELECT r.snapshot, s.segment_name, r.fd, r.map_name, r.key, r.value, r.key_hex, r.value_hex,
       CASE WHEN length(r.key_hex) IN (2, 4, 8, 16) THEN
            ((instr('0123456789abcdef', substr(r.key_hex, 1, 1)) - 1) << 4) |
            ((instr('0123456789abcdef', substr(r.key_hex, 2, 1)) - 1) << 0) |
            ((instr('0123456789abcdef', substr(r.key_hex, 3, 1)) - 1) << 12) |
            ((instr('0123456789abcdef', substr(r.key_hex, 4, 1)) - 1) << 8) |
            ((instr('0123456789abcdef', substr(r.key_hex, 5, 1)) - 1) << 20) |
            ((instr('0123456789abcdef', substr(r.key_hex, 6, 1)) - 1) << 16) |
            ((instr('0123456789abcdef', substr(r.key_hex, 7, 1)) - 1) << 28) |
            ((instr('0123456789abcdef', substr(r.key_hex, 8, 1)) - 1) << 24) |
            ((instr('0123456789abcdef', substr(r.key_hex, 9, 1)) - 1) << 36) |
            ((instr('0123456789abcdef', substr(r.key_hex, 10, 1)) - 1) << 32) |
            ((instr('0123456789abcdef', substr(r.key_hex, 11, 1)) - 1) << 44) |
            ((instr('0123456789abcdef', substr(r.key_hex, 12, 1)) - 1) << 40) |
            ((instr('0123456789abcdef', substr(r.key_hex, 13, 1)) - 1) << 52) |
            ((instr('0123456789abcdef', substr(r.key_hex, 14, 1)) - 1) << 48) |
            ((instr('0123456789abcdef', substr(r.key_hex, 15, 1)) - 1) << 60) |
            ((instr('0123456789abcdef', substr(r.key_hex, 16, 1)) - 1) << 56) END AS key_u64,
       CASE WHEN length(r.value_hex) IN (2, 4, 8, 16) THEN
            ((instr('0123456789abcdef', substr(r.value_hex, 1, 1)) - 1) << 4) |
            ((instr('0123456789abcdef', substr(r.value_hex, 2, 1)) - 1) << 0) |
            ((instr('0123456789abcdef', substr(r.value_hex, 3, 1)) - 1) << 12) |
            ((instr('0123456789abcdef', substr(r.value_hex, 4, 1)) - 1) << 8) |
            ((instr('0123456789abcdef', substr(r.value_hex, 5, 1)) - 1) << 20) |
            ((instr('0123456789abcdef', substr(r.value_hex, 6, 1)) - 1) << 16) |
            ((instr('0123456789abcdef', substr(r.value_hex, 7, 1)) - 1) << 28) |
            ((instr('0123456789abcdef', substr(r.value_hex, 8, 1)) - 1) << 24) |
            ((instr('0123456789abcdef', substr(r.value_hex, 9, 1)) - 1) << 36) |
            ((instr('0123456789abcdef', substr(r.value_hex, 10, 1)) - 1) << 32) |
            ((instr('0123456789abcdef', substr(r.value_hex, 11, 1)) - 1) << 44) |
            ((instr('0123456789abcdef', substr(r.value_hex, 12, 1)) - 1) << 40) |
            ((instr('0123456789abcdef', substr(r.value_hex, 13, 1)) - 1) << 52) |
            ((instr('0123456789abcdef', substr(r.value_hex, 14, 1)) - 1) << 48) |
            ((instr('0123456789abcdef', substr(r.value_hex, 15, 1)) - 1) << 60) |
            ((instr('0123456789abcdef', substr(r.value_hex, 16, 1)) - 1) << 56) END AS value_u64
FROM (SELECT *, lower(hex(key)) AS key_hex, lower(hex(value)) AS value_hex FROM map_entry_rows) r
JOIN snapshots s ON s.id = r.snapshot;

CREATE VIEW map_key_history AS
SELECT e.map_name, e.segment_name, e.fd, e.key, e.key_hex, e.key_u64, e.snapshot, s.created_at, s.message,
       e.value_hex, e.value_u64
FROM map_entries e
JOIN snapshots s ON s.id = e.snapshot;

-- Every handler that differs from the snapshot before it of the same segment (its parent):
-- change is 'added', 'removed' or 'changed'. A segment's first snapshot adds all its handlers.
CREATE VIEW handler_changes AS
SELECT s.id AS snapshot, s.parent AS previous, s.segment_name, a.fd,
       CASE WHEN b.state IS NULL THEN 'added' ELSE 'changed' END AS change,
       k.name AS kind, na.name, nb.attributes AS old_attributes, na.attributes AS new_attributes,
       b.state IS NOT NULL AND na.program IS NOT nb.program AS instructions_changed,
       b.state IS NOT NULL AND na.map_content IS NOT nb.map_content AS entries_changed
FROM snapshots s
JOIN snapshot_handlers a ON a.snapshot = s.id
JOIN handler_states na ON na.id = a.state
JOIN handler_kinds k ON k.kind = na.kind
LEFT JOIN snapshot_handlers b ON b.snapshot = s.parent AND b.fd = a.fd
LEFT JOIN handler_states nb ON nb.id = b.state
WHERE a.state IS NOT b.state
UNION ALL
SELECT s.id, s.parent, s.segment_name, b.fd, 'removed', k.name, nb.name, nb.attributes, NULL, 0, 0
FROM snapshots s
JOIN snapshot_handlers b ON b.snapshot = s.parent
JOIN handler_states nb ON nb.id = b.state
JOIN handler_kinds k ON k.kind = nb.kind
WHERE NOT EXISTS (SELECT 1 FROM snapshot_handlers a WHERE a.snapshot = s.id AND a.fd = b.fd);

-- Internal: maps whose entries differ from the same fd's in the snapshot before.
CREATE VIEW changed_map_contents AS
SELECT s.id AS snapshot, s.parent AS previous, s.segment_name, a.fd, na.name AS map_name
FROM snapshots s
JOIN snapshot_handlers a ON a.snapshot = s.id
JOIN handler_states na ON na.id = a.state AND na.map_content IS NOT NULL
LEFT JOIN snapshot_handlers b ON b.snapshot = s.parent AND b.fd = a.fd
LEFT JOIN handler_states nb ON nb.id = b.state
WHERE na.map_content IS NOT nb.map_content;

-- Every map entry that differs from the snapshot before it of the same segment: change is
-- 'added', 'deleted' or 'changed', with the old and the new value (NULL where absent). Maps
-- the snapshot no longer has are in handler_changes.
CREATE VIEW map_key_changes AS
SELECT snapshot, previous, segment_name, fd, map_name, key, key_hex, old_value_hex, new_value_hex,
       CASE WHEN old_value_hex IS NULL THEN 'added' WHEN new_value_hex IS NULL THEN 'deleted' ELSE 'changed' END AS change,
       CASE WHEN length(key_hex) IN (2, 4, 8, 16) THEN
            ((instr('0123456789abcdef', substr(key_hex, 1, 1)) - 1) << 4) |
            ((instr('0123456789abcdef', substr(key_hex, 2, 1)) - 1) << 0) |
            ((instr('0123456789abcdef', substr(key_hex, 3, 1)) - 1) << 12) |
            ((instr('0123456789abcdef', substr(key_hex, 4, 1)) - 1) << 8) |
            ((instr('0123456789abcdef', substr(key_hex, 5, 1)) - 1) << 20) |
            ((instr('0123456789abcdef', substr(key_hex, 6, 1)) - 1) << 16) |
            ((instr('0123456789abcdef', substr(key_hex, 7, 1)) - 1) << 28) |
            ((instr('0123456789abcdef', substr(key_hex, 8, 1)) - 1) << 24) |
            ((instr('0123456789abcdef', substr(key_hex, 9, 1)) - 1) << 36) |
            ((instr('0123456789abcdef', substr(key_hex, 10, 1)) - 1) << 32) |
            ((instr('0123456789abcdef', substr(key_hex, 11, 1)) - 1) << 44) |
            ((instr('0123456789abcdef', substr(key_hex, 12, 1)) - 1) << 40) |
            ((instr('0123456789abcdef', substr(key_hex, 13, 1)) - 1) << 52) |
            ((instr('0123456789abcdef', substr(key_hex, 14, 1)) - 1) << 48) |
            ((instr('0123456789abcdef', substr(key_hex, 15, 1)) - 1) << 60) |
            ((instr('0123456789abcdef', substr(key_hex, 16, 1)) - 1) << 56) END AS key_u64,
       CASE WHEN length(old_value_hex) IN (2, 4, 8, 16) THEN
            ((instr('0123456789abcdef', substr(old_value_hex, 1, 1)) - 1) << 4) |
            ((instr('0123456789abcdef', substr(old_value_hex, 2, 1)) - 1) << 0) |
            ((instr('0123456789abcdef', substr(old_value_hex, 3, 1)) - 1) << 12) |
            ((instr('0123456789abcdef', substr(old_value_hex, 4, 1)) - 1) << 8) |
            ((instr('0123456789abcdef', substr(old_value_hex, 5, 1)) - 1) << 20) |
            ((instr('0123456789abcdef', substr(old_value_hex, 6, 1)) - 1) << 16) |
            ((instr('0123456789abcdef', substr(old_value_hex, 7, 1)) - 1) << 28) |
            ((instr('0123456789abcdef', substr(old_value_hex, 8, 1)) - 1) << 24) |
            ((instr('0123456789abcdef', substr(old_value_hex, 9, 1)) - 1) << 36) |
            ((instr('0123456789abcdef', substr(old_value_hex, 10, 1)) - 1) << 32) |
            ((instr('0123456789abcdef', substr(old_value_hex, 11, 1)) - 1) << 44) |
            ((instr('0123456789abcdef', substr(old_value_hex, 12, 1)) - 1) << 40) |
            ((instr('0123456789abcdef', substr(old_value_hex, 13, 1)) - 1) << 52) |
            ((instr('0123456789abcdef', substr(old_value_hex, 14, 1)) - 1) << 48) |
            ((instr('0123456789abcdef', substr(old_value_hex, 15, 1)) - 1) << 60) |
            ((instr('0123456789abcdef', substr(old_value_hex, 16, 1)) - 1) << 56) END AS old_u64,
       CASE WHEN length(new_value_hex) IN (2, 4, 8, 16) THEN
            ((instr('0123456789abcdef', substr(new_value_hex, 1, 1)) - 1) << 4) |
            ((instr('0123456789abcdef', substr(new_value_hex, 2, 1)) - 1) << 0) |
            ((instr('0123456789abcdef', substr(new_value_hex, 3, 1)) - 1) << 12) |
            ((instr('0123456789abcdef', substr(new_value_hex, 4, 1)) - 1) << 8) |
            ((instr('0123456789abcdef', substr(new_value_hex, 5, 1)) - 1) << 20) |
            ((instr('0123456789abcdef', substr(new_value_hex, 6, 1)) - 1) << 16) |
            ((instr('0123456789abcdef', substr(new_value_hex, 7, 1)) - 1) << 28) |
            ((instr('0123456789abcdef', substr(new_value_hex, 8, 1)) - 1) << 24) |
            ((instr('0123456789abcdef', substr(new_value_hex, 9, 1)) - 1) << 36) |
            ((instr('0123456789abcdef', substr(new_value_hex, 10, 1)) - 1) << 32) |
            ((instr('0123456789abcdef', substr(new_value_hex, 11, 1)) - 1) << 44) |
            ((instr('0123456789abcdef', substr(new_value_hex, 12, 1)) - 1) << 40) |
            ((instr('0123456789abcdef', substr(new_value_hex, 13, 1)) - 1) << 52) |
            ((instr('0123456789abcdef', substr(new_value_hex, 14, 1)) - 1) << 48) |
            ((instr('0123456789abcdef', substr(new_value_hex, 15, 1)) - 1) << 60) |
            ((instr('0123456789abcdef', substr(new_value_hex, 16, 1)) - 1) << 56) END AS new_u64
FROM (
    -- Looked up one key at a time (a correlated subquery), never the whole previous map.
    SELECT c.snapshot, c.previous, c.segment_name, c.fd, c.map_name, n.key, lower(hex(n.key)) AS key_hex,
           nullif(lower(hex((SELECT o.value FROM map_entry_rows o WHERE o.snapshot = c.previous AND o.fd = c.fd AND o.key = n.key))), '') AS old_value_hex,
           lower(hex(n.value)) AS new_value_hex
    FROM changed_map_contents c
    JOIN map_entry_rows n ON n.snapshot = c.snapshot AND n.fd = c.fd
    UNION ALL
    SELECT c.snapshot, c.previous, c.segment_name, c.fd, c.map_name, o.key, lower(hex(o.key)), lower(hex(o.value)), NULL
    FROM changed_map_contents c
    JOIN map_entry_rows o ON o.snapshot = c.previous AND o.fd = c.fd
    WHERE NOT EXISTS (SELECT 1 FROM map_entry_rows n WHERE n.snapshot = c.snapshot AND n.fd = c.fd AND n.key = o.key)
)
WHERE old_value_hex IS NOT new_value_hex;

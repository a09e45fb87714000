-- As SQLite's 0008: `handlers` and `handler_changes` list a handler whose kind has no
-- handler_kinds row under its stored kind, instead of dropping it.

CREATE OR REPLACE VIEW handlers AS
SELECT h.snapshot, s.segment_name, h.fd, coalesce(k.name, st.kind) AS kind, st.name, st.attributes,
       encode(coalesce(b.hash, mc.hash), 'hex') AS content_hash,
       st.kind AS bpftime_kind, st.id AS state
FROM snapshot_handlers h
JOIN snapshots s ON s.id = h.snapshot
JOIN handler_states st ON st.id = h.state
LEFT JOIN handler_kinds k ON k.kind = st.kind
LEFT JOIN blobs b ON b.id = st.program
LEFT JOIN map_contents mc ON mc.id = st.map_content;

CREATE OR REPLACE VIEW handler_changes AS
SELECT s.id AS snapshot, s.parent AS previous, s.segment_name, a.fd,
       CASE WHEN b.state IS NULL THEN 'added' ELSE 'changed' END AS change,
       coalesce(k.name, na.kind) AS kind, na.name, nb.attributes AS old_attributes, na.attributes AS new_attributes,
       (b.state IS NOT NULL AND na.program IS DISTINCT FROM nb.program)::int AS instructions_changed,
       (b.state IS NOT NULL AND na.map_content IS DISTINCT FROM nb.map_content)::int AS entries_changed
FROM snapshots s
JOIN snapshot_handlers a ON a.snapshot = s.id
JOIN handler_states na ON na.id = a.state
LEFT JOIN handler_kinds k ON k.kind = na.kind
LEFT JOIN snapshot_handlers b ON b.snapshot = s.parent AND b.fd = a.fd
LEFT JOIN handler_states nb ON nb.id = b.state
WHERE a.state IS DISTINCT FROM b.state
UNION ALL
SELECT s.id, s.parent, s.segment_name, b.fd, 'removed', coalesce(k.name, nb.kind), nb.name, nb.attributes, NULL, 0, 0
FROM snapshots s
JOIN snapshot_handlers b ON b.snapshot = s.parent
JOIN handler_states nb ON nb.id = b.state
LEFT JOIN handler_kinds k ON k.kind = nb.kind
WHERE NOT EXISTS (SELECT 1 FROM snapshot_handlers a WHERE a.snapshot = s.id AND a.fd = b.fd);

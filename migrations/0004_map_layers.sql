-- Map contents stored as change layers over a base, so that saving a map where k entries
-- changed adds O(k) rows. A base is stored as before (its chunks in map_content_chunks); a
-- layered contents is its base plus the changes of every layer of its chain, newest winning.
-- Contents stored before this migration are all bases and read as before.

-- NULL: a base. Else the base the layers of this contents apply to.
ALTER TABLE map_contents ADD COLUMN base INTEGER;
-- Rows in the layers of its chain: what reading it costs beyond its base.
ALTER TABLE map_contents ADD COLUMN layer_entries INTEGER NOT NULL DEFAULT 0;

-- The chain of a layered contents, oldest layer first (depth 1); its own layer is the deepest.
-- (No foreign keys on these two tables: `snap gc` decides what is still used.)
CREATE TABLE map_content_layers (
    content INTEGER NOT NULL,                   -- map_contents.id of the layered contents
    depth   INTEGER NOT NULL,
    layer   INTEGER NOT NULL,                   -- map_contents.id whose own changes this is
    PRIMARY KEY (content, depth)
) WITHOUT ROWID;

-- One layer's changes against the contents it was saved over.
CREATE TABLE map_content_deltas (
    content INTEGER NOT NULL,                   -- map_contents.id of the layer
    key     BLOB    NOT NULL,                   -- as in chunk_entries
    value   BLOB,                               -- NULL: the key was deleted
    PRIMARY KEY (content, key)
) WITHOUT ROWID;

-- Views --------------------------------------------------------------------------------------

DROP VIEW map_key_history;
DROP VIEW map_entries;

-- Base entries no layer of the chain replaced, then each key's newest layered value unless it
-- was a deletion. Filter on `key = x'...'` (not key_hex) to look keys up through the keys.
CREATE VIEW map_entries AS
SELECT h.snapshot, h.fd, st.name AS map_name, e.key, e.value,
       lower(hex(e.key)) AS key_hex, lower(hex(e.value)) AS value_hex
FROM snapshot_handlers h
JOIN handler_states st ON st.id = h.state
JOIN map_contents mc ON mc.id = st.map_content
JOIN map_content_chunks c ON c.content = coalesce(mc.base, mc.id)
JOIN chunk_entries e ON e.chunk = c.chunk
WHERE mc.base IS NULL OR NOT EXISTS (
    SELECT 1 FROM map_content_layers l JOIN map_content_deltas d ON d.content = l.layer AND d.key = e.key
    WHERE l.content = mc.id)
UNION ALL
SELECT h.snapshot, h.fd, st.name AS map_name, d.key, d.value,
       lower(hex(d.key)) AS key_hex, lower(hex(d.value)) AS value_hex
FROM snapshot_handlers h
JOIN handler_states st ON st.id = h.state
JOIN map_content_layers l ON l.content = st.map_content
JOIN map_content_deltas d ON d.content = l.layer
WHERE d.value IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM map_content_layers l2 JOIN map_content_deltas d2 ON d2.content = l2.layer AND d2.key = d.key
    WHERE l2.content = l.content AND l2.depth > l.depth);

CREATE VIEW map_key_history AS
SELECT e.map_name, e.fd, e.key, e.key_hex, e.snapshot, s.created_at, s.message, e.value_hex
FROM map_entries e
JOIN snapshots s ON s.id = e.snapshot;

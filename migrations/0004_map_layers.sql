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

-- The views that read map entries are redefined for layers by 0005.

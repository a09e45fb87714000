-- Snapshot ids are never reused: `snapshots` is rebuilt with AUTOINCREMENT (SQLite cannot add
-- it in place), keeping every row, and the views that read it are recreated unchanged. The
-- migrator runs this with foreign keys off and checks them before committing, so dropping the
-- old table cascades nothing.
DROP VIEW snapshot_list;
DROP VIEW map_key_history;

CREATE TABLE snapshots_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at   TEXT    NOT NULL,              -- UTC, 'YYYY-MM-DD HH:MM:SS.SSS'
    segment_name TEXT    NOT NULL,
    host         TEXT    NOT NULL,
    generation   INTEGER NOT NULL,              -- the segment's generation counter when read
    message      TEXT,
    parent       INTEGER REFERENCES snapshots(id) ON DELETE SET NULL
);
INSERT INTO snapshots_new (id, created_at, segment_name, host, generation, message, parent)
    SELECT id, created_at, segment_name, host, generation, message, parent FROM snapshots;
DROP TABLE snapshots;
ALTER TABLE snapshots_new RENAME TO snapshots;

CREATE VIEW snapshot_list AS
SELECT s.id, s.created_at, s.segment_name, s.host, s.generation, s.message, s.parent,
       (SELECT group_concat(t.name, ',') FROM (SELECT name FROM tags WHERE snapshot = s.id ORDER BY name) t) AS tags,
       (SELECT count(*) FROM snapshot_handlers h WHERE h.snapshot = s.id) AS handlers
FROM snapshots s;

CREATE VIEW map_key_history AS
SELECT e.map_name, e.fd, e.key, e.key_hex, e.snapshot, s.created_at, s.message, e.value_hex
FROM map_entries e
JOIN snapshots s ON s.id = e.snapshot;

-- One row per applied restore: what was rolled back to, when, which fds, and the snapshot of
-- the state before it (its undo). Snapshot ids are kept as numbers, not foreign keys: removing
-- a snapshot does not rewrite what happened.
CREATE TABLE restores (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    restored_at      TEXT    NOT NULL,          -- UTC, 'YYYY-MM-DD HH:MM:SS.SSS'
    segment_name     TEXT    NOT NULL,
    snapshot         INTEGER NOT NULL,          -- the snapshot restored
    undo_snapshot    INTEGER NOT NULL UNIQUE,   -- the state before the restore
    fds              TEXT    NOT NULL CHECK (json_valid(fds)),  -- JSON array of the fds changed
    selection        TEXT    CHECK (selection IS NULL OR json_valid(selection))  -- --fd list, NULL for all
);
CREATE INDEX restores_by_snapshot ON restores(snapshot);

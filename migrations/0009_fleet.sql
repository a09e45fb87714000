-- Push and pull between histories (SQLite and PostgreSQL). Numbered 0009 so that 0007/0008 stay
-- free for other work on the SQLite schema.

-- This history's identity, recorded as the origin of every snapshot it sends.
CREATE TABLE store_identity (
    id TEXT NOT NULL                            -- random, 32 hex digits
);
INSERT INTO store_identity VALUES (lower(hex(randomblob(16))));

-- Where a snapshot that arrived by push or pull was first saved: pushing it again (from here or
-- from any history that has it) finds it here and sends nothing.
CREATE TABLE snapshot_origins (
    snapshot     INTEGER PRIMARY KEY REFERENCES snapshots(id) ON DELETE CASCADE,
    origin_store TEXT    NOT NULL,              -- store_identity.id of the history that saved it
    origin_id    INTEGER NOT NULL,              -- its id there
    origin_host  TEXT    NOT NULL,
    UNIQUE (origin_store, origin_id)
);

-- Named remotes for `snap push NAME` / `snap pull NAME`. The URL is kept as given (a password in
-- it stays in this file, mode 0600, and is masked whenever it is printed).
CREATE TABLE remotes (
    name TEXT PRIMARY KEY,
    url  TEXT NOT NULL
) WITHOUT ROWID;

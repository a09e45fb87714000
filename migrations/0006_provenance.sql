-- Who and what made each snapshot: the tool records every export and every change it makes,
-- with the command line (secrets masked), the user, uid, pid and tool version (the host is
-- already `host`). For the state after a restore, the snapshot restored and the undo snapshot
-- (kept as numbers, like `restores`: removing a snapshot does not rewrite what happened).
-- NULL throughout for snapshots saved before this migration or by embedders that give none.
ALTER TABLE snapshots ADD COLUMN command           TEXT;
ALTER TABLE snapshots ADD COLUMN user_name         TEXT;
ALTER TABLE snapshots ADD COLUMN uid               INTEGER;
ALTER TABLE snapshots ADD COLUMN pid               INTEGER;
ALTER TABLE snapshots ADD COLUMN tool_version      TEXT;
ALTER TABLE snapshots ADD COLUMN restored_snapshot INTEGER;
ALTER TABLE snapshots ADD COLUMN undo_snapshot     INTEGER;

-- "The segment's latest snapshot", asked by every recorded change.
CREATE INDEX snapshots_by_segment ON snapshots(segment_name, id);

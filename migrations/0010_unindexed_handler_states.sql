-- Every snapshot has one snapshot_handlers row per fd, and a recorded change copies the rows of
-- its base. An index by state puts each copied row beside the same state's rows of every earlier
-- snapshot, so a save of N handlers rewrote about N index pages spread over the whole index: a
-- cost that grew with the history (1.1 MB of WAL per recorded change of a 10,000-handler segment
-- after 6 snapshots, 0.17 MB without it). Only `snap gc` looked states up this way; it now finds
-- unused states with one scan, foreign keys off for that delete.
DROP INDEX snapshot_handlers_by_state;

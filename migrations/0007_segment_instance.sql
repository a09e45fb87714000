-- The segment instance a snapshot was read from (its random `instance` header word, drawn when
-- the segment was created): a generation names one state only within one instance, since a
-- segment removed and created again under the same name counts its generations from zero.
-- A recorded change whose segment is at the instance and generation of the segment's latest
-- snapshot knows that snapshot is the state it started from, and stores only its own delta.
-- NULL for snapshots saved before this migration, by `snap import`, or by embedders.
ALTER TABLE snapshots ADD COLUMN segment_instance INTEGER;

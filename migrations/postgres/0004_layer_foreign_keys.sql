-- A layered map contents names its base (map_contents.base) and the layers of its chain
-- (map_content_layers.layer) by id: with foreign keys the server refuses a reference to
-- contents that are not there, so a push racing a gc that deleted them fails as a conflict
-- (and succeeds when run again) instead of storing a snapshot that cannot be read. (SQLite has
-- none on these columns: a SQLite history has one writer, whose gc and saves do not race.)
-- The indexes serve the checks a gc's deletes make: without them each deleted contents would
-- scan both tables.
CREATE INDEX map_contents_by_base ON map_contents(base) WHERE base IS NOT NULL;
CREATE INDEX map_content_layers_by_layer ON map_content_layers(layer);
-- Added without checking the rows, then checked: VALIDATE reads the tables under a lock that
-- lets reads and writes go on. (Migrations run in one transaction, which keeps the first
-- statement's stronger lock until it commits: the split pays only when a database is upgraded
-- by hand, statement by statement.)
ALTER TABLE map_contents ADD CONSTRAINT map_contents_base_fkey FOREIGN KEY (base) REFERENCES map_contents(id) NOT VALID;
ALTER TABLE map_content_layers ADD CONSTRAINT map_content_layers_layer_fkey FOREIGN KEY (layer) REFERENCES map_contents(id) NOT VALID;
ALTER TABLE map_contents VALIDATE CONSTRAINT map_contents_base_fkey;
ALTER TABLE map_content_layers VALIDATE CONSTRAINT map_content_layers_layer_fkey;

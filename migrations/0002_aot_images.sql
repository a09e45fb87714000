-- Ahead-of-time native code of programs (`bpftimetool aot compile`), kept like their bytecode:
-- a content-addressed blob referenced from the handler state. NULL: the program has none.
ALTER TABLE handler_states ADD COLUMN aot_image INTEGER REFERENCES blobs(id);

DROP VIEW programs;
CREATE VIEW programs AS
SELECT h.snapshot, h.fd, st.name,
       json_extract(st.attributes, '$.type') AS prog_type,
       length(b.data) / 8 AS instructions,
       json_array_length(st.attributes, '$.attachments') AS attachments,
       lower(hex(b.hash)) AS content_hash,
       b.data AS bytecode,
       length(a.data) AS aot_bytes,
       lower(hex(a.hash)) AS aot_hash
FROM snapshot_handlers h
JOIN handler_states st ON st.id = h.state AND st.kind = 'bpf_prog_handler'
JOIN blobs b ON b.id = st.program
LEFT JOIN blobs a ON a.id = st.aot_image;

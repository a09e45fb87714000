#ifndef SQLITE_SHIMS_H
#define SQLITE_SHIMS_H

struct sqlite3;

/// Leaves the write-ahead log as it is when `db`, the last connection to its file, closes:
/// no checkpoint (and its fsyncs) and no deletion of the log, so that the next process's
/// first commit appends to it instead of writing and syncing a new one. sqlite3_db_config()
/// is variadic, which Swift cannot call. Returns an SQLite result code (0: done).
int bpf_sqlite_keep_wal_on_close(struct sqlite3 *db);

#endif

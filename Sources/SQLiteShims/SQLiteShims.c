#include <sqlite3.h>
#include "SQLiteShims.h"

int bpf_sqlite_keep_wal_on_close(sqlite3 *db) {
#ifdef SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE
    return sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)0);
#else
    (void)db;
    return SQLITE_OK;  /* SQLite before 3.28: the log is checkpointed on close, as before */
#endif
}

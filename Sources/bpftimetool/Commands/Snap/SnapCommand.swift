import ArgumentParser

struct SnapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snap",
        abstract: "Record the segment's states in a history (SQLite, or PostgreSQL for a fleet), diff them and roll back.",
        discussion: "The history is --db, else $BPFTIME_SNAP_DB, else ~/.bpftime/snapshots.db; a postgres:// URL is a PostgreSQL history.",
        subcommands: [SnapSave.self, SnapList.self, SnapShow.self, SnapLog.self, SnapRemove.self, SnapTag.self, SnapGC.self,
                      SnapDiff.self, SnapRestore.self, SnapExport.self, SnapImport.self, SnapWatch.self, SnapPrune.self, SnapDU.self,
                      SnapServe.self, SnapPush.self, SnapPull.self, SnapRemote.self])
}

/// Who and what made a snapshot, stored as columns of `snapshots` (migration 0006) so that
/// `sqlite3` can answer "who unloaded fd 7, and when".
public struct Provenance: Equatable, Sendable {
    /// The command line, program name first, with secrets masked.
    public var command: String
    public var user: String
    public var uid: UInt32
    public var pid: Int32
    public var toolVersion: String
    /// For the state after a restore: the snapshot restored.
    public var restoredSnapshot: Int64?
    /// For the state after a restore: the snapshot of the state it replaced.
    public var undoSnapshot: Int64?

    public init(command: String, user: String, uid: UInt32, pid: Int32, toolVersion: String,
                restoredSnapshot: Int64? = nil, undoSnapshot: Int64? = nil) {
        self.command = command
        self.user = user
        self.uid = uid
        self.pid = pid
        self.toolVersion = toolVersion
        self.restoredSnapshot = restoredSnapshot
        self.undoSnapshot = undoSnapshot
    }
}

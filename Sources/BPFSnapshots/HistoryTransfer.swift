/// `snap push` and `snap pull`: snapshots copied between any two histories, like git. Only
/// content the destination lacks is sent (the histories are content-addressed), each snapshot is
/// stored in one transaction (whole or not at all), and a snapshot the destination already has
/// (by origin) is skipped, so running it again after an interruption sends what is left.
public enum HistoryTransfer {
    /// What one snapshot's transfer did.
    public struct Step: Sendable {
        /// The id at the source and at the destination.
        public var source: Int64, destination: Int64
        /// False when the destination already had it.
        public var stored: Bool
        /// Key, value and blob bytes sent.
        public var payloadBytes: Int
    }

    /// Copies `ids` (oldest first) from `source` to `destination`; `each` sees every step as it
    /// completes. A transaction that loses a race to a concurrent writer is retried.
    public static func copy(_ ids: [Int64], from source: any SQLConnection, to destination: any SQLConnection,
                            attempts: Int = 10, each: (Step) -> Void = { _ in }) throws -> [Step] {
        var steps: [Step] = []
        for id in ids {
            let manifest = try source.manifest(of: id)
            var attempt = 1
            while true {
                do {
                    if let existing = try destination.snapshot(from: manifest.origin) {
                        steps.append(Step(source: id, destination: existing, stored: false, payloadBytes: 0))
                        break
                    }
                    let lacking = try destination.lacking(manifest)
                    let content = try source.content(manifest, lacking: lacking)
                    let (stored, isNew) = try destination.receive(manifest, lacking, content)
                    steps.append(Step(source: id, destination: stored, stored: isNew, payloadBytes: isNew ? content.payloadBytes : 0))
                    break
                } catch SnapshotError.conflict where attempt < attempts {
                    attempt += 1
                }
            }
            each(steps[steps.count - 1])
        }
        return steps
    }

    /// The snapshots `references` name at `source` (every snapshot when none), oldest first.
    public static func selection(_ references: [String], at source: any SQLConnection) throws -> [Int64] {
        if references.isEmpty {
            return try source.rows("SELECT id FROM snapshots ORDER BY id", []).compactMap { $0[0].integer }
        }
        return Array(Set(try references.map { try source.resolve($0) })).sorted()
    }
}

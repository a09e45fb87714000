import BPFModel

/// Everything a snapshot is made of, by content hash: what a sending history reads first, so
/// that the receiving one can say which content it lacks before any of it is sent.
public struct SnapshotManifest: Sendable {
    /// Where the snapshot was first saved: the same snapshot pushed again, from any history
    /// that holds it, is recognised by this.
    public struct Origin: Hashable, Sendable {
        public var store: String
        public var id: Int64
        public var host: String
    }

    /// One fd's handler state, with the hashes of the content it refers to.
    public struct Handler: Sendable {
        var fd: Int64
        var hash: [UInt8]
        var kind: String
        var name: String?
        var attributes: String
        var program: [UInt8]?
        var mapContent: [UInt8]?
        var aotImage: [UInt8]?
    }

    /// A map's stored contents: a base (its chunks in order) or a layer over a base (its chain).
    public struct Contents: Sendable {
        var hash: [UInt8]
        var localID: Int64
        var keySize: Int64, valueSize: Int64, valuesPerEntry: Int64, entryCount: Int64
        var base: [UInt8]?
        var layerEntries: Int64
        var chunks: [[UInt8]]
        /// The sender's ids of `chunks` and their recorded entry counts (none in the manifest of
        /// a save: its entries are in memory).
        var chunkIDs: [Int64] = [], chunkEntryCounts: [Int64] = []
        var layers: [[UInt8]]
    }

    /// The restore a snapshot is the undo of (`restores`): the restored snapshot by origin, so
    /// that the receiver can name it by its own id.
    public struct Restore: Sendable {
        var restored: Origin
        var restoredAt: String
        var fds: String
        var selection: String?
    }

    public var origin: Origin
    /// The sender's own id.
    public var localID: Int64
    public var createdAt: String
    public var segmentName: String
    public var generation: Int64
    public var message: String?
    public var provenance: [SQLValue]
    public var tags: [String]
    public var handlers: [Handler]
    /// Set when this snapshot is the undo of a restore.
    public var restore: Restore? = nil
    /// Every contents the handlers need, bases before the layers over them.
    public var contents: [Contents]

    var blobHashes: Set<[UInt8]> { Set(handlers.flatMap { [$0.program, $0.aotImage].compactMap { $0 } }) }
}

/// The content hashes a receiving history does not hold yet.
public struct LackingContent: Sendable {
    var states: Set<[UInt8]> = [], blobs: Set<[UInt8]> = [], contents: Set<[UInt8]> = [], chunks: Set<[UInt8]> = []
    /// The receiver's ids of the hashes it holds that new rows refer to.
    var stateIDs: [[UInt8]: Int64] = [:], blobIDs: [[UInt8]: Int64] = [:], contentIDs: [[UInt8]: Int64] = [:], chunkIDs: [[UInt8]: Int64] = [:]

    /// Nothing to send but the snapshot's own rows.
    public var isEmpty: Bool { states.isEmpty && blobs.isEmpty && contents.isEmpty && chunks.isEmpty }
}

/// The rows a receiving history lacks: blob data, chunk entries, layer changes.
public struct SnapshotContent: Sendable {
    var blobs: [[UInt8]: [UInt8]] = [:]
    /// Each chunk's entries in key order, keys as stored, in flat buffers (a million of them
    /// as separate arrays cost more than the copy into the receiver).
    var chunkEntries: [[UInt8]: MapContents] = [:]
    var deltas: [[UInt8]: [(key: [UInt8], value: [UInt8]?)]] = [:]

    /// Bytes of keys, values and blobs carried: what a push sends beyond the manifest.
    public var payloadBytes: Int {
        blobs.values.reduce(0) { $0 + $1.count }
            + chunkEntries.values.reduce(0) { $0 + $1.keys.count + $1.values.count }
            + deltas.values.reduce(0) { $0 + $1.reduce(0) { $0 + $1.key.count + ($1.value?.count ?? 0) } }
    }
}

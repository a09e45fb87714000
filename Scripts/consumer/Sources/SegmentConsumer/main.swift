import BPFModel
import BPFSegment

// A map in a private segment, updated and read back through the library's public API.
let segment = try Segment.createPrivate(SegmentConfiguration(name: "consumer", sizeBytes: 2 << 20, maxHandlers: 16))
let attributes = MapAttributes(mapType: 1, keySize: 4, valueSize: 8, maxEntries: 4)
try segment.apply([HandlerRecord(fd: 3, handler: .map(MapHandler(name: "counts", attributes: attributes)))])
let map = try segment.map(at: 3)
try map.update(key: [1, 0, 0, 0], value: [42, 0, 0, 0, 0, 0, 0, 0])
guard try map.lookup(key: [1, 0, 0, 0]) == [42, 0, 0, 0, 0, 0, 0, 0] else { fatalError("the map lost its value") }
print("BPFSegment linked from another package: map fd 3 holds \(map.count) entry")

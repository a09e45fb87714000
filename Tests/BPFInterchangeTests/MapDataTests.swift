import Testing
import BPFModel
@testable import BPFInterchange

@Suite struct MapDataTests {
    func roundTrip(_ map: MapHandler) throws -> MapHandler? {
        let records = [HandlerRecord(fd: 9, handler: .map(map))]
        return try BPFTimeJSON.decodeDocument(BPFTimeJSON.encodeDocument(records, includeData: true)).handler(at: 9)?.map
    }

    /// bpftime's JSON has no freeze: ours writes `"frozen": true` beside "data" for a frozen
    /// map only, so every other file stays byte-identical to bpftime's, and reads it back.
    @Test func frozenMapsRoundTripAndOthersAreWrittenAsBefore() throws {
        var map = MapHandler(name: "counts", attributes: MapAttributes(mapType: 1, keySize: 4, valueSize: 8, maxEntries: 8),
                             contents: MapContents(keySize: 4, valueSize: 8))
        let plain = text(BPFTimeJSON.encodeHandler(.map(map), includeData: true))
        #expect(!plain.contains("frozen"))
        map.frozen = true
        let frozen = text(BPFTimeJSON.encodeHandler(.map(map), includeData: true)).split(separator: "\n")
        #expect(frozen.filter { $0.contains("frozen") }.map { String($0.drop(while: { $0 == " " })) } == [#""frozen": true,"#])
        #expect(frozen.filter { !$0.contains("frozen") }.joined(separator: "\n") == plain)
        #expect(try roundTrip(map)?.frozen == true)
        #expect(!text(BPFTimeJSON.encodeHandler(.map(map), includeData: false)).contains("frozen"), "the freeze travels with the data")
    }

    @Test func hashMapRoundTripsWithKeysSorted() throws {
        var contents = MapContents(keySize: 4, valueSize: 8)
        contents.append(key: [2, 0, 0, 0], value: [UInt8](repeating: 0xbb, count: 8))
        contents.append(key: [1, 0, 0, 0], value: [1, 2, 3, 4, 5, 6, 7, 8])
        contents.append(key: [0, 1, 0, 0], value: [UInt8](repeating: 0xff, count: 8))
        let map = MapHandler(name: "counts", attributes: MapAttributes(mapType: 1, keySize: 4, valueSize: 8, maxEntries: 8),
                             contents: contents)
        let written = text(BPFTimeJSON.encodeHandler(.map(map), includeData: true))
        #expect(written.contains("""
            "data": {
                    "00010000": "ffffffffffffffff",
                    "01000000": "0102030405060708",
                    "02000000": "bbbbbbbbbbbbbbbb"
                },
                "name": "counts",
            """))
        let back = try #require(try roundTrip(map)?.contents)
        #expect(back.count == 3)
        // Written (and so read back) in key order: compare entry by entry against the original.
        for i in 0..<3 {
            let original = (0..<3).first { contents.key(at: $0) == back.key(at: i) }
            let index = try #require(original)
            #expect(back.value(at: i) == contents.value(at: index))
        }
    }

    @Test func perCPUMapRoundTrips() throws {
        var contents = MapContents(keySize: 4, valueSize: 4, valuesPerEntry: 3)
        contents.append(key: [0, 0, 0, 0], value: [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0])
        contents.append(key: [1, 0, 0, 0], value: [4, 0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0])
        let map = MapHandler(name: "pc", attributes: MapAttributes(mapType: 6, keySize: 4, valueSize: 4, maxEntries: 2),
                             contents: contents)
        let written = text(BPFTimeJSON.encodeHandler(.map(map), includeData: true))
        #expect(written.contains("""
                "00000000": [
                        "01000000",
                        "02000000",
                        "03000000"
                    ],
            """))
        #expect(try roundTrip(map) == map)
    }

    @Test(arguments: [UInt32(22), 23])
    func queueAndStackKeepOrder(mapType: UInt32) throws {
        var contents = MapContents(keySize: 0, valueSize: 2)
        for v: UInt8 in [9, 3, 7] { contents.append(key: [], value: [v, 0]) }
        let map = MapHandler(name: "q", attributes: MapAttributes(mapType: mapType, keySize: 0, valueSize: 2, maxEntries: 4),
                             contents: contents)
        let written = text(BPFTimeJSON.encodeHandler(.map(map), includeData: true))
        #expect(written.contains("\"data\": [\n        \"0900\",\n        \"0300\",\n        \"0700\"\n    ],"))
        #expect(try roundTrip(map) == map)
    }

    @Test func emptyContentsAndNoContentsDiffer() throws {
        let attributes = MapAttributes(mapType: 1, keySize: 4, valueSize: 4, maxEntries: 4)
        let empty = MapHandler(name: "e", attributes: attributes, contents: MapContents(keySize: 4, valueSize: 4))
        #expect(text(BPFTimeJSON.encodeHandler(.map(empty), includeData: true)).contains("\"data\": {},"))
        #expect(try roundTrip(empty) == empty)
        let unknown = MapHandler(name: "u", attributes: attributes)
        #expect(!text(BPFTimeJSON.encodeHandler(.map(unknown), includeData: true)).contains("data"))
        #expect(try roundTrip(unknown) == unknown)
    }

    @Test func noDataLeavesContentsOut() throws {
        var contents = MapContents(keySize: 4, valueSize: 4)
        contents.append(key: [1, 2, 3, 4], value: [5, 6, 7, 8])
        let map = MapHandler(name: "m", attributes: MapAttributes(mapType: 2, keySize: 4, valueSize: 4, maxEntries: 4),
                             contents: contents)
        let records = [HandlerRecord(fd: 3, handler: .map(map))]
        let written = BPFTimeJSON.encodeDocument(records, includeData: false)
        #expect(!text(written).contains("data"))
        var withoutData = map
        withoutData.contents = nil
        #expect(try BPFTimeJSON.decodeDocument(written).handler(at: 3)?.map == withoutData)
    }

    @Test func readsUppercaseHexAndUnsortedKeys() throws {
        let records = try decode(mapDocument(type: 1, keySize: 2, valueSize: 1, data: #"{"FF00": "AB", "0100": "cd"}"#))
        let contents = try #require(records.handler(at: 7)?.map?.contents)
        #expect(contents.keys == [0xff, 0x00, 0x01, 0x00])
        #expect(contents.values == [0xab, 0xcd])
    }

    @Test func nullDataMeansNoContents() throws {
        let records = try decode(mapDocument(type: 1, keySize: 2, valueSize: 1, data: "null"))
        #expect(try #require(records.handler(at: 7)?.map).contents == nil)
    }

    /// The data member may come before attr (hand-written files): it is read once attr is known.
    @Test func dataBeforeAttr() throws {
        let doc = #"{"1": {"data": {"0100": "07"}, "type": "bpf_map_handler", "attr": {"map_type": 1, "key_size": 2, "value_size": 1, "max_entries": 2}}}"#
        let contents = try #require(try decode(doc).handler(at: 1)?.map?.contents)
        #expect(contents.keys == [1, 0])
        #expect(contents.values == [7])
    }

    @Test func sinkErrorsReachTheCaller() {
        struct Full: Error, Equatable {}
        let records = [HandlerRecord(fd: 1, handler: .epoll)]
        #expect(throws: Full()) { try BPFTimeJSON.write(records, includeData: true) { _ in throw Full() } }
    }

    /// A large map goes through the chunked sink; the pieces add up to the in-memory document.
    @Test func streamedOutputMatchesInMemoryDocument() throws {
        var contents = MapContents(keySize: 4, valueSize: 8)
        for i in 0..<20_000 {
            let k = UInt32(truncatingIfNeeded: i &* 2_654_435_761)
            contents.append(key: withUnsafeBytes(of: k.littleEndian, Array.init), value: withUnsafeBytes(of: UInt64(i), Array.init))
        }
        let map = MapHandler(name: "big", attributes: MapAttributes(mapType: 1, keySize: 4, valueSize: 8, maxEntries: 20_000),
                             contents: contents)
        let records = [HandlerRecord(fd: 3, handler: .map(map)), HandlerRecord(fd: 4, handler: .epoll)]
        var chunks: [[UInt8]] = []
        try BPFTimeJSON.write(records, includeData: true) { chunks.append(Array($0)) }
        #expect(chunks.count > 1)
        #expect(chunks.flatMap { $0 } == BPFTimeJSON.encodeDocument(records, includeData: true))
        let back = try #require(try BPFTimeJSON.decodeDocument(chunks.flatMap { $0 }).handler(at: 3)?.map?.contents)
        #expect(back.count == 20_000)
        #expect(Set(back.keys.chunked4) == Set(contents.keys.chunked4))
    }
}

extension Array where Element == UInt8 {
    var chunked4: [[UInt8]] { stride(from: 0, to: count, by: 4).map { Array(self[$0..<$0 + 4]) } }
}

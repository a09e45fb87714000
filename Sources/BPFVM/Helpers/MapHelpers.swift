/// Map helpers 1-3 and 87-89: arguments checked against the program's memory, then handed to the
/// `MapBackend`. A returned value becomes a region the program may use.
enum MapHelpers {
    static func register(in table: HelperTable) {
        table.register(HelperID.mapLookupElem, name: "map_lookup_elem", lookupElem)
        table.register(HelperID.mapUpdateElem, name: "map_update_elem") { m, k, v, flags, _, raw in
            let ctx = HelperContext(raw)
            return ctx.withMap(m, helper: "map_update_elem") { fd, info, maps in
                guard info.kind.isKeyed else { return Errno.result(Errno.EINVAL) }
                guard let key = ctx.readable(k, info.keySize, "map_update_elem", "key"),
                      let value = ctx.readable(v, info.valueSize, "map_update_elem", "value") else { return 0 }
                return UInt64(status: maps.update(fd: fd, key: key, value: value, flags: flags, cpu: MapHelpers.currentCPU(info)))
            }
        }
        table.register(HelperID.mapDeleteElem, name: "map_delete_elem") { m, k, _, _, _, raw in
            let ctx = HelperContext(raw)
            return ctx.withMap(m, helper: "map_delete_elem") { fd, info, maps in
                guard info.kind.isKeyed else { return Errno.result(Errno.EINVAL) }
                guard let key = ctx.readable(k, info.keySize, "map_delete_elem", "key") else { return 0 }
                return UInt64(status: maps.delete(fd: fd, key: key))
            }
        }
        table.register(HelperID.mapPushElem, name: "map_push_elem") { m, v, flags, _, _, raw in
            let ctx = HelperContext(raw)
            return ctx.withMap(m, helper: "map_push_elem") { fd, info, maps in
                guard info.kind.isSequence else { return Errno.result(Errno.EINVAL) }
                guard let value = ctx.readable(v, info.valueSize, "map_push_elem", "value") else { return 0 }
                return UInt64(status: maps.push(fd: fd, value: value, flags: flags))
            }
        }
        table.register(HelperID.mapPopElem, name: "map_pop_elem") { m, v, _, _, _, raw in
            MapHelpers.takeNext(m, v, raw, helper: "map_pop_elem") { $0.pop(fd: $1, into: $2) }
        }
        table.register(HelperID.mapPeekElem, name: "map_peek_elem") { m, v, _, _, _, raw in
            MapHelpers.takeNext(m, v, raw, helper: "map_peek_elem") { $0.peek(fd: $1, into: $2) }
        }
    }

    /// `map_lookup_elem`, by name so that the JIT can tell that a table's helper 1 is this one
    /// before it does array lookups itself (`JITCompiler.inlineArrayMap`).
    static let lookupElem: HelperFunction = { m, k, _, _, _, raw in
        let ctx = HelperContext(raw)
        return ctx.withMap(m, helper: "map_lookup_elem") { fd, info, maps in
            guard info.kind.isKeyed, let key = ctx.readable(k, info.keySize, "map_lookup_elem", "key"),
                  let value = maps.lookup(fd: fd, key: key, cpu: MapHelpers.currentCPU(info)) else { return 0 }
            ctx.grant(value, length: info.valueSize, writable: !info.readOnly)
            return UInt64(UInt(bitPattern: value))
        }
    }

    /// Pop and peek: a queue's or stack's next value copied into the program's memory by `take`.
    /// (A helper is a C function pointer, which cannot capture: each passes its own `take`.)
    @inline(__always)
    private static func takeNext(_ m: UInt64, _ v: UInt64, _ raw: UnsafeMutableRawPointer?, helper: String,
                                 _ take: (MapBackend, Int32, UnsafeMutableRawPointer) -> Int32) -> UInt64 {
        let ctx = HelperContext(raw)
        return ctx.withMap(m, helper: helper) { fd, info, maps in
            guard info.kind.isSequence else { return Errno.result(Errno.EINVAL) }
            guard let value = ctx.writable(v, info.valueSize, helper, "value") else { return 0 }
            return UInt64(status: take(maps, fd, value))
        }
    }

    /// Per-CPU maps use the CPU the run is on; the others ignore it.
    @inline(__always)
    static func currentCPU(_ info: MapInfo) -> Int {
        info.kind.isPerCPU ? GNU.currentCPU() : 0
    }
}

extension HelperContext {
    /// `address` as a pointer to `length` readable bytes, or `nil` with the run faulted.
    @inline(__always)
    func readable(_ address: UInt64, _ length: Int, _ helper: String, _ what: String) -> UnsafeRawPointer? {
        if let pointer = checkedPointer(address, UInt64(length), write: false) { return UnsafeRawPointer(pointer) }
        return refuse(address, length, write: false, helper, what)
    }

    /// `address` as a pointer to `length` writable bytes, or `nil` with the run faulted.
    @inline(__always)
    func writable(_ address: UInt64, _ length: Int, _ helper: String, _ what: String) -> UnsafeMutableRawPointer? {
        if let pointer = checkedPointer(address, UInt64(length), write: true) { return pointer }
        return refuse(address, length, write: true, helper, what)
    }

    @inline(never)
    private func refuse<P>(_ address: UInt64, _ length: Int, write: Bool, _ helper: String, _ what: String) -> P? {
        _ = fault("\(helper): \(what) pointer 0x\(String(address, radix: 16)) is not \(write ? "writable" : "readable") for \(length) bytes")
        return nil
    }
}

/// Map helpers 1-3 and 87-89: arguments checked against the program's memory, then handed to the
/// `MapBackend`. A returned value becomes a region the program may use.
enum MapHelpers {
    static func register(in table: HelperTable) {
        table.register(HelperID.mapLookupElem, name: "map_lookup_elem") { m, k, _, _, _, raw in
            let ctx = HelperContext(raw)
            return ctx.withMap(m, helper: "map_lookup_elem") { fd, info, maps in
                guard info.kind.isKeyed, let key = ctx.readable(k, info.keySize, "map_lookup_elem", "key"),
                      let value = maps.lookup(fd: fd, key: key, cpu: MapHelpers.currentCPU(info)) else { return 0 }
                ctx.grant(value, length: info.valueSize, writable: !info.readOnly)
                return UInt64(UInt(bitPattern: value))
            }
        }
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
            let ctx = HelperContext(raw)
            return ctx.withMap(m, helper: "map_pop_elem") { fd, info, maps in
                guard info.kind.isSequence else { return Errno.result(Errno.EINVAL) }
                guard let value = ctx.writable(v, info.valueSize, "map_pop_elem", "value") else { return 0 }
                return UInt64(status: maps.pop(fd: fd, into: value))
            }
        }
        table.register(HelperID.mapPeekElem, name: "map_peek_elem") { m, v, _, _, _, raw in
            let ctx = HelperContext(raw)
            return ctx.withMap(m, helper: "map_peek_elem") { fd, info, maps in
                guard info.kind.isSequence else { return Errno.result(Errno.EINVAL) }
                guard let value = ctx.writable(v, info.valueSize, "map_peek_elem", "value") else { return 0 }
                return UInt64(status: maps.peek(fd: fd, into: value))
            }
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

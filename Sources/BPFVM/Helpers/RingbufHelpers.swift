/// Ring-buffer helpers 130-134, and 25 `perf_event_output` (a record in a perf_event_array's
/// per-CPU ring in the segment, as bpftime's userspace perf event array keeps them). A reserved record is a writable region until it is submitted
/// or discarded; only records reserved in this run may be submitted or discarded.
enum RingbufHelpers {
    static func register(in table: HelperTable) {
        table.register(HelperID.ringbufOutput, name: "ringbuf_output") { m, d, size, flags, _, raw in
            let ctx = HelperContext(raw)
            return ctx.withMap(m, helper: "ringbuf_output") { fd, info, maps in
                guard info.kind == .ringbuf else { return Errno.result(Errno.EINVAL) }
                guard size > 0 else { return Errno.result(Errno.EINVAL) }
                guard size <= UInt64(Int32.max) else { return Errno.result(Errno.E2BIG) }
                guard let data = ctx.readable(d, Int(size), "ringbuf_output", "data") else { return 0 }
                return UInt64(status: maps.ringbufOutput(fd: fd, data: data, size: Int(size), flags: flags))
            }
        }
        // bpf_perf_event_output(ctx, map, flags, data, size): flags' low 32 bits are the ring's
        // index, BPF_F_CURRENT_CPU (0xffffffff) this CPU's; the upper bits (a context length for
        // kernel skb/xdp programs) must be 0.
        table.register(HelperID.perfEventOutput, name: "perf_event_output") { _, m, flags, d, size, raw in
            let ctx = HelperContext(raw)
            return ctx.withMap(m, helper: "perf_event_output") { fd, info, maps in
                guard info.kind == .perfEventArray, flags >> 32 == 0 else { return Errno.result(Errno.EINVAL) }
                guard size <= UInt64(Int32.max) else { return Errno.result(Errno.E2BIG) }
                guard let data = ctx.readable(d, Int(size), "perf_event_output", "data") else { return 0 }
                let index = flags == 0xFFFF_FFFF ? GNU.currentCPU() : Int(flags)
                return UInt64(status: maps.perfEventOutput(fd: fd, index: index, data: data, size: Int(size)))
            }
        }
        table.register(HelperID.ringbufReserve, name: "ringbuf_reserve") { m, size, _, _, _, raw in
            let ctx = HelperContext(raw)
            return ctx.withMap(m, helper: "ringbuf_reserve") { fd, info, maps in
                guard info.kind == .ringbuf, size > 0, size <= UInt64(Int32.max),
                      let record = maps.ringbufReserve(fd: fd, size: Int(size)) else { return 0 }
                ctx.grant(record, length: Int(size), writable: true)
                ctx.environment.reservedRecords.insert(record)
                return UInt64(UInt(bitPattern: record))
            }
        }
        table.register(HelperID.ringbufSubmit, name: "ringbuf_submit") { d, _, _, _, _, raw in
            let ctx = HelperContext(raw)
            guard let record = ctx.takeReserved(d, helper: "ringbuf_submit") else { return 0 }
            ctx.maps.ringbufSubmit(record)
            return 0
        }
        table.register(HelperID.ringbufDiscard, name: "ringbuf_discard") { d, _, _, _, _, raw in
            let ctx = HelperContext(raw)
            guard let record = ctx.takeReserved(d, helper: "ringbuf_discard") else { return 0 }
            ctx.maps.ringbufDiscard(record)
            return 0
        }
        table.register(HelperID.ringbufQuery, name: "ringbuf_query") { m, flags, _, _, _, raw in
            let ctx = HelperContext(raw)
            return ctx.withMap(m, helper: "ringbuf_query") { fd, info, maps in
                info.kind == .ringbuf ? maps.ringbufQuery(fd: fd, flags: flags) : 0
            }
        }
    }
}

extension HelperContext {
    /// The reserved record at `address`, no longer accessible to the program; faults otherwise.
    func takeReserved(_ address: UInt64, helper: String) -> UnsafeMutableRawPointer? {
        guard let record = UnsafeMutableRawPointer(bitPattern: UInt(truncatingIfNeeded: address)),
              environment.reservedRecords.remove(record) != nil else {
            _ = fault("\(helper): 0x\(String(address, radix: 16)) is not a reserved ring-buffer record")
            return nil
        }
        state.pointee.revoke(low: address)
        return record
    }
}

import BPFLogging
import Logging

/// Repair after a process died holding the lock. Each step is idempotent, so a recoverer
/// that dies too simply leaves the same work to the next locker.
extension Segment {
    func recoverAfterDeadOwner() {
        // A published intent means the apply is finished by rolling forward, its in-place map
        // writes included; otherwise every journaled write is undone.
        let intent = header.intent
        let undone = intent == 0 ? journal.rollback() : 0
        if intent != 0 {
            journal.commit()
            rollForward(intent)
        }
        var reachable = Set<Int>()
        for fd in table.occupied() {
            let payload = table.slot(fd)
            reachable.insert(payload)
            if allocator.capacity(ofPayload: payload) != nil {
                let storage = base.offset(payload + 8)
                if storage != 0 { reachable.insert(storage) }
            }
        }
        let rebuilt: String?
        do { try allocator.rebuild(keeping: reachable); rebuilt = nil } catch { rebuilt = error.text }
        header.handlerCount = table.occupied().count
        header.recoveries &+= 1
        header.bumpTableGeneration()
        mutex.markConsistent()
        var message = "segment \(name): a process died holding the lock; undid \(undone) journaled write(s)"
        if intent != 0 { message += ", completed an interrupted table change" }
        if let rebuilt { message += "; heap could not be rebuilt: \(rebuilt)" }
        BPFLog.logger("bpftimetool.segment").warning("\(message)")
    }

    /// An intent block lists every slot change of one apply; once published, the change is
    /// finished even if its author dies. Layout: magic (u32), count (u32), (fd, payload) pairs.
    static let intentMagic: UInt32 = 0x4E54_4E49 // "INTN"

    func writeIntent(_ changes: [(fd: Int, payload: Int)]) -> Int? {
        guard let block = allocator.allocate(8 + changes.count * 16) else { return nil }
        base.set32(block, Self.intentMagic)
        base.set32(block + 4, UInt32(changes.count))
        for (i, change) in changes.enumerated() {
            base.set64(block + 8 + i * 16, UInt64(change.fd))
            base.set64(block + 16 + i * 16, UInt64(change.payload))
        }
        return block
    }

    func rollForward(_ block: Int) {
        defer { header.intent = 0 }
        guard let capacity = allocator.capacity(ofPayload: block), capacity >= 8, base.u32(block) == Self.intentMagic else { return }
        let count = min(Int(base.u32(block + 4)), (capacity - 8) / 16)
        for i in 0..<count {
            let fd = base.offset(block + 8 + i * 16)
            guard fd >= 0, fd < header.maxHandlers else { continue }
            table.setSlot(fd, base.offset(block + 16 + i * 16))
        }
        orderStores()
    }
}

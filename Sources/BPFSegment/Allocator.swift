/// Variable-size blocks in the heap (names, bytecode, map storage), with free and reuse.
///
/// Every block starts with a 48-byte header; blocks tile the heap, so a walk by size visits
/// them all. Free blocks sit in doubly linked lists, one per power-of-two size class, and
/// neighbours merge on free. Crash safety comes from ordering, not logging: each change to the
/// tiling is a single 8-byte store, so the walk is valid at every instant, and recovery
/// rebuilds the lists, the back-sizes and the used total from the walk.
///
/// Block header: size (u64, whole block), previous block's size (u64), tag (u32), unused
/// (u32), next free (u64), previous free (u64), requested payload bytes (u64).
struct Allocator {
    static let headerBytes = 48
    static let minimumBlock = 64
    static let freeTag: UInt32 = 0xB10C_F4EE
    static let usedTag: UInt32 = 0xB10C_05ED
    private static let sizeAt = 0, prevSizeAt = 8, tagAt = 16, nextAt = 24, prevAt = 32, requestedAt = 40

    let header: Header
    let base: UnsafeMutableRawPointer
    let heapStart: Int
    let heapEnd: Int

    init(_ header: Header) {
        self.header = header
        base = header.base
        heapStart = header.heapOffset
        heapEnd = header.totalSize
    }

    var freeBytes: Int { heapEnd - heapStart - header.usedBytes }

    /// Makes the whole heap one free block.
    func format() {
        for c in 0..<Header.freeListCount { setHead(c, 0) }
        let block = heapStart
        base.set64(block + Self.sizeAt, UInt64(heapEnd - heapStart))
        base.set64(block + Self.prevSizeAt, 0)
        base.set32(block + Self.tagAt, Self.freeTag)
        base.set64(block + Self.nextAt, 0)
        base.set64(block + Self.prevAt, 0)
        insert(block)
        header.usedBytes = 0
    }

    /// The whole-block size an allocation of `bytes` payload bytes takes.
    static func blockSize(forPayload bytes: Int) -> Int? {
        guard bytes >= 0, bytes < Int.max / 2 else { return nil }
        return max(roundUp(bytes + headerBytes, 16), minimumBlock)
    }

    /// A payload offset, or nil when no free block is large enough.
    func allocate(_ bytes: Int) -> Int? {
        guard let need = Self.blockSize(forPayload: bytes), need <= heapEnd - heapStart else { return nil }
        let exact = Self.sizeClass(need)
        guard let block = firstFit(exact, need, limit: 64)
            ?? (exact + 1..<Header.freeListCount).lazy.map({ head($0) }).first(where: { isBlock($0) })
            ?? firstFit(exact, need, limit: Int.max) else { return nil }
        take(block, need)
        base.set64(block + Self.requestedAt, UInt64(bytes))
        return block + Self.headerBytes
    }

    /// Returns a payload's block to the free lists, merging with free neighbours.
    func free(_ payload: Int) {
        var block = payload &- Self.headerBytes
        guard isBlock(block), tag(block) == Self.usedTag else { return }
        header.usedBytes = header.usedBytes &- size(block)
        base.set32(block + Self.tagAt, Self.freeTag)
        orderStores()
        let next = block + size(block)
        if next < heapEnd, isBlock(next), tag(next) == Self.freeTag {
            unlink(next)
            setSize(block, size(block) + size(next))
        }
        let previousSize = Int(truncatingIfNeeded: base.u64(block + Self.prevSizeAt))
        let previous = previousSize > 0 && previousSize <= block - heapStart ? block - previousSize : 0
        if isBlock(previous), tag(previous) == Self.freeTag, previous + size(previous) == block {
            unlink(previous)
            setSize(previous, size(previous) + size(block))
            block = previous
        }
        fixBackSize(after: block)
        insert(block)
    }

    /// Payload bytes the block at `payload` can hold (nil if it is not a used block). The
    /// offset comes from the segment: any value, `Int.min` included, must fail, not trap.
    func capacity(ofPayload payload: Int) -> Int? {
        let block = payload &- Self.headerBytes
        guard isBlock(block), tag(block) == Self.usedTag else { return nil }
        return size(block) - Self.headerBytes
    }

    // MARK: Free lists

    private func firstFit(_ sizeClass: Int, _ need: Int, limit: Int) -> Int? {
        var block = head(sizeClass), steps = 0
        let bound = min(limit, (heapEnd - heapStart) / Self.minimumBlock)
        while isBlock(block), steps < bound {
            if tag(block) == Self.freeTag, size(block) >= need { return block }
            block = Int(truncatingIfNeeded: base.u64(block + Self.nextAt))
            steps += 1
        }
        return nil
    }

    /// Takes a free block, splitting off the tail when it is worth keeping. The tail's header
    /// is written before the block shrinks, so the walk never meets an unwritten header.
    private func take(_ block: Int, _ need: Int) {
        unlink(block)
        let total = size(block)
        if total - need >= Self.minimumBlock {
            let rest = block + need
            base.set64(rest + Self.sizeAt, UInt64(total - need))
            base.set64(rest + Self.prevSizeAt, UInt64(need))
            base.set32(rest + Self.tagAt, Self.freeTag)
            orderStores()
            setSize(block, need)
            fixBackSize(after: rest)
            insert(rest)
        }
        base.set32(block + Self.tagAt, Self.usedTag)
        header.usedBytes = header.usedBytes &+ size(block)
    }

    private func insert(_ block: Int) {
        let c = Self.sizeClass(size(block))
        let first = head(c)
        base.set64(block + Self.nextAt, UInt64(isBlock(first) ? first : 0))
        base.set64(block + Self.prevAt, 0)
        if isBlock(first) { base.set64(first + Self.prevAt, UInt64(block)) }
        setHead(c, block)
    }

    private func unlink(_ block: Int) {
        let next = Int(truncatingIfNeeded: base.u64(block + Self.nextAt))
        let previous = Int(truncatingIfNeeded: base.u64(block + Self.prevAt))
        if isBlock(previous) {
            base.set64(previous + Self.nextAt, UInt64(isBlock(next) ? next : 0))
        } else {
            let c = Self.sizeClass(size(block))
            if head(c) == block { setHead(c, isBlock(next) ? next : 0) }
        }
        if isBlock(next) { base.set64(next + Self.prevAt, UInt64(isBlock(previous) ? previous : 0)) }
    }

    // MARK: Fields

    static func sizeClass(_ size: Int) -> Int { min(Int.bitWidth - 1 - max(size, 1).leadingZeroBitCount, Header.freeListCount - 1) }
    private func head(_ c: Int) -> Int { base.offset(Header.freeListsAt + c * 8) }
    private func setHead(_ c: Int, _ block: Int) { base.set64(Header.freeListsAt + c * 8, UInt64(block)) }
    private func size(_ block: Int) -> Int { base.offset(block + Self.sizeAt) }
    private func tag(_ block: Int) -> UInt32 { base.u32(block + Self.tagAt) }
    private func setSize(_ block: Int, _ value: Int) { base.set64(block + Self.sizeAt, UInt64(value)) }
    private func fixBackSize(after block: Int) {
        let next = block + size(block)
        if next < heapEnd, isBlock(next) { base.set64(next + Self.prevSizeAt, UInt64(size(block))) }
    }

    /// A plausible block offset: inside the heap, aligned, with a sane size.
    func isBlock(_ block: Int) -> Bool {
        guard block >= heapStart, block <= heapEnd - Self.minimumBlock, (block - heapStart) % 16 == 0 else { return false }
        let s = size(block)
        return s >= Self.minimumBlock && s % 16 == 0 && s <= heapEnd - block
    }

    // MARK: Walking, checking and rebuilding

    struct Block { var offset: Int; var size: Int; var used: Bool; var payload: Int { offset + Allocator.headerBytes } }

    /// Every block in address order, or a description of where the tiling breaks.
    func walk() -> Result<[Block], WalkError> {
        var blocks: [Block] = []
        var block = heapStart
        while block < heapEnd {
            guard isBlock(block) else { return .failure(WalkError(text: "heap block at \(block) has invalid size \(base.u64(block + Self.sizeAt))")) }
            let t = tag(block)
            guard t == Self.freeTag || t == Self.usedTag else {
                return .failure(WalkError(text: "heap block at \(block) has bad tag 0x\(String(t, radix: 16))"))
            }
            blocks.append(Block(offset: block, size: size(block), used: t == Self.usedTag))
            block += size(block)
        }
        return .success(blocks)
    }

    struct WalkError: Error { var text: String }

    /// After a crash: frees used blocks nothing reaches, merges free neighbours, and rewrites
    /// back-sizes, free lists and the used total from the walk.
    func rebuild(keeping reachable: Set<Int>) throws(WalkError) {
        let blocks = try walk().get()
        for c in 0..<Header.freeListCount { setHead(c, 0) }
        var used = 0, previousSize = 0, index = 0
        while index < blocks.count {
            let block = blocks[index]
            var total = block.size
            let isUsed = block.used && reachable.contains(block.payload)
            if isUsed {
                used += total
            } else {
                while index + 1 < blocks.count, !(blocks[index + 1].used && reachable.contains(blocks[index + 1].payload)) {
                    index += 1
                    total += blocks[index].size
                }
                base.set32(block.offset + Self.tagAt, Self.freeTag)
                orderStores()
                setSize(block.offset, total)
            }
            base.set64(block.offset + Self.prevSizeAt, UInt64(previousSize))
            if !isUsed { insert(block.offset) }
            previousSize = total
            index += 1
        }
        header.usedBytes = used
    }

    /// Inconsistencies between the walk, the back-sizes, the free lists and the used total.
    func problems(_ blocks: [Block]) -> [String] {
        var problems: [String] = []
        var previousSize = 0, used = 0, previousFree = false
        var freeBlocks = Set<Int>()
        for block in blocks {
            let back = base.offset(block.offset + Self.prevSizeAt)
            if back != previousSize { problems.append("heap block at \(block.offset): back-size \(back), previous block is \(previousSize) bytes") }
            if !block.used && previousFree { problems.append("heap block at \(block.offset): two free blocks side by side (not merged)") }
            if block.used { used += block.size } else { freeBlocks.insert(block.offset) }
            previousSize = block.size
            previousFree = !block.used
        }
        if used != header.usedBytes { problems.append("used-bytes counter is \(header.usedBytes), the blocks add up to \(used)") }
        var listed = Set<Int>()
        for c in 0..<Header.freeListCount {
            var block = head(c), previous = 0
            while block != 0 {
                guard freeBlocks.contains(block) else { problems.append("free list \(c) reaches \(block), which is not a free block"); break }
                guard listed.insert(block).inserted else { problems.append("free list \(c) reaches block \(block) twice (cycle or cross-link)"); break }
                if Self.sizeClass(size(block)) != c { problems.append("free block \(block) of \(size(block)) bytes sits in size class \(c)") }
                if base.offset(block + Self.prevAt) != previous { problems.append("free block \(block): back link \(base.u64(block + Self.prevAt)), expected \(previous)") }
                previous = block
                block = base.offset(block + Self.nextAt)
            }
        }
        for missing in freeBlocks.subtracting(listed).sorted().prefix(5) { problems.append("free block \(missing) is on no free list") }
        return problems
    }
}

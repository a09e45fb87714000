import BPFModel

/// One step of the edit script between two programs' instruction slots.
public struct InstructionEdit: Equatable, Sendable {
    public enum Operation: String, Sendable { case kept, inserted, deleted }
    public var operation: Operation
    /// Slot index in the old program (kept, deleted).
    public var oldIndex: Int?
    /// Slot index in the new program (kept, inserted).
    public var newIndex: Int?
    /// The slot's raw 8 bytes (for `lddw`, each half is its own slot).
    public var bytes: [UInt8]

    public init(operation: Operation, oldIndex: Int?, newIndex: Int?, bytes: [UInt8]) {
        self.operation = operation
        self.oldIndex = oldIndex
        self.newIndex = newIndex
        self.bytes = bytes
    }
}

/// Myers' O((N+M)·D) shortest edit script over 8-byte slots, after trimming the common prefix
/// and suffix. Its trace costs D² integers, so past `maximumDistance` differing slots the
/// middle is reported as deleted then inserted wholesale: still a correct script, just not
/// the shortest.
enum InstructionDiff {
    static let maximumDistance = 2048

    static func edits(_ old: [UInt8], _ new: [UInt8]) -> [InstructionEdit] {
        let a = slots(old), b = slots(new)
        var prefix = 0
        while prefix < a.count, prefix < b.count, a[prefix] == b[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < a.count - prefix, suffix < b.count - prefix,
              a[a.count - 1 - suffix] == b[b.count - 1 - suffix] { suffix += 1 }

        var script: [InstructionEdit] = []
        func emit(_ op: InstructionEdit.Operation, _ i: Int?, _ j: Int?) {
            let bytes = i.map { slot(old, $0) } ?? j.map { slot(new, $0) } ?? []
            script.append(InstructionEdit(operation: op, oldIndex: i, newIndex: j, bytes: bytes))
        }
        for i in 0..<prefix { emit(.kept, i, i) }
        let middle = shortestScript(Array(a[prefix ..< a.count - suffix]), Array(b[prefix ..< b.count - suffix]))
        for (op, i, j) in middle { emit(op, i.map { $0 + prefix }, j.map { $0 + prefix }) }
        for s in 0..<suffix { emit(.kept, a.count - suffix + s, b.count - suffix + s) }
        return script
    }

    private static func slots(_ bytecode: [UInt8]) -> [UInt64] {
        (0 ..< bytecode.count / 8).map { i in
            (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytecode[i * 8 + $1]) << (8 * $1) }
        }
    }

    private static func slot(_ bytecode: [UInt8], _ index: Int) -> [UInt8] {
        Array(bytecode[index * 8 ..< index * 8 + 8])
    }

    private typealias Step = (InstructionEdit.Operation, Int?, Int?)

    private static func shortestScript(_ a: [UInt64], _ b: [UInt64]) -> [Step] {
        let n = a.count, m = b.count
        let limit = min(n + m, maximumDistance)
        let offset = limit + 1
        var v = [Int](repeating: 0, count: 2 * limit + 3)
        var trace: [[Int]] = []  // v over k in -d...d at the start of round d
        for d in 0...limit {
            trace.append(Array(v[offset - d ... offset + d]))
            for k in stride(from: -d, through: d, by: 2) {
                var x = k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1]) ? v[offset + k + 1] : v[offset + k - 1] + 1
                var y = x - k
                while x < n, y < m, a[x] == b[y] { x += 1; y += 1 }
                v[offset + k] = x
                if x >= n, y >= m { return backtrack(trace, d: d, n: n, m: m) }
            }
        }
        return (0..<n).map { (.deleted, $0, nil) } + (0..<m).map { (.inserted, nil, $0) }
    }

    private static func backtrack(_ trace: [[Int]], d: Int, n: Int, m: Int) -> [Step] {
        var steps: [Step] = []
        var x = n, y = m
        for d in stride(from: d, to: 0, by: -1) {
            let v = trace[d]
            func at(_ k: Int) -> Int { v[k + d] }
            let k = x - y
            let previousK = k == -d || (k != d && at(k - 1) < at(k + 1)) ? k + 1 : k - 1
            let previousX = at(previousK), previousY = previousX - previousK
            while x > previousX, y > previousY { x -= 1; y -= 1; steps.append((.kept, x, y)) }
            if x == previousX { y -= 1; steps.append((.inserted, nil, y)) } else { x -= 1; steps.append((.deleted, x, nil)) }
        }
        while x > 0, y > 0 { x -= 1; y -= 1; steps.append((.kept, x, y)) }
        return steps.reversed()
    }
}

import Foundation
import Testing
@testable import BPFVM

@Suite struct ExecutableMemoryTests {
    @Test func assembledCodeRunsAndIsNotWritable() throws {
        var a = X86Assembler()
        a.mov(.rax, .rdi)
        a.imul(.rax, .rsi)
        a.ret()
        let code = a.finish()
        let memory = try ExecutableMemory(code: try #require(code))
        typealias Fn = @convention(c) (UInt64, UInt64) -> UInt64
        let f = unsafeBitCast(memory.base, to: Fn.self)
        #expect(f(6, 7) == 42)
        #expect(memory.codeSize == 8)
        let protection = try pageProtection(of: memory.base)
        #expect(protection == "r-xp", "\(String(describing: protection))")
    }

    /// The permissions column of /proc/self/maps for the mapping holding `address`.
    private func pageProtection(of address: UnsafeMutableRawPointer) throws -> String? {
        let target = UInt(bitPattern: address)
        let file = try #require(FileHandle(forReadingAtPath: "/proc/self/maps"))
        let maps = String(decoding: file.readDataToEndOfFile(), as: UTF8.self)
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ")
            let range = fields[0].split(separator: "-").compactMap { UInt($0, radix: 16) }
            if range.count == 2, range[0] <= target, target < range[1] { return String(fields[1]) }
        }
        return nil
    }
}

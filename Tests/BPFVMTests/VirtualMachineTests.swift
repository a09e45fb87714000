import TestSupport
import Testing
import BPFModel
@testable import BPFVM

@Suite struct VirtualMachineTests {
    @Test func countsExecutedInstructionsWithLddwAsOne() throws {
        let vm = try TestMachine(program: try TestAssembler.program("lddw %r0, 0x1\nmov %r1, 3\nsub %r1, 1\njne %r1, 0, -2\nexit"))
        #expect(try run(vm) == 1)
        #expect(vm.executedInstructions == 1 + 1 + 3 * 2 + 1)
        // Also with a budget (the other specialization of the loop).
        let budgeted = try TestMachine(program: vm.program, options: VMOptions(maxInstructions: 1000))
        #expect(try run(budgeted) == 1)
        #expect(budgeted.executedInstructions == vm.executedInstructions)
    }

    @Test func tailCalledInstructionsCountToo() throws {
        let maps = SegmentMaps()
        maps.addMap(fd: 3, MapInfo(kind: .progArray, keySize: 4, valueSize: 4, maxEntries: 1))
        maps.setProgram(try TestAssembler.program("mov %r0, 7\nexit"), at: 0, in: 3)
        let vm = try TestMachine(program: try TestAssembler.program("lddw %r2, map_fd 3\nmov %r3, 0\ncall 12\nexit"), maps: maps)
        #expect(try run(vm) == 7)
        #expect(vm.executedInstructions == 3 + 2)
        // The budget spans the tail call: 4 is one short.
        let tight = try TestMachine(program: vm.program, maps: maps, options: VMOptions(maxInstructions: 4))
        #expect(throws: VMError(.budgetExceeded, "instruction budget of 4 exceeded", index: 1, instruction: "exit")) { try run(tight) }
    }

    @Test func runsAreIndependent() throws {
        // Each run starts with r1/r2 for its own input and the entry frame, whatever the last did.
        let vm = try TestMachine(program: try TestAssembler.program("ldxb %r0, [%r1+0]\nadd %r0, %r2\nexit"))
        #expect(try run(vm, [5]) == 6)
        #expect(try run(vm, [7, 0, 0]) == 10)
        #expect(throws: VMError.self) { try run(vm, []) }
        #expect(try run(vm, [1, 1]) == 3)
    }

    @Test func customHelperTables() throws {
        let table = HelperTable()
        table.register(42, name: "answer") { a, b, _, _, _, _ in a &* b }
        #expect(table.names[42] == "answer")
        #expect(table[42] != nil && table[41] == nil && table[-1] == nil && table[4096] == nil)
        let vm = try TestMachine(program: try TestAssembler.program("mov %r1, 6\nmov %r2, 7\ncall 42\nexit"),
                                 options: VMOptions(helpers: table))
        #expect(try run(vm) == 42)
        // The standard helpers are not in a custom table.
        #expect(failure("call 5\nexit", options: VMOptions(helpers: table))?.description == "instruction 0 (call 5): unknown helper 5")
    }

    @Test func helpersSeeTheirContext() throws {
        // A helper that checks a pointer argument and faults when it is not readable.
        let table = HelperTable()
        table.register(50, name: "first_byte") { p, _, _, _, _, raw in
            let ctx = HelperContext(raw)
            guard let pointer = ctx.checkedPointer(p, 1, write: false) else { return ctx.fault("first_byte: bad pointer") }
            return UInt64(pointer.load(as: UInt8.self)) + ctx.cookie
        }
        let vm = try TestMachine(program: try TestAssembler.program("call 50\nexit"), options: VMOptions(helpers: table))
        #expect(try run(vm, [9], cookie: 100) == 109)
        #expect(throws: VMError(.helperFault, "first_byte: bad pointer", index: 0, instruction: "call 50")) { try run(vm, []) }
    }

    @Test func programSizeLimitApplies() throws {
        let program = try TestAssembler.program("mov %r0, 0\nmov %r0, 0\nexit")
        #expect(throws: VMError(.rejected, "the program has 3 instructions, more than the limit of 2")) {
            try VirtualMachine(program: program, options: VMOptions(maxProgramSize: 2))
        }
    }

    @Test func theStandardTableHasLinuxNumbers() {
        let expected: [Int32: String] = [
            1: "map_lookup_elem", 2: "map_update_elem", 3: "map_delete_elem", 4: "probe_read", 5: "ktime_get_ns",
            6: "trace_printk", 7: "get_prandom_u32", 8: "get_smp_processor_id", 12: "tail_call",
            14: "get_current_pid_tgid", 15: "get_current_uid_gid", 16: "get_current_comm", 45: "probe_read_str",
            87: "map_push_elem", 88: "map_pop_elem", 89: "map_peek_elem", 112: "probe_read_user",
            113: "probe_read_kernel", 114: "probe_read_user_str", 115: "probe_read_kernel_str",
            125: "ktime_get_boot_ns", 130: "ringbuf_output", 131: "ringbuf_reserve", 132: "ringbuf_submit",
            133: "ringbuf_discard", 134: "ringbuf_query", 174: "get_attach_cookie",
            25: "perf_event_output", 27: "get_stackid", 36: "probe_write_user", 44: "xdp_adjust_head",
            65: "xdp_adjust_tail", 67: "get_stack", 160: "ktime_get_coarse_ns", 173: "get_func_ip", 182: "strncmp",
            58: "override_return", 187: "set_retval",
        ]
        let table = HelperTable.standard()
        #expect(table.names == expected)
        #expect(expected.keys.allSatisfy { table[Int64($0)] != nil })
    }
}

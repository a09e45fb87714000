import BPFModel
import BPFRuntime
import BPFSegment
import BPFVM

// A hash map in a private segment, written by a program on the VM (helper 2, map_update_elem)
// and read back through the segment's own API.
let segment = try Segment.createPrivate(SegmentConfiguration(name: "consumer", sizeBytes: 2 << 20, maxHandlers: 16))
let attributes = MapAttributes(mapType: 1, keySize: 4, valueSize: 8, maxEntries: 4)
try segment.apply([HandlerRecord(fd: 3, handler: .map(MapHandler(name: "counts", attributes: attributes)))])
// *(u32 *)(r10 - 4) = 1; *(u64 *)(r10 - 16) = 42; r0 = map_update_elem(map fd 3, r10 - 4, r10 - 16, 0); exit
let program = Program(instructions: [
    Instruction(opcode: 0x62, dst: 10, offset: -4, imm: 1),
    Instruction(opcode: 0x7a, dst: 10, offset: -16, imm: 42),
    Instruction(opcode: 0x18, dst: 1, src: 1, imm: 3), Instruction(opcode: 0),
    Instruction(opcode: 0xbf, dst: 2, src: 10), Instruction(opcode: 0x07, dst: 2, imm: -4),
    Instruction(opcode: 0xbf, dst: 3, src: 10), Instruction(opcode: 0x07, dst: 3, imm: -16),
    Instruction(opcode: 0xb7, dst: 4, imm: 0),
    Instruction(opcode: 0x85, imm: 2),
    Instruction(opcode: 0x95),
])
let vm = try VirtualMachine(program: program, maps: SegmentMapBackend(segment: segment))
let r0 = try vm.run(input: UnsafeMutableRawBufferPointer(start: nil, count: 0))
let map = try segment.map(at: 3)
guard r0 == 0, try map.lookup(key: [1, 0, 0, 0]) == [42, 0, 0, 0, 0, 0, 0, 0] else {
    fatalError("the program's update did not reach the map (r0 = \(r0))")
}
print("BPFSegment, BPFVM and BPFRuntime linked from a package depending on bpftimetool 1.0.0: map fd 3 holds \(map.count) entry")

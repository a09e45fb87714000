import BPFJSON
import ArgumentParser
import BPFReports

/// `-j`/`--json` and `-p`/`--pretty` on every command that prints, as bpftool takes them:
/// JSON on one line, or indented (`-p` implies `-j`).
struct JSONOptions: ParsableArguments {
    @Flag(name: [.customShort("j"), .long], help: "Print JSON, on one line.") var json = false
    @Flag(name: [.customShort("p"), .long], help: "Print indented JSON (implies --json).") var pretty = false

    var enabled: Bool { json || pretty }

    func print(_ value: JSONText) { Swift.print(pretty ? value.rendered() : value.compact) }
}

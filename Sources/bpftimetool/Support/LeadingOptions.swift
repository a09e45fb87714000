/// `bpftimetool --shm X list` as well as `bpftimetool list --shm X`: the options every
/// command shares may come before the subcommand, as bpftool takes its global options. They
/// are moved after it, where each command declares them (`-j`/`-p` where a command prints).
enum LeadingOptions {
    static let withValue: Set<String> = ["--shm", "--db"]
    static let flags: Set<String> = ["--allow-other-owner", "-j", "--json", "-p", "--pretty"]

    static func reordered(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var rest = arguments[...]
        while let first = rest.first {
            let name = first.split(separator: "=", maxSplits: 1).first.map(String.init) ?? first
            let count = flags.contains(first) || (withValue.contains(name) && first.contains("=")) ? 1
                : withValue.contains(first) && rest.count >= 2 ? 2 : 0
            guard count > 0 else { break }
            leading += rest.prefix(count)
            rest = rest.dropFirst(count)
        }
        return Array(rest) + leading
    }
}

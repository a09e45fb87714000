import Foundation

/// `../shared/` beside the package (fixtures, the conformance suite, benchmark programs): the one
/// way every test finds it, relative to the package and never by a machine's absolute path.
public enum SharedFiles {
    /// The package's root: this file is `Tests/TestSupport/SharedFiles.swift`.
    public static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `../shared`, or nil where the checkout has no such sibling.
    public static let directory: URL? = {
        let candidate = packageRoot.deletingLastPathComponent().appendingPathComponent("shared")
        return FileManager.default.fileExists(atPath: candidate.path) ? candidate : nil
    }()

    /// A file or folder inside `../shared`, e.g. `fixtures/bpftime/malloc.json`.
    public static func url(_ relativePath: String) throws -> URL {
        guard let directory else { throw Missing(description: "../shared is missing beside \(packageRoot.path)") }
        let url = directory.appendingPathComponent(relativePath)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw Missing(description: "\(relativePath) is missing from \(directory.path)")
        }
        return url
    }

    /// The error for a missing shared file: the test fails naming it.
    public struct Missing: Error, CustomStringConvertible {
        public let description: String
    }
}

import Foundation
import PackagePlugin

/// Turns the package's `migrations/NNNN_name.sql` (SQLite) and `migrations/postgres/NNNN_name.sql`
/// (PostgreSQL) files into a Swift source file of the target, so the schema travels inside the
/// binary rather than in a resource bundle beside it.
@main
struct EmbedMigrations: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let directory = context.package.directoryURL.appending(path: "migrations")
        func sqlFiles(_ folder: URL) throws -> [URL] {
            try FileManager.default
                .contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
                .filter { $0.pathExtension == "sql" }
                .sorted { $0.lastPathComponent < $1.lastPathComponent }
        }
        let sqlite = try sqlFiles(directory), postgres = try sqlFiles(directory.appending(path: "postgres"))
        let files = sqlite + postgres
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedMigrations.swift")
        return [.buildCommand(
            displayName: "Embedding \(files.count) migration(s) into \(target.name)",
            executable: try context.tool(named: "MigrationEmbedder").url,
            arguments: [output.path] + sqlite.map(\.path) + ["--postgres"] + postgres.map(\.path),
            inputFiles: files,
            outputFiles: [output])]
    }
}

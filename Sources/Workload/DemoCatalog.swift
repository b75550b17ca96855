public import Foundation

/// Finds scenario files: a path, or the name of a bundled demo in `demos/`.
public enum DemoCatalog {
    /// Where the bundled demos are: `$POOLSCOPE_DEMOS`, else `./demos`, else the `demos/` of the source
    /// tree this binary was built from.
    public static var directory: URL? {
        let fileManager = FileManager.default
        var candidates: [URL] = []
        if let override = ProcessInfo.processInfo.environment["POOLSCOPE_DEMOS"], !override.isEmpty {
            candidates.append(URL(fileURLWithPath: override))
        }
        candidates.append(URL(fileURLWithPath: fileManager.currentDirectoryPath).appendingPathComponent("demos"))
        candidates.append(
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("demos"))
        return candidates.first { url in
            var isDirectory: ObjCBool = false
            return fileManager.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
        }
    }

    /// The bundled demos' files, by name.
    public static func demoFiles() -> [URL] {
        guard let directory,
            let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path)
        else { return [] }
        return names.filter { $0.hasSuffix(".yaml") }.sorted().map { directory.appendingPathComponent($0) }
    }

    /// The file for `reference`: an existing path, or a demo name (with or without ".yaml").
    public static func resolve(_ reference: String) -> URL? {
        if FileManager.default.fileExists(atPath: reference) { return URL(fileURLWithPath: reference) }
        let name = reference.hasSuffix(".yaml") ? String(reference.dropLast(5)) : reference
        return demoFiles().first { $0.deletingPathExtension().lastPathComponent == name }
    }

    /// Reads and parses a scenario file.
    public static func load(_ url: URL) throws(ScenarioError) -> Scenario {
        let display = displayPath(url)
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ScenarioError(file: display, line: 0, message: "cannot read the file: \(error.localizedDescription)")
        }
        return try ScenarioParser.parse(text, file: display)
    }

    /// A path relative to the current directory when it lies below it.
    public static func displayPath(_ url: URL) -> String {
        let current = FileManager.default.currentDirectoryPath + "/"
        return url.path.hasPrefix(current) ? String(url.path.dropFirst(current.count)) : url.path
    }
}

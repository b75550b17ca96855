public import Foundation

/// A scenario's text and where it came from: a file, or a demo the binary carries.
public struct ScenarioSource: Sendable, Equatable {
    /// The demo's name, or the file's name without `.yaml`.
    public let name: String
    /// What error messages call it: the path as given, or `demos/NAME.yaml` for a carried demo.
    public let display: String
    public let text: String
}

/// Finds scenarios: a path, or the name of a bundled demo. The demos are carried by the binary (generated
/// from `demos/` by scripts/embed_demos.py), so they work from any directory; `$POOLSCOPE_DEMOS` names a
/// directory of YAML files to use instead.
public enum DemoCatalog {
    /// The bundled demos (or those of `$POOLSCOPE_DEMOS`), sorted by name.
    public static func demos() -> [ScenarioSource] {
        if let override = ProcessInfo.processInfo.environment["POOLSCOPE_DEMOS"], !override.isEmpty {
            let directory = URL(fileURLWithPath: override)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            return names.filter { $0.hasSuffix(".yaml") }.sorted().compactMap { file in
                let url = directory.appendingPathComponent(file)
                guard let text = try? String(contentsOf: url, encoding: .utf8) else { return nil }
                return ScenarioSource(name: String(file.dropLast(5)), display: displayPath(url), text: text)
            }
        }
        return EmbeddedDemos.files.map { ScenarioSource(name: $0.name, display: "demos/\($0.name).yaml", text: $0.text) }
    }

    /// The scenario `reference` names: an existing file, or a demo name (with or without ".yaml"); nil when
    /// neither. A file that exists but cannot be read is an error naming it.
    public static func resolve(_ reference: String) throws(ScenarioError) -> ScenarioSource? {
        if FileManager.default.fileExists(atPath: reference) {
            let url = URL(fileURLWithPath: reference)
            do {
                let text = try UserFile.readText(reference)
                return ScenarioSource(name: url.deletingPathExtension().lastPathComponent, display: reference, text: text)
            } catch {
                throw ScenarioError(file: reference, line: 0, message: "cannot read the scenario: \(error.reason)")
            }
        }
        var name = reference.hasSuffix(".yaml") ? String(reference.dropLast(5)) : reference
        if name.hasPrefix("demos/") { name = String(name.dropFirst(6)) }
        return demos().first { $0.name == name }
    }

    /// Parses a scenario.
    public static func load(_ source: ScenarioSource, overrides: [ScenarioOverride] = []) throws(ScenarioError) -> Scenario {
        try ScenarioParser.parse(source.text, file: source.display, overrides: overrides)
    }

    /// Reads and parses a scenario file.
    public static func load(_ url: URL) throws(ScenarioError) -> Scenario {
        let display = displayPath(url)
        let text: String
        do {
            text = try UserFile.readText(url.path)
        } catch {
            throw ScenarioError(file: display, line: 0, message: "cannot read the scenario: \(error.reason)")
        }
        return try ScenarioParser.parse(text, file: display)
    }

    /// A path relative to the current directory when it lies below it.
    public static func displayPath(_ url: URL) -> String {
        let current = FileManager.default.currentDirectoryPath + "/"
        return url.path.hasPrefix(current) ? String(url.path.dropFirst(current.count)) : url.path
    }
}

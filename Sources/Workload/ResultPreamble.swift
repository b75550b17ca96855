import Foundation
import Yams

/// The lines a result CSV starts with, so the file says what produced it: each begins with `#` and, with
/// that stripped, they are YAML (the poolscope version, the seed, the shortened duration, the scenario as
/// it ran after its overrides). Readers skip them as comments (pandas `comment="#"`, R `comment.char`,
/// numpy's default); `poolscope run --from RESULT.csv` reads them to run the same again.
public enum ResultPreamble {
    /// The `#` lines (each ending in a line break) that describe `resolved`, produced by `version`.
    public static func lines(_ resolved: RunResult.ResolvedScenario, version: String) -> String {
        var text = "# poolscope: \"\(version)\"\n# seed: \(resolved.seed)\n"
        if let seconds = resolved.compressedToS { text += "# compressed_to_s: \(seconds)\n" }
        // A literal block with its indentation stated, so a first line that begins with spaces stays data.
        text += "# resolved_scenario: |2\n"
        for line in resolved.yaml.split(separator: "\n", omittingEmptySubsequences: false).dropLast(resolved.yaml.hasSuffix("\n") ? 1 : 0) {
            text += line.isEmpty ? "#\n" : "#   \(line)\n"
        }
        return text
    }

    /// Why a file's preamble could not be read back.
    public enum ReadError: Error, CustomStringConvertible {
        case none
        case notYAML(String)
        case missing(String)

        public var description: String {
            switch self {
            case .none: "has no '#' lines before its header: not a poolscope run --csv result, or from an older poolscope"
            case .notYAML(let reason): "its '#' lines are not the YAML poolscope writes: \(reason)"
            case .missing(let field): "its '#' lines have no \(field)"
            }
        }
    }

    /// What `text` (a result CSV) ran, read from its leading `#` lines.
    public static func read(_ text: String) throws(ReadError) -> RunResult.ResolvedScenario {
        var yaml = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            guard line.hasPrefix("#") else { break }
            let body = line.dropFirst()
            yaml += (body.hasPrefix(" ") ? String(body.dropFirst()) : String(body)) + "\n"
        }
        guard !yaml.isEmpty else { throw .none }
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch {
            throw .notYAML("\(error)")
        }
        guard let mapping = node?.mapping else { throw .notYAML("not a mapping") }
        guard let scenario = mapping["resolved_scenario"]?.string else { throw .missing("resolved_scenario") }
        guard let seedText = mapping["seed"]?.scalar?.string, let seed = UInt64(seedText) else { throw .missing("seed (a whole number)") }
        var compressed: Double?
        if let value = mapping["compressed_to_s"] {
            guard let seconds = value.scalar.flatMap({ Double($0.string) }), seconds.isFinite else {
                throw .missing("compressed_to_s as a number")
            }
            compressed = seconds
        }
        return RunResult.ResolvedScenario(yaml: scenario, seed: seed, compressedToS: compressed)
    }
}

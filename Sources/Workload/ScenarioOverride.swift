import Foundation
import Yams

/// One `--set PATH=VALUE`: a scenario field by its dotted path as written in the file
/// (`pool.max_workers`, `workload.arrivals.rate`, `timeline.0.at`), and a YAML value
/// (`12`, `300/s`, `{distribution: constant, value: 5ms}`). Applied to the file's YAML tree before it is
/// read, so an override is validated exactly like the file; its problems name the override.
public struct ScenarioOverride: Sendable, Equatable, CustomStringConvertible {
    /// The path's fields, in order.
    public let path: [String]
    /// The value as given.
    public let value: String
    /// The option it came from, as messages name it: `--set`, or `--vary` for a variant of `compare`.
    public var flag = "--set"

    /// Parses `PATH=VALUE`; the error says what is wrong with it.
    public init(_ text: String, flag: String = "--set") throws(ScenarioError) {
        self.flag = flag
        guard let equals = text.firstIndex(of: "=") else {
            throw ScenarioError(file: "\(flag) \(text)", line: 0, message: "an override is PATH=VALUE, like pool.max_workers=8")
        }
        let path = text[..<equals].split(separator: ".", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard !path.isEmpty, path.allSatisfy({ !$0.isEmpty }) else {
            throw ScenarioError(
                file: "\(flag) \(text)", line: 0, message: "the path must be fields joined by dots, like workload.arrivals.rate")
        }
        self.path = path
        value = String(text[text.index(after: equals)...])
    }

    public init(path: [String], value: String) {
        self.path = path
        self.value = value
    }

    /// `PATH=VALUE`, as given.
    public var description: String { "\(path.joined(separator: "."))=\(value)" }

    /// The dotted path.
    public var dottedPath: String { path.joined(separator: ".") }
}

extension ScenarioOverride {
    /// Lines at and beyond this one in a parsed tree belong to overrides, not the file: override `i`'s
    /// nodes are marked at `firstLine + i * linesPerOverride`, so an error on them is traced to the override.
    static let linesPerOverride = 1_000

    /// The file's tree with every override applied in order (a later one wins).
    static func apply(_ overrides: [ScenarioOverride], to root: Node, firstLine: Int) throws(ScenarioError) -> Node {
        var root = root
        for (index, override) in overrides.enumerated() {
            let line = firstLine + index * linesPerOverride
            let value = try override.node(atLine: line)
            root = try override.set(value, in: root, at: override.path[...], keyLine: line)
        }
        return root
    }

    /// The value as a YAML node whose marks say "this override".
    private func node(atLine line: Int) throws(ScenarioError) -> Node {
        let padding = String(repeating: "\n", count: line - 1)
        let composed: Node?
        do {
            composed = try Yams.compose(yaml: padding + value)
        } catch {
            throw ScenarioError(file: "\(flag) \(self)", line: 0, message: "the value is not valid YAML")
        }
        // An empty value is an empty text, as `field: ""` would be.
        return composed ?? Node("", Tag(.str))
    }

    /// A field name marked on the override's line.
    private func key(_ name: String, line: Int) -> Node {
        let padding = String(repeating: "\n", count: line - 1)
        let marked = (try? Yams.compose(yaml: padding + "\"\(name.replacingOccurrences(of: "\"", with: ""))\"")) ?? nil
        return marked ?? Node(name)
    }

    private func set(_ value: Node, in node: Node, at path: ArraySlice<String>, keyLine: Int) throws(ScenarioError) -> Node {
        guard let field = path.first else { return value }
        let rest = path.dropFirst()
        let here = self.path[..<path.startIndex].joined(separator: ".")
        switch node {
        case .mapping(var mapping):
            let child = mapping[field] ?? .mapping(Node.Mapping([], .implicit, .any, key(field, line: keyLine).mark))
            let updated = try set(value, in: child, at: rest, keyLine: keyLine)
            if mapping[field] != nil {
                mapping[field] = updated
            } else {
                mapping[key(field, line: keyLine)] = updated
            }
            return .mapping(mapping)
        case .sequence(var sequence):
            guard let index = Int(field), sequence.indices.contains(index) else {
                throw ScenarioError(
                    file: "\(flag) \(self)", line: 0,
                    message:
                        "'\(here)' is a list of \(sequence.count) in the file: '\(field)' is not one of its positions 0...\(max(sequence.count - 1, 0))"
                )
            }
            sequence[index] = try set(value, in: sequence[index], at: rest, keyLine: keyLine)
            return .sequence(sequence)
        case .scalar, .alias:
            throw ScenarioError(
                file: "\(flag) \(self)", line: 0,
                message: "'\(here)' is a single value in the file, so it has no field '\(field)'; set '\(here)' itself")
        }
    }
}

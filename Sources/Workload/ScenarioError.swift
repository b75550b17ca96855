/// A problem in a scenario file, with where it is.
public struct ScenarioError: Error, Equatable, CustomStringConvertible {
    public var file: String
    /// 1-based; 0 when the problem has no single place (an unreadable file).
    public var line: Int
    public var column: Int
    public var message: String
    /// Further problems of the same file, in line order (a file is read to the end, so one run reports
    /// every problem).
    public var others: [ScenarioError] = []

    public init(file: String, line: Int, column: Int = 0, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    /// Every problem as `file:line: message` (the form editors and CI logs link to), one per line.
    public var description: String {
        ([self] + others).map { problem in
            problem.line > 0 ? "\(problem.file):\(problem.line): \(problem.message)" : "\(problem.file): \(problem.message)"
        }.joined(separator: "\n")
    }
}

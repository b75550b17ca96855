/// A problem in a scenario file, with where it is.
public struct ScenarioError: Error, Equatable, CustomStringConvertible {
    public var file: String
    /// 1-based; 0 when the problem has no single place (an unreadable file).
    public var line: Int
    public var column: Int
    public var message: String

    public init(file: String, line: Int, column: Int = 0, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    /// `file:line: message`, the form editors and CI logs link to.
    public var description: String {
        line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)"
    }
}

/// A key press, as the backend decodes it.
public enum Key: Equatable, Sendable {
    case character(Character)
    case left, right, up, down, enter, escape, tab
    /// Ctrl-C (the terminal is in raw mode, so it arrives as a key).
    case interrupt
}

/// A key as one short string (a character is itself; the others are named), for recordings.
extension Key: Codable {
    private static let named: [String: Key] = [
        "<left>": .left, "<right>": .right, "<up>": .up, "<down>": .down, "<enter>": .enter, "<escape>": .escape,
        "<tab>": .tab, "<interrupt>": .interrupt,
    ]

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        if let key = Self.named[text] {
            self = key
        } else if text.count == 1, let character = text.first {
            self = .character(character)
        } else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a key: '\(text)'"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .character(let character): try container.encode(String(character))
        default: try container.encode(Self.named.first { $0.value == self }?.key ?? "<unknown>")
        }
    }
}

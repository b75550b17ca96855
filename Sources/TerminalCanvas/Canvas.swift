/// A colour of the terminal's basic palette.
public enum Color: UInt8, Sendable, CaseIterable {
    case black, red, green, yellow, blue, magenta, cyan, white
}

/// How a cell looks.
public struct Style: Hashable, Sendable {
    public var foreground: Color?
    public var background: Color?
    public var bold = false
    public var reverse = false
    public var dim = false

    public init(foreground: Color? = nil, background: Color? = nil, bold: Bool = false, reverse: Bool = false, dim: Bool = false) {
        self.foreground = foreground
        self.background = background
        self.bold = bold
        self.reverse = reverse
        self.dim = dim
    }

    public static let plain = Style()
}

/// One character cell of the screen.
public struct Cell: Hashable, Sendable {
    public var character: Character
    public var style: Style

    public init(_ character: Character = " ", style: Style = .plain) {
        self.character = character
        self.style = style
    }
}

/// A rectangle of cells.
public struct Rect: Hashable, Sendable {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = max(width, 0)
        self.height = max(height, 0)
    }

    /// The area inside a one-cell border.
    public var inner: Rect { Rect(x: x + 1, y: y + 1, width: width - 2, height: height - 2) }
}

/// A grid of styled cells that the view draws into and the terminal backend copies to the screen.
public struct Canvas: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public private(set) var cells: [Cell]

    public init(width: Int, height: Int) {
        self.width = max(width, 0)
        self.height = max(height, 0)
        cells = Array(repeating: Cell(), count: self.width * self.height)
    }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * width + x] }
        set {
            guard x >= 0, y >= 0, x < width, y < height else { return }
            cells[y * width + x] = newValue
        }
    }

    /// Writes `text` from (x, y), clipped to `limit` cells and to the canvas; returns the cells written.
    @discardableResult
    public mutating func write(_ text: String, x: Int, y: Int, style: Style = .plain, limit: Int? = nil) -> Int {
        guard y >= 0, y < height else { return 0 }
        let end = min(width, x + (limit ?? width))
        var column = x
        for character in text {
            guard column < end else { break }
            if column >= 0 { self[column, y] = Cell(character, style: style) }
            column += 1
        }
        return max(column - x, 0)
    }

    /// Fills a rectangle.
    public mutating func fill(_ rect: Rect, with cell: Cell = Cell()) {
        for row in rect.y..<(rect.y + rect.height) {
            for column in rect.x..<(rect.x + rect.width) { self[column, row] = cell }
        }
    }

    /// Draws a border with a title in its top edge.
    public mutating func box(_ rect: Rect, title: String = "", style: Style = .plain, glyphs: Glyphs) {
        guard rect.width >= 2, rect.height >= 2 else { return }
        let right = rect.x + rect.width - 1
        let bottom = rect.y + rect.height - 1
        for column in rect.x...right {
            self[column, rect.y] = Cell(glyphs.horizontal, style: style)
            self[column, bottom] = Cell(glyphs.horizontal, style: style)
        }
        for row in rect.y...bottom {
            self[rect.x, row] = Cell(glyphs.vertical, style: style)
            self[right, row] = Cell(glyphs.vertical, style: style)
        }
        self[rect.x, rect.y] = Cell(glyphs.topLeft, style: style)
        self[right, rect.y] = Cell(glyphs.topRight, style: style)
        self[rect.x, bottom] = Cell(glyphs.bottomLeft, style: style)
        self[right, bottom] = Cell(glyphs.bottomRight, style: style)
        if !title.isEmpty {
            write(" \(title) ", x: rect.x + 2, y: rect.y, style: Style(foreground: style.foreground, bold: true), limit: rect.width - 4)
        }
    }

    /// The text of each row (trailing spaces kept), for tests and for reading the screen.
    public var lines: [String] {
        (0..<height).map { row in String((0..<width).map { self[$0, row].character }) }
    }

    /// All rows joined, trailing spaces trimmed, for searching in tests.
    public var text: String {
        lines.map { line in String(line.reversed().drop(while: { $0 == " " }).reversed()) }.joined(separator: "\n")
    }
}

/// The characters used to draw: Unicode block and box characters, or plain ASCII for terminals without them.
public struct Glyphs: Sendable, Equatable {
    public var horizontal: Character
    public var vertical: Character
    public var topLeft: Character
    public var topRight: Character
    public var bottomLeft: Character
    public var bottomRight: Character
    /// Bar levels from empty to full.
    public var levels: [Character]
    public var barFull: Character
    public var barEmpty: Character
    public var marker: Character

    public static let unicode = Glyphs(
        horizontal: "─", vertical: "│", topLeft: "┌", topRight: "┐", bottomLeft: "└", bottomRight: "┘",
        levels: [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"], barFull: "█", barEmpty: "░", marker: "◄")

    public static let ascii = Glyphs(
        horizontal: "-", vertical: "|", topLeft: "+", topRight: "+", bottomLeft: "+", bottomRight: "+",
        levels: [" ", ".", ".", ":", ":", "=", "=", "#", "#"], barFull: "#", barEmpty: ".", marker: "<")
}

extension Canvas {
    /// Copies `other` onto this canvas with its top-left corner at (x, y), clipped to this canvas.
    public mutating func draw(_ other: Canvas, x: Int, y: Int) {
        for row in 0..<other.height {
            for column in 0..<other.width { self[x + column, y + row] = other[column, row] }
        }
    }
}

/// A stretch of one row to write to the screen: cells of one style, from `x` onward.
public struct CanvasRun: Equatable, Sendable {
    public var x: Int
    public var y: Int
    public var text: String
    public var style: Style

    public init(x: Int, y: Int, text: String, style: Style) {
        self.x = x
        self.y = y
        self.text = text
        self.style = style
    }
}

extension Canvas {
    /// What to write to turn a screen showing `previous` into this canvas: the runs of changed cells,
    /// each of one style (every cell when there is no previous canvas or its size differs). The
    /// bottom-right cell is left out, since writing it scrolls some terminals.
    public func changes(since previous: Canvas?) -> [CanvasRun] {
        let full = previous.map { $0.width != width || $0.height != height } ?? true
        func changed(_ x: Int, _ y: Int) -> Bool { full || previous.map { $0[x, y] != self[x, y] } ?? true }
        var runs: [CanvasRun] = []
        for y in 0..<height {
            var x = 0
            while x < width {
                guard changed(x, y) else {
                    x += 1
                    continue
                }
                let style = self[x, y].style
                var text = String(self[x, y].character)
                var end = x + 1
                while end < width, self[end, y].style == style, changed(end, y) {
                    text.append(self[end, y].character)
                    end += 1
                }
                if y == height - 1 && end == width { text.removeLast() }
                if !text.isEmpty { runs.append(CanvasRun(x: x, y: y, text: text, style: style)) }
                x = end
            }
        }
        return runs
    }
}

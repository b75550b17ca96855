import Dashboard
import Testing

/// The diff the terminal backend draws: only what changed, in runs of one style.
@Suite struct CanvasChangesTests {
    private let bold = Style(bold: true)

    @Test("with nothing on screen every cell is written, row by row, in runs of one style, except the bottom-right cell")
    func firstDraw() {
        var canvas = Canvas(width: 4, height: 2)
        canvas.write("ab", x: 0, y: 0)
        canvas.write("cd", x: 2, y: 0, style: bold)
        canvas.write("efgh", x: 0, y: 1)
        #expect(
            canvas.changes(since: nil) == [
                CanvasRun(x: 0, y: 0, text: "ab", style: .plain),
                CanvasRun(x: 2, y: 0, text: "cd", style: bold),
                CanvasRun(x: 0, y: 1, text: "efg", style: .plain),
            ])
    }

    @Test("the same canvas again writes nothing; one changed cell writes that cell; a style change alone is a change")
    func onlyChanges() {
        var before = Canvas(width: 6, height: 3)
        before.write("hello", x: 0, y: 1)
        #expect(before.changes(since: before).isEmpty)
        var after = before
        after.write("j", x: 0, y: 1)
        after.write("o", x: 4, y: 1, style: bold)
        #expect(
            after.changes(since: before) == [
                CanvasRun(x: 0, y: 1, text: "j", style: .plain), CanvasRun(x: 4, y: 1, text: "o", style: bold),
            ])
    }

    @Test("a canvas of another size is drawn whole")
    func resize() {
        let small = Canvas(width: 2, height: 2)
        let large = Canvas(width: 3, height: 2)
        #expect(large.changes(since: small).map(\.text) == ["   ", "  "])
    }
}

/// Variants of one scenario side by side (`poolscope compare --watch`): each state drawn by the same pure
/// ``view(_:width:height:)`` into its share of the width, under a title line naming the variant.
public func compareView(_ states: [DashboardState], titles: [String], width: Int, height: Int) -> Canvas {
    var canvas = Canvas(width: width, height: height)
    guard !states.isEmpty else { return canvas }
    let columnWidth = width / states.count
    guard columnWidth >= minimumSize.width, height >= minimumSize.height + 1 else {
        canvas.write(
            "compare --watch needs \(minimumSize.width * states.count)x\(minimumSize.height + 1) for \(states.count) variants; this terminal is \(width)x\(height).",
            x: 0, y: 0)
        canvas.write("Widen it (or make the font smaller), or run compare without --watch for the table. q quits.", x: 0, y: 1)
        return canvas
    }
    for (index, state) in states.enumerated() {
        let title = index < titles.count ? titles[index] : "variant \(index + 1)"
        canvas.write(title, x: index * columnWidth, y: 0, style: Style(bold: true, reverse: true), limit: columnWidth - 1)
        canvas.draw(view(state, width: columnWidth, height: height - 1), x: index * columnWidth, y: 1)
    }
    return canvas
}

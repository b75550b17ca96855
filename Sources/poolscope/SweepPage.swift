import Foundation

/// `sweep --html FILE`: one self-contained page (inline SVG, no scripts, nothing fetched) with a chart per
/// metric against the first varied field, one line per value of the second, 95% intervals as bars, and
/// Erlang C's prediction dashed beside the measured mean wait where it applies.
extension SweepDocument {
    static let charted: [(metric: String, title: String)] = [
        ("queue_wait_mean_ms", "Mean queue wait (ms)"), ("queue_wait_p99_ms", "p99 queue wait (ms)"),
        ("end_to_end_p99_ms", "p99 end-to-end (ms)"), ("throughput_mean_per_s", "Throughput (jobs/s)"),
        ("workers_max", "Workers (max)"), ("rejected", "Rejected jobs"),
    ]

    /// Measured mean wait over Erlang C's prediction, charted where the theory applies, with the band
    /// of ±15% drawn: how well the pool matches the M/M/c model, point by point.
    static let theoryRatio = "queue_wait_mean_over_erlang_c"

    func html() -> String {
        let theory =
            points.contains { $0.theoryMeanWaitMs != nil }
            ? [(metric: Self.theoryRatio, title: "Measured mean wait / Erlang C (band: ±15%)")] : []
        let charts = (Self.charted + theory).map { chart($0.metric, title: $0.title) }.joined(separator: "\n")
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>poolscope sweep: \(escape(scenario))</title>
            <style>
            body { font: 14px system-ui, sans-serif; margin: 24px; color: #222; }
            h1 { font-size: 20px; } .charts { display: flex; flex-wrap: wrap; gap: 16px; }
            figure { margin: 0; border: 1px solid #ddd; padding: 8px; } figcaption { font-weight: 600; margin-bottom: 4px; }
            table { border-collapse: collapse; margin-top: 16px; } td, th { border: 1px solid #ddd; padding: 2px 8px; text-align: right; }
            .legend span { margin-right: 12px; }
            </style></head><body>
            <h1>poolscope sweep: \(escape(scenario))</h1>
            <p>\(points.count) points × \(repeats) run\(repeats == 1 ? "" : "s") each; varied: \(vary.map(escape).joined(separator: ", ")). \
            Dots are means; bars, 95% intervals\(points.contains { $0.theoryMeanWaitMs != nil } ? "; the dashed line is Erlang C's prediction" : "").</p>
            <div class="charts">
            \(charts)
            </div>
            \(tableHTML())
            </body></html>
            """
    }

    /// The leading number of a value ("100/s" -> 100, "5e-05" -> 0.00005), or nil for a non-numeric value.
    private static func number(_ value: String) -> Double? { SweepAxis.split(value)?.0 }

    private func chart(_ metric: String, title: String) -> String {
        let xValues = uniqueValues(of: vary[0])
        let numeric = xValues.allSatisfy { Self.number($0) != nil }
        func x(of value: String) -> Double { numeric ? (Self.number(value) ?? 0) : Double(xValues.firstIndex(of: value) ?? 0) }
        let series: [String] = vary.count > 1 ? uniqueValues(of: vary[1]) : [""]
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
        var lines: [(color: String, points: [(x: Double, mean: Double, low: Double, high: Double)], dashed: Bool, label: String)] = []
        for (index, name) in series.enumerated() {
            let members = points.filter { vary.count == 1 || $0.set[vary[1]] == name }
            let values = members.compactMap { point -> (Double, Double, Double, Double)? in
                guard let value = point.set[vary[0]] else { return nil }
                if metric == Self.theoryRatio {
                    guard let wait = point.metrics["queue_wait_mean_ms"], let predicted = point.theoryMeanWaitMs, predicted > 0
                    else { return nil }
                    return (x(of: value), wait.mean / predicted, wait.ci95Low / predicted, wait.ci95High / predicted)
                }
                guard let interval = point.metrics[metric] else { return nil }
                return (x(of: value), interval.mean, interval.ci95Low, interval.ci95High)
            }.sorted { $0.0 < $1.0 }
            let color = colors[index % colors.count]
            lines.append((color, values.map { ($0.0, $0.1, $0.2, $0.3) }, false, vary.count > 1 ? "\(vary[1])=\(name)" : "measured"))
            if metric == "queue_wait_mean_ms" {
                let theory = members.compactMap { point -> (Double, Double, Double, Double)? in
                    guard let predicted = point.theoryMeanWaitMs, let value = point.set[vary[0]] else { return nil }
                    return (x(of: value), predicted, predicted, predicted)
                }.sorted { $0.0 < $1.0 }
                if !theory.isEmpty { lines.append((color, theory.map { ($0.0, $0.1, $0.2, $0.3) }, true, "Erlang C")) }
            }
        }
        let all = lines.flatMap(\.points)
        guard !all.isEmpty else { return "" }
        let (width, height, left, bottom, top, right) = (420.0, 260.0, 56.0, 36.0, 12.0, 12.0)
        let xMin = all.map(\.x).min() ?? 0
        let xMax = all.map(\.x).max() ?? 1
        let peak = all.map { max($0.high, $0.mean) }.max() ?? 0
        // All zero (nothing rejected): an axis of 0 to 1, not of nothing.
        let yMax = metric == Self.theoryRatio ? max(peak * 1.08, 1.5) : peak > 0 ? peak * 1.08 : 1
        // Every metric charted is a count, a rate or a time: the axis starts at zero, and an interval that
        // reaches below it (few runs, wide spread) is cut there.
        let yMin = 0.0
        func px(_ value: Double) -> Double { left + (xMax == xMin ? 0.5 : (value - xMin) / (xMax - xMin)) * (width - left - right) }
        func py(_ value: Double) -> Double { height - bottom - (value - yMin) / (yMax - yMin) * (height - bottom - top) }
        func f(_ value: Double) -> String { String(format: "%.1f", value) }
        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"\(escape(title))\">"
        svg +=
            "<line x1=\"\(f(left))\" y1=\"\(f(height - bottom))\" x2=\"\(f(width - right))\" y2=\"\(f(height - bottom))\" stroke=\"#888\"/>"
        svg += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(height - bottom))\" stroke=\"#888\"/>"
        for step in 0...4 {
            let value = yMin + (yMax - yMin) * Double(step) / 4
            svg += "<text x=\"\(f(left - 4))\" y=\"\(f(py(value) + 4))\" font-size=\"11\" text-anchor=\"end\">\(Self.short(value))</text>"
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(py(value)))\" x2=\"\(f(width - right))\" y2=\"\(f(py(value)))\" stroke=\"#eee\"/>"
        }
        for value in xValues {
            svg +=
                "<text x=\"\(f(px(x(of: value))))\" y=\"\(f(height - bottom + 14))\" font-size=\"11\" text-anchor=\"middle\">\(escape(value))</text>"
        }
        if metric == Self.theoryRatio {
            for (value, dash) in [(1.0, ""), (0.85, " stroke-dasharray=\"4 3\""), (1.15, " stroke-dasharray=\"4 3\"")] {
                svg +=
                    "<line x1=\"\(f(left))\" y1=\"\(f(py(value)))\" x2=\"\(f(width - right))\" y2=\"\(f(py(value)))\" stroke=\"#555\"\(dash)/>"
            }
        }
        svg +=
            "<text x=\"\(f((left + width - right) / 2))\" y=\"\(f(height - 4))\" font-size=\"11\" text-anchor=\"middle\">\(escape(vary[0]))</text>"
        for line in lines {
            let path = line.points.map { "\(f(px($0.x))),\(f(py($0.mean)))" }.joined(separator: " ")
            svg +=
                "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"\(line.dashed ? 1.5 : 2)\"\(line.dashed ? " stroke-dasharray=\"6 4\"" : "")/>"
            guard !line.dashed else { continue }
            for point in line.points {
                if point.high > point.low {
                    svg +=
                        "<line x1=\"\(f(px(point.x)))\" y1=\"\(f(py(max(point.low, 0))))\" x2=\"\(f(px(point.x)))\" y2=\"\(f(py(point.high)))\" stroke=\"\(line.color)\"/>"
                }
                svg +=
                    "<circle cx=\"\(f(px(point.x)))\" cy=\"\(f(py(point.mean)))\" r=\"3\" fill=\"\(line.color)\"><title>\(Self.short(point.mean))</title></circle>"
            }
        }
        svg += "</svg>"
        let legend = lines.map { "<span style=\"color:\($0.color)\">\($0.dashed ? "- - " : "● ")\(escape($0.label))</span>" }.joined()
        return "<figure><figcaption>\(escape(title))</figcaption>\(svg)<div class=\"legend\">\(legend)</div></figure>"
    }

    private func uniqueValues(of path: String) -> [String] {
        var seen: [String] = []
        for point in points { if let value = point.set[path], !seen.contains(value) { seen.append(value) } }
        return seen
    }

    private func tableHTML() -> String {
        let names = Point.metricNames
        let header = (vary + ["runs"] + names + ["theory_mean_wait_ms"]).map { "<th>\(escape($0))</th>" }.joined()
        let rows = points.map { point -> String in
            let metrics = point.metrics
            let cells =
                vary.map { escape(point.set[$0] ?? "") } + ["\(point.runs.count)"]
                + names.map { name in
                    metrics[name].map { interval in
                        repeats > 1 ? "\(interval.mean) ±\(Interval.round((interval.ci95High - interval.ci95Low) / 2))" : "\(interval.mean)"
                    } ?? ""
                } + [point.theoryMeanWaitMs.map { "\($0)" } ?? ""]
            return "<tr>" + cells.map { "<td>\($0)</td>" }.joined() + "</tr>"
        }
        return "<table><tr>\(header)</tr>\(rows.joined())</table>"
    }

    private static func short(_ value: Double) -> String {
        abs(value) >= 100 ? "\(Int(value.rounded()))" : String(format: "%.3g", value)
    }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

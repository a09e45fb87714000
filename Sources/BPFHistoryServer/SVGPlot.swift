import Foundation

/// A line plot drawn on the server as SVG: one or more series of (x, y) points, x being a
/// snapshot id. Each point is a `<circle class="pt">` (with its value as a tooltip), so the page
/// needs no script and a test can count the points.
struct SVGPlot {
    struct Series {
        var name: String
        var color: String
        var points: [(x: Int64, y: Double, label: String)]
    }

    var series: [Series]
    var width = 900, height = 260
    /// Points past this many per series are drawn as the line only.
    var maximumMarkers = 2_000

    private let left = 70.0, right = 16.0, top = 12.0, bottom = 34.0

    func rendered() -> String {
        let all = series.flatMap(\.points)
        guard let minX = all.map(\.x).min(), let maxX = all.map(\.x).max() else {
            return "<p class=\"muted\">nothing to plot</p>"
        }
        let ys = all.map(\.y)
        var (minY, maxY) = (min(0, ys.min()!), ys.max()!)
        if maxY == minY { maxY = minY + 1 }
        let (w, h) = (Double(width) - left - right, Double(height) - top - bottom)
        func px(_ x: Int64) -> Double { maxX == minX ? left + w / 2 : left + Double(x - minX) / Double(maxX - minX) * w }
        func py(_ y: Double) -> Double { top + h - (y - minY) / (maxY - minY) * h }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }

        var out = "<svg class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\">"
        for i in 0 ... 4 {
            let y = minY + (maxY - minY) * Double(i) / 4
            out += "<line class=\"grid\" x1=\"\(f(left))\" x2=\"\(f(left + w))\" y1=\"\(f(py(y)))\" y2=\"\(f(py(y)))\"/>"
            out += "<text x=\"\(f(left - 6))\" y=\"\(f(py(y) + 4))\" text-anchor=\"end\">\(Self.short(y))</text>"
        }
        for x in Set([minX, (minX + maxX) / 2, maxX]).sorted() {
            out += "<text x=\"\(f(px(x)))\" y=\"\(f(top + h + 18))\" text-anchor=\"middle\">#\(x)</text>"
        }
        out += "<text x=\"\(f(left + w / 2))\" y=\"\(height - 2)\" text-anchor=\"middle\">snapshot</text>"
        for s in series where !s.points.isEmpty {
            let line = s.points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            out += "<polyline style=\"stroke:\(s.color)\" points=\"\(line)\"/>"
            guard s.points.count <= maximumMarkers else { continue }
            for p in s.points {
                out += "<circle class=\"pt\" style=\"fill:\(s.color)\" cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"2.5\">"
                out += "<title>#\(p.x): \(HTML.escape(p.label))</title></circle>"
            }
        }
        return out + "</svg>"
    }

    /// The points that start or end a run of equal values: the same line, fewer vertices (a
    /// count constant over a thousand snapshots is two points, not a thousand).
    static func runEnds(_ points: [(x: Int64, y: Double, label: String)]) -> [(x: Int64, y: Double, label: String)] {
        points.indices.filter { i in
            i == 0 || i == points.count - 1 || points[i - 1].y != points[i].y || points[i + 1].y != points[i].y
        }.map { points[$0] }
    }

    /// 1234567 → 1.23M: axis labels stay narrow.
    static func short(_ v: Double) -> String {
        let a = abs(v)
        if a >= 1e12 { return String(format: "%.3gT", v / 1e12) }
        if a >= 1e9 { return String(format: "%.3gG", v / 1e9) }
        if a >= 1e6 { return String(format: "%.3gM", v / 1e6) }
        if a >= 1e4 { return String(format: "%.3gk", v / 1e3) }
        return a == a.rounded() ? String(Int64(v)) : String(format: "%.3g", v)
    }

    static let palette = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#1b7c83", "#bc4c00", "#57606a"]
}

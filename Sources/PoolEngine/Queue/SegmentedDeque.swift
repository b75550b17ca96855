import DequeModule

/// A double-ended queue kept in segments of a fixed size, for queues that can grow to millions of jobs.
///
/// A single `Deque` doubles as it grows: each growth copies every element and touches twice the memory,
/// and on a fresh pool that page-faulting dominated the cost of submitting (BENCHMARKS.md). Segments are
/// allocated once and never copied, and one emptied segment is kept for reuse, so a queue that fills and
/// drains in waves stops allocating.
struct SegmentedDeque<Element> {
    private var segments = Deque<Deque<Element>>()
    /// An emptied segment, its capacity kept, for the next one needed.
    private var spare: Deque<Element>?
    private(set) var count = 0

    /// Elements per segment (80 bytes each for a queued job: 40 KB segments).
    static var segmentSize: Int { 512 }

    var isEmpty: Bool { count == 0 }

    mutating func append(_ element: Element) {
        if segments.isEmpty || segments[segments.count - 1].count >= Self.segmentSize {
            segments.append(freshSegment())
        }
        segments[segments.count - 1].append(element)
        count += 1
    }

    mutating func popFirst() -> Element? {
        guard !segments.isEmpty, let element = segments[0].popFirst() else { return nil }
        count -= 1
        if segments[0].isEmpty { retire(segments.removeFirst()) }
        return element
    }

    mutating func popLast() -> Element? {
        guard !segments.isEmpty, let element = segments[segments.count - 1].popLast() else { return nil }
        count -= 1
        if segments[segments.count - 1].isEmpty { retire(segments.removeLast()) }
        return element
    }

    /// Merges `elements` (sorted by `isBefore`) into the front: each goes after the elements at the front
    /// that precede it, so putting back jobs taken from the front restores the order they had.
    mutating func mergeAtFront(_ elements: [Element], by isBefore: (Element, Element) -> Bool) {
        guard !elements.isEmpty else { return }
        if segments.isEmpty { segments.append(freshSegment()) }
        var index = 0
        for element in elements {
            while index < segments[0].count && isBefore(segments[0][index], element) { index += 1 }
            segments[0].insert(element, at: index)
            index += 1
        }
        count += elements.count
    }

    mutating func appendReversed(_ elements: [Element]) {
        for element in elements.reversed() { append(element) }
    }

    /// Removes and returns every element, front to back.
    mutating func removeAll() -> [Element] {
        var all: [Element] = []
        all.reserveCapacity(count)
        for segment in segments { all.append(contentsOf: segment) }
        segments.removeAll()
        count = 0
        return all
    }

    private mutating func freshSegment() -> Deque<Element> {
        if let segment = spare {
            spare = nil
            return segment
        }
        var segment = Deque<Element>()
        segment.reserveCapacity(Self.segmentSize)
        return segment
    }

    private mutating func retire(_ segment: Deque<Element>) {
        if spare == nil { spare = segment }
    }
}

extension SegmentedDeque: Sendable where Element: Sendable {}

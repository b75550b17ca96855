import Histogram

/// The engine's latency histograms (hdrhistogram-swift), named apart from swift-prometheus's `Histogram`.
typealias HDRHistogram = Histogram<UInt64>

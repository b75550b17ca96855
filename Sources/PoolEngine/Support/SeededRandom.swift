#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A small, fast, seeded generator (SplitMix64): the same seed gives the same numbers on every machine,
/// which is what makes a scenario's job stream and a pool's injected faults repeatable. The one
/// generator of the package.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// SplitMix64's finaliser: every bit of `value` stirred into every bit of the result, in a few
    /// instructions (also a cheap hash: see `WorkerID`).
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform number in [0, 1), from the top 53 bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// A uniform number in (0, 1], safe for logarithms.
    public mutating func openUnit() -> Double { 1 - unit() }

    /// A standard normal number (Box–Muller).
    public mutating func normal() -> Double {
        (-2 * log(openUnit())).squareRoot() * cos(2 * Double.pi * unit())
    }
}

public import Dashboard
public import Foundation
public import PoolEngine

/// What a recording holds, in order: everything the dashboard was told, stamped with when.
///
/// A recording is the dashboard's input, not its output: the frames it was given, the keys the person
/// pressed, the commands a source refused and the final report. Fed through the same pure ``update(_:_:)``
/// they rebuild the same states, so ``view(_:width:height:)`` draws the same screens at any size.
public enum RecordedMessage: Sendable, Codable {
    case tick(DashboardFrame)
    case key(Key)
    case refused(Command, reason: String)
    case shutdownFinished(ShutdownReport)

    /// The dashboard message it was.
    public var message: Message {
        switch self {
        case .tick(let frame): .tick(frame)
        case .key(let key): .key(key)
        case .refused(let command, let reason): .refused(command, reason: reason)
        case .shutdownFinished(let report): .shutdownFinished(report)
        }
    }

    /// The recorded form of a dashboard message.
    public init(_ message: Message) {
        switch message {
        case .tick(let frame): self = .tick(frame)
        case .key(let key): self = .key(key)
        case .refused(let command, let reason): self = .refused(command, reason: reason)
        case .shutdownFinished(let report): self = .shutdownFinished(report)
        }
    }
}

/// One message and when it came, in seconds of wall time since the recording started.
public struct RecordedEntry: Sendable, Codable {
    public var t: Double
    public var message: RecordedMessage

    public init(t: Double, message: RecordedMessage) {
        self.t = t
        self.message = message
    }
}

/// The first line of a recording after the magic line: what it is of, and how to run it again.
public struct RecordingHeader: Sendable, Codable, Equatable {
    /// The format's version; readers refuse versions they do not know.
    public var version: Int
    /// `scenario` (a scenario run by `run` or `watch`).
    public var source: String
    public var scenario: String
    public var recordedAt: String
    /// Frames per second the recorder aimed for.
    public var fps: Int
    /// The scenario after overrides and its seed, so the run can be repeated.
    public var resolvedScenario: String?
    public var seed: UInt64?
    /// Jobs the dashboard's b key injected, and the notice it started with, so the replayed dashboard
    /// starts as the live one did.
    public var burstSize: Int?
    public var notice: String?

    public init(
        version: Int = RecordingFormat.version, source: String, scenario: String, recordedAt: Date = Date(), fps: Int,
        resolvedScenario: String? = nil, seed: UInt64? = nil, burstSize: Int? = nil, notice: String? = nil
    ) {
        self.burstSize = burstSize
        self.notice = notice
        self.version = version
        self.source = source
        self.scenario = scenario
        self.recordedAt = ISO8601DateFormatter().string(from: recordedAt)
        self.fps = fps
        self.resolvedScenario = resolvedScenario
        self.seed = seed
    }
}

/// The file layout (docs/RECORDING.md):
///
/// ```
/// POOLSCOPE-RECORDING\n             magic line
/// {header JSON}\n                   RecordingHeader
/// block*                            until the end of the file
/// ```
/// A block is 4 bytes of compressed length and 4 bytes of original length (both big-endian), then that
/// many bytes of zlib data (with its Adler-32 check): JSON lines, one ``RecordedEntry`` each. The writer
/// closes a block about once a second, so a recorder that dies loses at most the last second, and a
/// reader replays every whole block before damage.
public enum RecordingFormat {
    public static let magic = "POOLSCOPE-RECORDING"
    public static let version = 1
    /// No block is larger than this, compressed or not: a larger length means damage, not a huge block.
    static let blockLimit = 256 * 1024 * 1024

    // Keys as the types name them: a key strategy would also rewrite enum case names (sharedFIFO), which
    // then do not read back.
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    static func decoder() -> JSONDecoder { JSONDecoder() }
}

/// A recording that cannot be opened at all (not one, or a version this build does not know).
public struct RecordingError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}

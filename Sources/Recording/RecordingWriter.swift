public import Dashboard
import Foundation
import PoolEngine
import Synchronization
import Workload

/// Writes a recording as the dashboard (or a headless run) goes: each message is encoded at once and a
/// compressed block is written about once a second, so a recorder that dies loses at most the last
/// second. The first write error stops the recording and is kept for ``finish()`` to report; the run
/// itself goes on.
public final class RecordingWriter: Sendable {
    private struct State {
        var handle: FileHandle?
        var pending = Data()
        var pendingSince: Double?
        var failure: String?
        var entries = 0
        var bytes = 0
        /// One encoder for every entry (ten a second), used only under the lock.
        let encoder = RecordingFormat.encoder()
    }

    public let path: String
    private let origin = ContinuousClock.now
    private let state: Mutex<State>
    /// How much wall time a block holds at most.
    private let blockSeconds: Double

    /// Creates (or truncates) the file and writes the magic line and the header.
    public init(path: String, header: RecordingHeader, blockSeconds: Double = 1) throws(RecordingError) {
        self.path = path
        self.blockSeconds = blockSeconds
        // Opened in place (created or truncated), never replaced: a device, a pipe or a link stays what it is,
        // and a write error on it (a full disk, /dev/full) is reported when the recording closes.
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else {
            throw RecordingError(path: path, message: "cannot create the recording: \(UserFile.reason(errno))")
        }
        do {
            let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
            var start = Data((RecordingFormat.magic + "\n").utf8)
            start.append(try RecordingFormat.encoder().encode(header))
            start.append(0x0A)
            try handle.write(contentsOf: start)
            state = Mutex(State(handle: handle, bytes: start.count))
        } catch {
            throw RecordingError(path: path, message: "cannot write the recording: \(UserFile.describe(error))")
        }
    }

    /// Records one message, stamped with the time since the recording started.
    public func record(_ message: Message) {
        let t = (ContinuousClock.now - origin).seconds
        record(RecordedEntry(t: t, message: RecordedMessage(message)))
    }

    /// Records one entry as given (tests stamp their own times).
    public func record(_ entry: RecordedEntry) {
        state.withLock { state in
            guard state.failure == nil else { return }
            do {
                state.pending.append(try state.encoder.encode(entry))
                state.pending.append(0x0A)
            } catch {
                state.failure = "an entry at \(entry.t)s did not encode (\(error)); the recording stops there"
                return
            }
            state.entries += 1
            let since = state.pendingSince ?? entry.t
            state.pendingSince = since
            if entry.t - since >= blockSeconds { flush(&state) }
        }
    }

    /// Writes what is pending and closes the file; throws the first write error, if any occurred.
    public func finish() throws(RecordingError) {
        let failure: String? = state.withLock { state in
            flush(&state)
            try? state.handle?.close()
            state.handle = nil
            return state.failure
        }
        if let failure { throw RecordingError(path: path, message: failure) }
    }

    /// Entries recorded and bytes written so far.
    public var written: (entries: Int, bytes: Int) { state.withLock { ($0.entries, $0.bytes) } }

    private func flush(_ state: inout State) {
        guard !state.pending.isEmpty, state.failure == nil, let handle = state.handle else { return }
        defer {
            state.pending.removeAll(keepingCapacity: true)
            state.pendingSince = nil
        }
        guard let compressed = Zlib.compress(state.pending) else {
            state.failure = "could not compress a block of \(state.pending.count) bytes; the recording stops here"
            return
        }
        var block = Data(capacity: compressed.count + 8)
        for value in [UInt32(compressed.count), UInt32(state.pending.count)] {
            withUnsafeBytes(of: value.bigEndian) { block.append(contentsOf: $0) }
        }
        block.append(compressed)
        do {
            try handle.write(contentsOf: block)
            state.bytes += block.count
        } catch {
            state.failure = "writing failed after \(state.bytes) bytes (\(UserFile.describe(error))); the recording stops there"
        }
    }
}

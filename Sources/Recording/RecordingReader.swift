public import Foundation
import Workload

/// A recording read back: its header, every entry up to any damage, and what the damage was.
public struct Recording: Sendable {
    public var header: RecordingHeader
    public var entries: [RecordedEntry]
    /// Why the entries stop before the end of the file (cut short, corrupt), in words; `nil` when whole.
    public var damage: String?

    public init(header: RecordingHeader, entries: [RecordedEntry], damage: String? = nil) {
        self.header = header
        self.entries = entries
        self.damage = damage
    }

    /// Reads a recording. Throws only when nothing can be replayed: not a recording, an unknown version,
    /// an unreadable header. A file cut short or corrupt further on gives every whole block before the
    /// damage and says where it is in ``damage``.
    public static func read(path: String) throws(RecordingError) -> Recording {
        let data: Data
        do {
            data = try UserFile.read(path, allowEmpty: true)
        } catch {
            throw RecordingError(path: path, message: error.reason)
        }
        return try read(data, path: path)
    }

    public static func read(_ data: Data, path: String) throws(RecordingError) -> Recording {
        let magic = Data((RecordingFormat.magic + "\n").utf8)
        guard !data.isEmpty else { throw RecordingError(path: path, message: "the file is empty") }
        guard data.starts(with: magic) else {
            throw RecordingError(path: path, message: "not a PoolScope recording (it does not start with \(RecordingFormat.magic))")
        }
        var offset = data.startIndex + magic.count
        guard let newline = data[offset...].firstIndex(of: 0x0A) else {
            throw RecordingError(path: path, message: "the header is cut short")
        }
        let header: RecordingHeader
        do {
            header = try RecordingFormat.decoder().decode(RecordingHeader.self, from: data[offset..<newline])
        } catch {
            throw RecordingError(path: path, message: "the header does not read as a recording header (\(Self.shortReason(error)))")
        }
        guard header.version == RecordingFormat.version else {
            throw RecordingError(
                path: path,
                message: "format version \(header.version); this poolscope reads version \(RecordingFormat.version)")
        }
        offset = newline + 1
        var entries: [RecordedEntry] = []
        var block = 0
        let decoder = RecordingFormat.decoder()
        func damaged(_ what: String) -> Recording {
            let until = entries.last.map { String(format: " (to %.1fs)", $0.t) } ?? ""
            return Recording(
                header: header, entries: entries,
                damage: "\(what); replaying the \(entries.count) entries before it\(until)")
        }
        while offset < data.endIndex {
            block += 1
            guard data.endIndex - offset >= 8 else { return damaged("the file ends inside block \(block)'s header at byte \(offset)") }
            let compressedSize = Int(Self.bigEndian(data, at: offset))
            let originalSize = Int(Self.bigEndian(data, at: offset + 4))
            // zlib never expands more than about 1032 to 1: a larger original size is damage, not data.
            guard compressedSize > 0, compressedSize <= RecordingFormat.blockLimit, originalSize <= RecordingFormat.blockLimit,
                originalSize <= compressedSize * 1_032 + 64
            else { return damaged("block \(block) at byte \(offset) has an impossible length") }
            let start = offset + 8
            guard data.endIndex - start >= compressedSize else {
                return damaged(
                    "the file is cut short in block \(block) at byte \(offset) (\(data.endIndex - start) of \(compressedSize) bytes)")
            }
            let payload: Data
            switch Zlib.uncompress(data[start..<start + compressedSize], originalSize: originalSize) {
            case .success(let bytes): payload = bytes
            case .failure(let failure): return damaged("block \(block) at byte \(offset) is corrupt: \(failure)")
            }
            var lines: [RecordedEntry] = []
            for (number, line) in payload.split(separator: 0x0A).enumerated() {
                let entry: RecordedEntry
                do {
                    entry = try decoder.decode(RecordedEntry.self, from: line)
                } catch {
                    entries += lines
                    return damaged("entry \(number + 1) of block \(block) does not decode (\(Self.shortReason(error)))")
                }
                if let problem = entry.implausibility {
                    entries += lines
                    return damaged("entry \(number + 1) of block \(block) holds numbers no run produces (\(problem))")
                }
                lines.append(entry)
            }
            entries += lines
            offset = start + compressedSize
        }
        return Recording(header: header, entries: entries)
    }

    private static func bigEndian(_ data: Data, at offset: Int) -> UInt32 {
        data[offset..<offset + 4].reduce(0) { ($0 << 8) | UInt32($1) }
    }

    private static func shortReason(_ error: any Error) -> String {
        guard let decoding = error as? DecodingError else { return "\(error)" }
        switch decoding {
        case .keyNotFound(let key, _): return "missing field '\(key.stringValue)'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

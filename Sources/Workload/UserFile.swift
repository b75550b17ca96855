public import Foundation

#if canImport(Glibc)
    import Glibc
    private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int { Glibc.read(fd, buffer, count) }
    private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int { Glibc.write(fd, buffer, count) }
#elseif canImport(Musl)
    import Musl
    private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int { Musl.read(fd, buffer, count) }
    private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int { Musl.write(fd, buffer, count) }
#elseif canImport(Darwin)
    import Darwin
    private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int { Darwin.read(fd, buffer, count) }
    private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int { Darwin.write(fd, buffer, count) }
#endif

/// Reading and writing the files a user names (scenarios, results, recordings, CSV and HTML output), with
/// errors in words (is a directory, is empty, permission denied, no space left) instead of the platform's
/// error domains and codes, and writes that are whole or absent: a half-written result never looks complete.
public enum UserFile {
    /// The largest file read whole (scenarios, results, recordings); beyond it, reading is refused.
    public static let readLimit = 1 << 30
    /// The most read from a pipe or device (`/dev/stdin`, `<(...)`), whose size is not known beforehand.
    public static let streamReadLimit = 16 << 20

    /// Reads the whole file at `path`. Throws, naming the path, when it does not exist, is a directory, cannot
    /// be read, is larger than ``readLimit`` (a pipe or device: ``streamReadLimit``), or (unless `allowEmpty`)
    /// is empty. A pipe is read until its writer closes it, as `cat` would.
    public static func read(_ path: String, allowEmpty: Bool = false) throws(UserFileError) -> Data {
        var info = stat()
        guard stat(path, &info) == 0 else { throw UserFileError(path: path, reason: reason(errno)) }
        let kind = info.st_mode & S_IFMT
        if kind == S_IFDIR { throw UserFileError(path: path, reason: "is a directory, not a file") }
        let limit = kind == S_IFREG ? readLimit : streamReadLimit
        if kind == S_IFREG && Int(info.st_size) > limit { throw tooLarge(path, limit) }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw UserFileError(path: path, reason: reason(errno)) }
        defer { close(descriptor) }
        var data = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { buffer in systemRead(descriptor, buffer.baseAddress, buffer.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw UserFileError(path: path, reason: reason(errno))
            }
            if count == 0 { break }
            data.append(contentsOf: chunk[0..<count])
            if data.count > limit { throw tooLarge(path, limit) }
        }
        if data.isEmpty && !allowEmpty { throw UserFileError(path: path, reason: "is empty") }
        return data
    }

    private static func tooLarge(_ path: String, _ limit: Int) -> UserFileError {
        UserFileError(path: path, reason: "is larger than \(limit >> 20) MiB, too large to read")
    }

    /// Reads the file at `path` as UTF-8 text, with the errors of ``read(_:allowEmpty:)`` and one for bytes
    /// that are not UTF-8 (naming the first such byte's offset).
    public static func readText(_ path: String, allowEmpty: Bool = false) throws(UserFileError) -> String {
        let data = try read(path, allowEmpty: allowEmpty)
        guard let text = String(validating: data, as: UTF8.self) else {
            let offset = firstInvalidUTF8Offset(data)
            throw UserFileError(path: path, reason: "is not UTF-8 text (an invalid byte at offset \(offset))")
        }
        return text
    }

    /// Writes `data` to `path` whole or not at all. A regular file (or a new one) is written to a temporary
    /// file beside it, flushed to the disk and renamed over it, keeping its permission bits, so a reader never
    /// sees a half-written file (a symbolic link to a file stays a link: the file it points to is replaced;
    /// a hard link to the old file keeps the old contents). A device or pipe (`/dev/stdout`, a FIFO) is
    /// written in place. Every write is checked: a full disk, `/dev/full`, a read-only file system or a
    /// directory throws, naming the path.
    public static func write(_ data: Data, to path: String) throws(UserFileError) {
        var target = path
        var info = stat()
        var exists = lstat(path, &info) == 0
        if exists && info.st_mode & S_IFMT == S_IFLNK {
            // Follow the link to what it names; a link to a pipe or a terminal (`/dev/stdout`) is written in place.
            guard let resolved = realpath(path, nil) else { return try writeInPlace(data, to: path) }
            target = String(cString: resolved)
            free(resolved)
            exists = stat(target, &info) == 0
        }
        if exists {
            let kind = info.st_mode & S_IFMT
            if kind == S_IFDIR { throw UserFileError(path: path, reason: "is a directory, not a file") }
            if kind != S_IFREG { return try writeInPlace(data, to: path) }
        }
        let directory = (target as NSString).deletingLastPathComponent
        let name = (target as NSString).lastPathComponent
        let temporary = (directory.isEmpty ? "" : directory + "/") + ".\(name).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else {
            let error = errno
            throw UserFileError(path: path, reason: error == ENOENT ? "no such directory: \(directory)" : reason(error))
        }
        var failure = writeAll(data, to: descriptor)
        if failure == nil, exists, fchmod(descriptor, info.st_mode & 0o7777) != 0 { failure = errno }
        if failure == nil, fsync(descriptor) != 0 { failure = errno }
        if close(descriptor) != 0, failure == nil { failure = errno }
        if failure == nil, rename(temporary, target) != 0 { failure = errno }
        if let failure {
            unlink(temporary)
            throw UserFileError(path: path, reason: reason(failure))
        }
    }

    /// Writes to a device, pipe or terminal as it is (nothing to rename), or through a link whose target does
    /// not exist yet (creating it), checking every write.
    private static func writeInPlace(_ data: Data, to path: String) throws(UserFileError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else { throw UserFileError(path: path, reason: reason(errno)) }
        let written = writeAll(data, to: descriptor)
        let closed = close(descriptor) == 0 ? nil : errno
        if let error = written ?? closed { throw UserFileError(path: path, reason: reason(error)) }
    }

    /// Why `path` could not be written, in words, or nil when it looks writable: checked before a long run
    /// so that the run does not end by losing its output. Creates nothing.
    public static func writableProblem(_ path: String) -> String? {
        var info = stat()
        if stat(path, &info) == 0 {
            let kind = info.st_mode & S_IFMT
            if kind == S_IFDIR { return "is a directory, not a file" }
            if access(path, W_OK) != 0 { return reason(errno) }
            if kind != S_IFREG { return nil }
            // A regular file is replaced through a temporary file beside it: its directory must take one.
            guard let resolved = realpath(path, nil) else { return nil }
            let directory = (String(cString: resolved) as NSString).deletingLastPathComponent
            free(resolved)
            return access(directory.isEmpty ? "/" : directory, W_OK) == 0 ? nil : "cannot create files in \(directory): \(reason(errno))"
        }
        guard errno == ENOENT else { return reason(errno) }
        let parent = (path as NSString).deletingLastPathComponent
        let directory = parent.isEmpty ? "." : parent
        guard stat(directory, &info) == 0 else {
            return errno == ENOENT ? "no such directory: \(directory)" : reason(errno)
        }
        if info.st_mode & S_IFMT != S_IFDIR { return "\(directory) is not a directory" }
        return access(directory, W_OK) == 0 ? nil : "cannot create files in \(directory): \(reason(errno))"
    }

    /// Writes `text` as UTF-8, like ``write(_:to:)``.
    public static func write(_ text: String, to path: String) throws(UserFileError) {
        try write(Data(text.utf8), to: path)
    }

    /// Writes every byte, retrying short writes and interruptions; returns the error number of a failure.
    private static func writeAll(_ data: Data, to descriptor: Int32) -> Int32? {
        data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) -> Int32? in
            guard let base = buffer.baseAddress else { return nil }
            var offset = 0
            while offset < buffer.count {
                let written = systemWrite(descriptor, base + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                if written == 0 { return EIO }
                offset += written
            }
            return nil
        }
    }

    /// A Foundation file error in words: its POSIX cause when it has one (a `FileHandle` write to a full
    /// disk says "no space left on the device", not a domain and a code).
    public static func describe(_ error: any Error) -> String {
        let nsError = error as NSError
        if nsError.domain == NSPOSIXErrorDomain { return reason(Int32(truncatingIfNeeded: nsError.code)) }
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return reason(Int32(truncatingIfNeeded: underlying.code))
        }
        return nsError.localizedDescription
    }

    /// An error number in words a user can act on.
    public static func reason(_ error: Int32) -> String {
        switch error {
        case ENOENT: "no such file or directory"
        case EACCES, EPERM: "permission denied"
        case EISDIR: "is a directory, not a file"
        case ENOTDIR: "a part of the path is not a directory"
        case ENOSPC: "no space left on the device"
        case EROFS: "is on a read-only file system"
        case EDQUOT: "the disk quota is used up"
        case EFBIG: "the file would be too large"
        case ENAMETOOLONG: "the name is too long"
        case ELOOP: "too many symbolic links in the path"
        case EIO: "an input/output error"
        default: String(cString: strerror(error)).lowercased()
        }
    }

    private static func firstInvalidUTF8Offset(_ data: Data) -> Int {
        var iterator = data.makeIterator()
        var decoder = UTF8()
        var offset = 0
        var scalarStart = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                offset += UTF8.width(scalar)
                scalarStart = offset
            case .emptyInput: return offset
            case .error: return scalarStart
            }
        }
    }
}

/// A file a user named could not be read or written; ``description`` names it and says why in words.
public struct UserFileError: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

import CZlib
import Foundation

/// zlib's one-shot compress2 / uncompress over whole blocks.
enum Zlib {
    static func compress(_ data: Data) -> Data? {
        var bound = compressBound(uLong(data.count))
        var output = Data(count: Int(bound))
        let status = output.withUnsafeMutableBytes { (out: UnsafeMutableRawBufferPointer) -> Int32 in
            data.withUnsafeBytes { (input: UnsafeRawBufferPointer) -> Int32 in
                guard let outBase = out.baseAddress?.assumingMemoryBound(to: Bytef.self) else { return Z_MEM_ERROR }
                let inBase = input.baseAddress?.assumingMemoryBound(to: Bytef.self)
                return compress2(outBase, &bound, inBase, uLong(data.count), 6)
            }
        }
        guard status == Z_OK else { return nil }
        output.count = Int(bound)
        return output
    }

    /// The original bytes, or why not ("data error": the block is corrupt).
    static func uncompress(_ data: Data, originalSize: Int) -> Result<Data, ZlibFailure> {
        var size = uLong(originalSize)
        var output = Data(count: max(originalSize, 1))
        let status = output.withUnsafeMutableBytes { (out: UnsafeMutableRawBufferPointer) -> Int32 in
            data.withUnsafeBytes { (input: UnsafeRawBufferPointer) -> Int32 in
                guard let outBase = out.baseAddress?.assumingMemoryBound(to: Bytef.self),
                    let inBase = input.baseAddress?.assumingMemoryBound(to: Bytef.self)
                else { return Z_DATA_ERROR }
                return CZlib.uncompress(outBase, &size, inBase, uLong(data.count))
            }
        }
        guard status == Z_OK else { return .failure(ZlibFailure(status: status)) }
        guard Int(size) == originalSize else { return .failure(ZlibFailure(status: ZlibFailure.shorterThanSaid)) }
        output.count = originalSize
        return .success(output)
    }
}

struct ZlibFailure: Error, CustomStringConvertible {
    /// Not zlib's: the data was whole but shorter than the block's header said.
    static let shorterThanSaid: Int32 = -1_000
    var status: Int32
    var description: String {
        switch status {
        case Self.shorterThanSaid: "it holds less than its header says"
        case Z_DATA_ERROR: "its data fails zlib's check"
        case Z_BUF_ERROR: "it holds more than its header says"
        case Z_MEM_ERROR: "out of memory"
        default: "zlib error \(status)"
        }
    }
}

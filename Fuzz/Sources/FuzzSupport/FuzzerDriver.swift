// The one `main` every fuzz target shares. libFuzzer runs the inputs from our own `main`
// (LLVMFuzzerRunDriver), since SwiftPM gives an executable its `main`. scripts/fuzz.sh builds with
// -sanitize=fuzzer,address -DPOOLSCOPE_FUZZING; a plain build, which has no libFuzzer to link, makes a
// program that says so.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// libFuzzer's per-input entry: the input's bytes and their count; returns 0.
public typealias FuzzTarget = @convention(c) (UnsafeRawPointer?, Int) -> CInt

#if POOLSCOPE_FUZZING
    @_silgen_name("LLVMFuzzerRunDriver")
    private func runFuzzerDriver(
        _ argc: UnsafeMutablePointer<Int32>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: FuzzTarget
    ) -> CInt
#endif

/// Hands the process to libFuzzer with `target` (its command line is libFuzzer's), and exits with its
/// status; in a plain build, says how to build the fuzz target `name` instead.
public func runFuzzer(_ name: String, _ target: FuzzTarget) -> Never {
    #if POOLSCOPE_FUZZING
        var argumentCount = CommandLine.argc
        var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(runFuzzerDriver(&argumentCount, &arguments, target))
    #else
        print("\(name) is a libFuzzer target: build and run it with scripts/fuzz.sh (docs/FUZZING.md)")
        exit(0)
    #endif
}

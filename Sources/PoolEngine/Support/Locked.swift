#if canImport(Glibc)
    public import Glibc
#elseif canImport(Musl)
    public import Musl
#elseif canImport(Darwin)
    public import Darwin
#endif

/// A value guarded by a `pthread_mutex_t`, for the engine and the modules built on it.
///
/// Why not `Synchronization.Mutex`: on Linux it locks with raw futex calls that ThreadSanitizer does not
/// see, so every access under it is reported as a race and the sanitizer run that CI relies on becomes
/// useless. pthread mutexes are intercepted by the sanitizer and cost the same uncontended.
public final class Locked<Value> {
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    @usableFromInline var value: Value

    /// Guards `value`.
    public init(_ value: Value) {
        self.value = value
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        defer { pthread_mutexattr_destroy(&attributes) }
        #if os(Linux)
            // Adaptive: spin briefly before sleeping in the kernel. The pool's critical sections are a few
            // hundred nanoseconds, far shorter than a futex sleep and wake-up.
            pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ADAPTIVE_NP))
        #endif
        let status = pthread_mutex_init(mutex, &attributes)
        precondition(status == 0, "pthread_mutex_init failed: \(status)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value.
    @inlinable @inline(__always)
    public func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

// Safety: `value` is read and written only inside `withLock`, between `pthread_mutex_lock` and
// `pthread_mutex_unlock` on `mutex`, which the object allocates, owns and destroys; and only a `Sendable`
// value may be shared this way, since `withLock` hands it to whichever thread holds the lock.
extension Locked: @unchecked Sendable where Value: Sendable {}

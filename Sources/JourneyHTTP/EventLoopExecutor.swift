import NIOCore
import NIOPosix

/// Swift concurrency's global executor on NIO's event loops (`MultiThreadedEventLoopGroup.singleton`,
/// one thread per core) instead of its own thread pool: a request's handler, the source it waits on and
/// the answer it writes then run on the threads that read and write the sockets, without a hop between
/// two pools for each of them.
public enum EventLoopExecutor {
    /// Installs it, once, at the start of the process (before other tasks run); false where NIO cannot.
    @discardableResult
    public static func install() -> Bool {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}

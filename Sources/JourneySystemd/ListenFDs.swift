import CSystemd
import Glibc
import Synchronization

/// The listening sockets systemd handed over at start (socket activation), by their
/// `FileDescriptorName=`, read once through `sd_listen_fds_with_names(3)`.
///
/// `$LISTEN_PID` must name this process, or nothing is taken (the variables were meant for a parent).
/// The variables are removed from the environment afterwards, so child processes do not mistake the
/// descriptors for theirs. Each descriptor is handed out once; the ones nobody takes stay open (systemd
/// keeps its own copy, closing ours changes nothing for it).
public final class ListenFDs: Sendable {
    private let descriptors: Mutex<[(name: String, fd: Int32)]>

    /// Reads (and by default unsets) `$LISTEN_FDS`, `$LISTEN_PID` and `$LISTEN_FDNAMES`.
    public init(unsetEnvironment: Bool = true) {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = sd_listen_fds_with_names(unsetEnvironment ? 1 : 0, &names)
        var found: [(name: String, fd: Int32)] = []
        if count > 0 {
            for index in 0..<Int(count) {
                let name = names?[index].map { String(cString: $0) } ?? "unknown"
                found.append((name, SD_LISTEN_FDS_START + Int32(index)))
            }
        }
        if let names {
            var index = 0
            while let name = names[index] {
                free(name)
                index += 1
            }
            free(names)
        }
        descriptors = Mutex(found)
    }

    /// The names of the descriptors not taken yet, in the order systemd passed them.
    public var names: [String] { descriptors.withLock { $0.map(\.name) } }

    /// Takes the first descriptor passed under `name`; nil when there is none (left).
    public func take(named name: String) -> Int32? {
        descriptors.withLock { list in
            guard let index = list.firstIndex(where: { $0.name == name }) else { return nil }
            return list.remove(at: index).fd
        }
    }
}

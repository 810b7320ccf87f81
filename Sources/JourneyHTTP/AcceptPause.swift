import Glibc
import NIOCore

/// First in a listening channel's pipeline: an accept that failed for want of descriptors (or kernel
/// memory) takes the listener out of the poll for ``ConnectionGuard/retryAfter`` (see there why NIO's
/// own back-off does not).
final class AcceptPause: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = any Channel
    let connections: ConnectionGuard

    init(_ connections: ConnectionGuard) {
        self.connections = connections
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? IOError, [EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(error.errnoCode) {
            connections.acceptFailed(error)
            let channel = context.channel
            try? channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
            context.eventLoop.scheduleTask(in: ConnectionGuard.retryAfter) {
                try? channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
            }
        }
        context.fireErrorCaught(error)
    }
}

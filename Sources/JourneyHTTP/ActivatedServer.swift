import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// Serves a responder on a listening socket the service manager bound and handed over (socket activation:
/// `journeyd-http.socket`, `FileDescriptorName=http`).
///
/// Written here because Hummingbird 2.28's `Application` only binds addresses itself; everything else is
/// Hummingbird's own: its HTTP/1.1 child channel (optionally inside its TLS channel) and a responder,
/// accepted the way its `Server` accepts (within the ``ConnectionGuard``'s budget), and stopped the same
/// way on graceful shutdown — the listener is quiesced and requests in flight are answered before their
/// connections close.
struct ActivatedServer<Child: ServerChildChannel>: Sendable {
    let descriptor: Int32
    let child: Child
    let connections: ConnectionGuard
    let logger: Logger

    /// A Hummingbird responder (a router's, or the Tracking API's own) as the closure its HTTP channel
    /// calls, with the `Server:` header the address-bound application sends.
    static func responder(_ responder: some HTTPResponder<BasicRequestContext>, logger: Logger) -> HTTPChannelHandler.Responder {
        { request, writer, channel in
            let context = BasicRequestContext(source: .init(channel: channel, logger: logger))
            var response: Response
            do {
                response = try await responder.respond(to: request, context: context)
            } catch let error as HTTPParserError {
                throw error
            } catch {
                response = Response(status: .internalServerError)
            }
            response.headers[.server] = "journeyd"
            try await writer.write(response: response.head, body: response.body)
        }
    }

    /// Accepts connections until graceful shutdown; `listening` is called once the socket is registered.
    func run(listening: @Sendable (_ host: String, _ port: Int) -> Void) async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let quiescing = ServerQuiescingHelper(group: group)
        let server = try await ServerBootstrap(group: group)
            .serverChannelInitializer { [connections] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AcceptPause(connections))
                    try channel.pipeline.syncOperations.addHandler(AvailableConnectionsChannelHandler(delegate: connections.delegate))
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .bind(NIOBSDSocket.Handle(descriptor)) { [child, logger] channel in child.setup(channel: channel, logger: logger) }
        connections.watch(server.channel)
        let address = server.channel.localAddress
        listening(address?.ipAddress ?? "fd \(descriptor)", address?.port ?? 0)
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                do {
                    try await server.executeThenClose { inbound in
                        for try await connection in inbound {
                            group.addTask { [child, logger] in await child.handle(value: connection, logger: logger) }
                        }
                    }
                } catch {
                    logger.error("the activated HTTP listener stopped accepting: \(error)")
                }
            }
        } onGracefulShutdown: {
            quiescing.initiateShutdown(promise: nil)
        }
    }
}

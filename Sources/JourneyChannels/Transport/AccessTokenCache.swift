import Foundation
import JourneyCore

/// A bearer token a channel fetches from its provider (WeChat's `access_token` from app id + secret, an
/// OAuth2 token for a Google service account) or signs itself (an APNs provider token), shared by every
/// delivery of the channel: fetched when
/// first needed, kept until shortly before it expires, and fetched **once** however many deliveries ask
/// at the same time (they all wait for the one fetch in flight). A token the server refused (WeChat
/// 40001/42001, HTTP 401) is forgotten, so the next ask fetches a new one.
///
/// Fetching matters: WeChat allows 2,000 `/cgi-bin/token` calls a day, and each call invalidates the
/// previous token five minutes later; Google rate-limits its token endpoint.
actor AccessTokenCache {
    struct Token: Sendable {
        var value: Secret
        var expiresAt: Date
    }

    /// Tokens are renewed this long before WeChat says they expire (clock skew, requests in flight).
    static let margin: TimeInterval = 300

    private let fetch: @Sendable () async -> Result<Token, FetchFailure>
    private let clock: @Sendable () -> Date
    private var current: Token?
    private var inFlight: Task<Result<Token, FetchFailure>, Never>?

    /// Why no token could be had, classified like a delivery (a wrong secret disables the channel).
    struct FetchFailure: Error, Sendable {
        var result: DeliveryResult
    }

    init(clock: @escaping @Sendable () -> Date, fetch: @escaping @Sendable () async -> Result<Token, FetchFailure>) {
        self.clock = clock
        self.fetch = fetch
    }

    /// A token valid now: the cached one, the one being fetched, or a new fetch.
    func token() async -> Result<Secret, FetchFailure> {
        if let current, clock() < current.expiresAt { return .success(current.value) }
        let task: Task<Result<Token, FetchFailure>, Never>
        if let inFlight {
            task = inFlight
        } else {
            task = Task { [fetch] in await fetch() }
            inFlight = task
        }
        let result = await task.value
        // The first of the waiters to resume settles the cache; the others find it settled.
        if inFlight == task {
            inFlight = nil
            if case .success(let token) = result { current = token }
        }
        return result.map(\.value)
    }

    /// Forgets `token` after the server refused it, unless a newer one replaced it already.
    func invalidate(_ token: Secret) {
        if current?.value == token { current = nil }
    }
}

extension AccessTokenCache {
    /// One request carrying the shared token and — when `refused` says the server refused that token
    /// (expired, revoked) — one more with a fresh one; never a loop. The last exchange, with the token it
    /// carried (to redact), or why no token could be had.
    nonisolated func send(
        _ request: (Secret) async -> HTTPExchange, refused: (HTTPExchange) -> Bool
    ) async -> Result<(exchange: HTTPExchange, token: Secret), FetchFailure> {
        var refreshed = false
        while true {
            let current: Secret
            switch await token() {
            case .success(let t): current = t
            case .failure(let failure): return .failure(failure)
            }
            let exchange = await request(current)
            guard refused(exchange) else { return .success((exchange, current)) }
            await invalidate(current)
            if refreshed || Task.isCancelled { return .success((exchange, current)) }
            refreshed = true
        }
    }
}

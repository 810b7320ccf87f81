import Foundation
import JourneyCore

/// What both WeChat adapters share: the app's credentials, the cached access token, and one send that
/// refreshes the token once when WeChat says it expired.
///
/// Options (both adapters): `app_id` (required), `app_secret_file` / `app_secret_credential` (required),
/// `base_url` (default `https://api.weixin.qq.com`), `allow_private`, `timeout`.
struct WeChatClient: Sendable {
    var appID: String
    var appSecret: Secret
    var baseURL: String
    var http: HTTPChannelOptions
    let transport: HTTPTransport
    let tokens: AccessTokenCache

    /// Reads the shared options; nil when one is missing or wrong (the problems are in `options`).
    static func options(_ options: ChannelOptions) -> (appID: String, appSecret: Secret, baseURL: String, http: HTTPChannelOptions)? {
        let http = HTTPChannelOptions(options)
        let appID = options.string("app_id", required: true)
        if let appID, !(appID.hasPrefix("wx") && appID.count == 18 && appID.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }) {
            options.problem("app_id", "a WeChat app id is \"wx\" and 16 letters or digits, found \"\(appID)\"")
        }
        let secret = options.secret("app_secret", required: true)
        let base = HTTPChannelOptions.baseURL(options, default: "https://api.weixin.qq.com", http: http)
        guard let appID, let secret, let base else { return nil }
        return (appID, secret, base, http)
    }

    init(appID: String, appSecret: Secret, baseURL: String, http: HTTPChannelOptions, context: ChannelContext, clock: @escaping @Sendable () -> Date) {
        self.appID = appID
        self.appSecret = appSecret
        self.baseURL = baseURL
        self.http = http
        let transport = context.transport(allowPrivate: http.allowPrivate)
        self.transport = transport
        let url = "\(baseURL)/cgi-bin/token?grant_type=client_credential&appid=\(Signatures.urlEncoded(appID))&secret=\(Signatures.urlEncoded(appSecret.reveal))"
        let timeout = http.timeout
        let secrets = [appSecret]
        tokens = AccessTokenCache(clock: clock) {
            Self.readToken(await transport.get(url, timeout: timeout, redacting: secrets), now: clock()).mapError { failure in
                AccessTokenCache.FetchFailure(result: failure.result.redacting(secrets))
            }
        }
    }

    /// `{"access_token":"…","expires_in":7200}`, or the error that stopped it.
    static func readToken(_ exchange: HTTPExchange, now: Date) -> Result<AccessTokenCache.Token, AccessTokenCache.FetchFailure> {
        switch exchange {
        case .failed(let outcome):
            return .failure(.init(result: outcome.classification.prefixed("fetching the access token")))
        case .response(let response):
            if (200..<300).contains(response.status), let token = response.jsonMember("access_token") as? String, !token.isEmpty {
                let lifetime = (response.jsonMember("expires_in") as? NSNumber)?.doubleValue ?? 7200
                return .success(.init(value: Secret(token), expiresAt: now.addingTimeInterval(max(lifetime - AccessTokenCache.margin, lifetime / 2))))
            }
            return .failure(.init(result: classify(.response(response)).prefixed("fetching the access token")))
        }
    }

    /// The codes that mean "this token is no longer valid": 40001 (invalid credential), 40014 (invalid
    /// access_token), 42001 (access_token expired).
    static let tokenRefused: Set<Int> = [40001, 40014, 42001]

    /// POSTs `body` to `path?access_token=…`; on a refused token, fetches a new one and sends once more.
    func send(path: String, body: Value) async -> DeliveryResult {
        func refusal(_ exchange: HTTPExchange) -> RobotAnswer? {
            guard case .response(let response) = exchange, let answer = RobotAnswer(response, codeKeys: ["errcode"], messageKeys: ["errmsg"]),
                Self.tokenRefused.contains(answer.code)
            else { return nil }
            return answer
        }
        let sent = await tokens.send(
            { token in
                await transport.post(
                    "\(baseURL)\(path)?access_token=\(Signatures.urlEncoded(token.reveal))", headers: [("Content-Type", "application/json; charset=utf-8")],
                    body: Array(body.jsonText.utf8), timeout: http.timeout, redacting: [appSecret, token])
            },
            refused: { refusal($0) != nil })
        switch sent {
        case .failure(let failure): return failure.result
        case .success(let (exchange, token)):
            if let answer = refusal(exchange) {
                return .retry(after: nil, reason: "WeChat \(answer.detail) (a fresh access token was refused too)").redacting([appSecret, token])
            }
            return Self.classify(exchange).redacting([appSecret, token])
        }
    }
}

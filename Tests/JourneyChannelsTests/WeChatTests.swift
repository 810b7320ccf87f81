import Foundation
import JourneyCore
import Synchronization
import Testing

@testable import JourneyChannels

/// The WeChat adapters against a receiver that checks tokens the way WeChat does.
@Suite struct WeChatTests {
    static let appID = "wx0123456789abcdef"
    static let secret = "CANARYwechatSecret0x3311"
    static let peerArguments = ["--wechat", "\(appID):\(secret)"]

    static func options(_ peer: CloudPeer, _ extra: Value = [:]) -> Value {
        var options: Value = ["base_url": .string(peer.url + "/wechat"), "allow_private": true, "app_id": .string(appID), "template_id": "TPL-cart-1"]
        for member in extra.members ?? [] { options.set(member.key, to: member.value) }
        return options
    }

    static func message(_ openID: String?, id: String = "touch-1", trait: String = "wechat_openid", text: String = "thing1: 购物车\namount2: 99.00") -> OutboundMessage {
        var message = sampleMessage(id, text: text)
        if let openID { message.traits.set(trait, to: .string(openID)) }
        return message
    }

    static func expire(_ peer: CloudPeer) async {
        _ = await HTTPTransport.unguarded.post(peer.url + "/wechat/_expire", headers: [], body: [], timeout: .seconds(30))
    }

    @Test func templateMessageCarriesTheDataTheLinkAndTheTouchID() async throws {
        try await withTemporaryDirectory { dir in
            try await withCloudPeer(in: dir, Self.peerArguments) { peer in
                let wechat = try await channel(
                    "wechat_template", in: dir,
                    options: Self.options(peer, ["url": "https://shop.example/cart", "miniprogram_app_id": "wx89abcdef01234567", "miniprogram_page": "pages/cart/index"]),
                    secrets: ["app_secret": Self.secret])
                #expect(await wechat.adapter.deliver(Self.message("oAda-openid")) == .sent(providerMessageID: "200228333"))
                let record = try #require(try peer.records().first)
                #expect(record["path"] as? String == "/wechat/cgi-bin/message/template/send")
                #expect(
                    record["body"] as? String
                        == #"{"touser":"oAda-openid","template_id":"TPL-cart-1","url":"https://shop.example/cart","miniprogram":{"appid":"wx89abcdef01234567","pagepath":"pages/cart/index"},"client_msg_id":"touch-1","data":{"thing1":{"value":"购物车"},"amount2":{"value":"99.00"}}}"#)
                #expect(await wechat.adapter.deliver(Self.message(nil)) == .deadLetter(reason: #"the user has no WeChat openid in trait "wechat_openid""#))
            }
        }
    }

    @Test func oneTokenFetchServesAHundredConcurrentDeliveries() async throws {
        try await withTemporaryDirectory { dir in
            try await withCloudPeer(in: dir, Self.peerArguments) { peer in
                let wechat = try await channel("wechat_template", in: dir, options: Self.options(peer), secrets: ["app_secret": Self.secret])
                let adapter = wechat.adapter
                let results = await withTaskGroup(of: DeliveryResult.self) { group in
                    for i in 0..<100 { group.addTask { await adapter.deliver(Self.message("o-user-\(i)", id: "touch-\(i)")) } }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                #expect(results.filter { !$0.isSent }.isEmpty, "\(results.filter { !$0.isSent }.prefix(3))")
                #expect(try peer.stats()["token_fetches"] == 1)
                #expect(try peer.records().count == 100)
            }
        }
    }

    @Test func anExpiredTokenIsRefreshedOnceAndTheMessageResent() async throws {
        try await withTemporaryDirectory { dir in
            try await withCloudPeer(in: dir, Self.peerArguments) { peer in
                let wechat = try await channel("wechat_subscribe", in: dir, options: Self.options(peer, ["page": "pages/order/index"]), secrets: ["app_secret": Self.secret])
                #expect(await wechat.adapter.deliver(Self.message("oAda", trait: "miniprogram_openid")).isSent)
                await Self.expire(peer)
                #expect(await wechat.adapter.deliver(Self.message("oAda", id: "touch-2", trait: "miniprogram_openid")).isSent)
                #expect(try peer.stats()["token_fetches"] == 2, "one refresh after 42001")
                #expect(try peer.records().count == 2)
                let body = try #require(try peer.records().last?["body"] as? String)
                #expect(body == #"{"touser":"oAda","template_id":"TPL-cart-1","page":"pages/order/index","miniprogram_state":"formal","lang":"zh_CN","data":{"thing1":{"value":"购物车"},"amount2":{"value":"99.00"}}}"#)

                // A server that refuses every token: one refresh, then a retry result, never a loop.
                let refused = await wechat.adapter.deliver(Self.message("o-always-expired", trait: "miniprogram_openid"))
                #expect(refused == .retry(after: nil, reason: "WeChat errcode 40001: invalid credential (a fresh access token was refused too)"))
                #expect(try peer.stats()["token_fetches"] == 3)
            }
        }
    }

    @Test func errorCodesMapOntoTheOutcomeTableAndRefusalIsConsent() async throws {
        try await withTemporaryDirectory { dir in
            try await withCloudPeer(in: dir, Self.peerArguments) { peer in
                let sub = try await channel("wechat_subscribe", in: dir, options: Self.options(peer), secrets: ["app_secret": Self.secret])
                func send(_ openID: String) async -> DeliveryResult { await sub.adapter.deliver(Self.message(openID, trait: "miniprogram_openid")) }
                #expect(await send("o-refused") == .deadLetter(reason: "consent refused: WeChat errcode 43101: user refuse to accept the msg"))
                #expect(await send("o-transient") == .retry(after: nil, reason: "WeChat errcode -1: system error"))
                #expect(await send("o-permanent") == .deadLetter(reason: "WeChat errcode 40003: invalid openid o-permanent"))
                #expect(await send("o-quota") == .throttle(for: .hours(1), reason: "WeChat errcode 45009: reach max api daily quota limit"))
                #expect(await sub.adapter.deliver(Self.message("oAda", trait: "miniprogram_openid", text: "no fields here")) == .deadLetter(reason: "template data: line 1 of the rendered template is not `name: value`"))

                let wrongSecret = try await channel("wechat_template", in: dir, options: Self.options(peer), secrets: ["app_secret": "wrong-secret-9"])
                let refusedSecret = await wrongSecret.adapter.deliver(Self.message("oAda"))
                #expect(
                    refusedSecret
                        == .disable(reason: "fetching the access token: WeChat errcode 40125: invalid appsecret, view more at http://t.cn/RAEkdVq rid: <redacted>"))
                let template = try await channel("wechat_template", in: dir, options: Self.options(peer), secrets: ["app_secret": Self.secret])
                #expect(kind(await template.adapter.deliver(Self.message("o-refused"))) == "dead letter")
            }
        }
        #expect(kind(WeChatClient.classify(OutcomeTableTests.response(200, #"{"errcode":40037,"errmsg":"invalid template_id"}"#))) == "disable")
        #expect(kind(WeChatClient.classify(OutcomeTableTests.response(200, #"{"errcode":40164,"errmsg":"invalid ip, not in whitelist"}"#))) == "disable")
        #expect(kind(WeChatClient.classify(OutcomeTableTests.response(200, #"{"errcode":45011,"errmsg":"api minute-quota reach limit"}"#))) == "throttle")
    }

    @Test func theCachedTokenIsFetchedAgainOnlyNearItsExpiry() async throws {
        let now = Mutex(Date(timeIntervalSince1970: 1_700_000_000))
        let fetches = Mutex(0)
        let tokens = AccessTokenCache(clock: { now.withLock { $0 } }) {
            let n = fetches.withLock { $0 += 1; return $0 }
            return .success(.init(value: Secret("token-\(n)"), expiresAt: now.withLock { $0 }.addingTimeInterval(7200 - AccessTokenCache.margin)))
        }
        #expect(try await tokens.token().get().reveal == "token-1")
        now.withLock { $0 = $0.addingTimeInterval(6899) }
        #expect(try await tokens.token().get().reveal == "token-1")
        now.withLock { $0 = $0.addingTimeInterval(2) }
        #expect(try await tokens.token().get().reveal == "token-2")
        await tokens.invalidate(Secret("token-1"))
        #expect(try await tokens.token().get().reveal == "token-2", "an old token's refusal does not drop the new one")
        await tokens.invalidate(Secret("token-2"))
        #expect(try await tokens.token().get().reveal == "token-3")
    }

    @Test(arguments: ["wechat_template", "wechat_subscribe"])
    func conformance(_ type: String) async throws {
        try await withTemporaryDirectory { dir in
            try await withCloudPeer(in: dir, Self.peerArguments) { peer in
                let logs = LogCapture()
                let built = try await channel(type, in: dir, options: Self.options(peer), secrets: ["app_secret": Self.secret], logger: logs)
                let trait = type == "wechat_template" ? "wechat_openid" : "miniprogram_openid"
                let openIDs: [PeerBehavior: String] = [.accept: "oAda", .transient: "o-transient", .permanent: "o-permanent", .hang: "o-hang"]
                let harness = ConformanceHarness(
                    adapter: built.adapter, logs: logs, supports: Set(PeerBehavior.allCases),
                    message: { Self.message(openIDs[$0]!, trait: trait) },
                    waitUntilHanging: { try await Task.sleep(for: .milliseconds(300)) },
                    accepted: { try peer.records().count })
                try await ChannelConformance.check(harness, secrets: [Self.secret, "TOKEN-1-xxxxxxxx"])
            }
        }
    }

    @Test func optionsAreCheckedWithKeyPathsAndSuggestions() {
        let found = problems(
            type: "wechat_template",
            options: ["app_id": "0123", "app_secret_file": "/nonexistent/secret", "template_id": "T", "miniprogram_page": "p", "openid_triat": "x"])
        #expect(found.contains { $0.contains("channels[2].app_id") && $0.contains("\"wx\" and 16 letters") })
        #expect(found.contains { $0.contains("channels[2].app_secret_file") && $0.contains("does not exist") })
        #expect(found.contains { $0.contains("channels[2].miniprogram_page") && $0.contains("give both") })
        #expect(found.contains { $0.contains("channels[2].openid_triat") && $0.contains("did you mean \"openid_trait\"") })
        let sub = problems(type: "wechat_subscribe", options: ["app_id": "wx0123456789abcdef", "app_secret_credential": "s", "template_id": "T", "state": "prod"])
        #expect(sub.contains { $0.contains("channels[2].state") && $0.contains("formal, trial, developer") })
    }
}

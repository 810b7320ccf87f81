public import JourneyCore

/// A deterministic generator of Segment-spec event streams for demos, tests and benchmarks: the same
/// configuration always yields the same events, byte for byte.
///
/// Users first appear with an `identify` (signup: email, country, time zone, tier, signup date,
/// birthday, sometimes `referred_by`, followed by the backend's `referral_signed_up` for the inviter);
/// after that each event picks a known or new user and a kind from the mix. Timestamps rise evenly over the span with jitter, so the stream is in time order.
public struct EventGenerator: Sequence, IteratorProtocol {
    public struct Configuration: Sendable {
        public var users: Int
        public var events: Int
        public var start: Timestamp
        public var span: TimeSpan
        public var seed: UInt64
        /// Relative weights of event kinds. Known kinds: `page`, `product_viewed`, `cart_add`, `purchase`,
        /// `app_open`, `invite_sent`, `tier_change` (an identify), `unsubscribe` (an identify).
        public var mix: [(kind: String, weight: Int)]

        public static let defaultMix: [(kind: String, weight: Int)] = [
            ("page", 18), ("product_viewed", 28), ("cart_add", 20), ("purchase", 14), ("app_open", 12),
            ("invite_sent", 4), ("tier_change", 3), ("unsubscribe", 1),
        ]

        public init(
            users: Int = 10_000, events: Int = 100_000, start: Timestamp = Timestamp(iso8601: "2025-01-01T00:00:00Z")!,
            span: TimeSpan = .days(90), seed: UInt64 = 1, mix: [(kind: String, weight: Int)] = defaultMix
        ) {
            self.users = users
            self.events = events
            self.start = start
            self.span = span
            self.seed = seed
            self.mix = mix
        }
    }

    public let configuration: Configuration
    private var random: SplitMix
    private var produced = 0
    private var known = 0  // users 0..<known have signed up
    private var tiers: [UInt8]
    /// The backend's `referral_signed_up` for the inviter, sent right after a referred user signs up.
    private var pendingReferral: (inviter: String, friend: String)?
    private let totalWeight: Int
    private static let countries = ["CN", "SG", "US", "DE", "NO", "JP", "GB", "FR"]
    private static let zones = [
        "Asia/Shanghai", "Asia/Singapore", "America/New_York", "Europe/Berlin", "Europe/Oslo", "Asia/Tokyo",
        "Europe/London", "Europe/Paris",
    ]
    private static let tierNames = ["member", "silver", "gold", "platinum"]
    private static let categories = ["shoes", "hats", "shirts", "bags", "socks"]

    public init(_ configuration: Configuration) {
        precondition(configuration.users > 0 && configuration.events >= 0, "need at least one user")
        self.configuration = configuration
        self.random = SplitMix(seed: configuration.seed)
        self.tiers = Array(repeating: 0, count: configuration.users)
        self.totalWeight = configuration.mix.reduce(0) { $0 + Swift.max(0, $1.weight) }
        precondition(totalWeight > 0, "the mix needs a positive weight")
    }

    public mutating func next() -> Event? {
        guard produced < configuration.events else { return nil }
        let i = produced
        produced += 1
        let step = configuration.span.milliseconds / Int64(Swift.max(configuration.events, 1))
        let jitter = step > 1 ? Int64(random.next() % UInt64(step)) : 0
        let at = Timestamp(milliseconds: configuration.start.milliseconds + Int64(i) * step + jitter)
        let messageId = "m-\(configuration.seed)-\(i)"
        if let referral = pendingReferral {
            pendingReferral = nil
            return .track(
                "referral_signed_up", user: referral.inviter, at: at, properties: ["friend": .string(referral.friend)],
                messageId: messageId)
        }

        // A new user signs up while there are users left and either none exist or a 1-in-8 chance.
        if known < configuration.users && (known == 0 || random.next() % 8 == 0 || configuration.users - known >= configuration.events - i) {
            let u = known
            known += 1
            return signup(u, at: at, messageId: messageId)
        }
        let u = Int(random.next() % UInt64(known))
        let user = Self.userID(u)
        switch pickKind() {
        case "page":
            let pages = ["/", "/pricing", "/blog", "/help"]
            return Event(
                kind: .page, userId: user, messageId: messageId, timestamp: at, name: pages[Int(random.next() % 4)],
                properties: ["path": .string(pages[Int(random.next() % 4)])])
        case "product_viewed":
            return .track("product_viewed", user: user, at: at, properties: product(), messageId: messageId)
        case "cart_add":
            var p = product()
            p.set("cart_id", to: .string("c\(u)-\(random.next() % 3)"))
            return .track("cart_add", user: user, at: at, properties: p, messageId: messageId)
        case "purchase":
            let price = Double(random.next() % 20_000) / 100
            return .track(
                "purchase", user: user, at: at,
                properties: ["order_id": .string("o\(i)"), "price": .number(price), "currency": "USD"],
                messageId: messageId)
        case "invite_sent":
            return .track(
                "invite_sent", user: user, at: at, properties: ["invitee": .string("friend\(i)@example.com")],
                messageId: messageId)
        case "tier_change":
            tiers[u] = UInt8(Swift.min(Int(tiers[u]) + 1, Self.tierNames.count - 1))
            return .identify(user: user, at: at, traits: ["tier": .string(Self.tierNames[Int(tiers[u])])], messageId: messageId)
        case "unsubscribe":
            return .identify(user: user, at: at, traits: ["unsubscribed": ["email"]], messageId: messageId)
        default:
            return .track("app_open", user: user, at: at, properties: .emptyObject, messageId: messageId)
        }
    }

    public static func userID(_ n: Int) -> String { "u\(n)" }

    private mutating func signup(_ u: Int, at: Timestamp, messageId: String) -> Event {
        let c = Int(random.next() % UInt64(Self.countries.count))
        let birthday = CivilDate(year: 1960 + Int(random.next() % 45), month: 1 + Int(random.next() % 12), day: 1 + Int(random.next() % 28))
        var traits: Value = [
            "email": .string("\(Self.userID(u))@example.com"),
            "first_name": .string("User\(u)"),
            "country": .string(Self.countries[c]),
            "timezone": .string(Self.zones[c]),
            "tier": "member",
            "signup_at": .string(at.iso8601),
            "birthday": .string(Self.dateText(birthday)),
        ]
        if u > 0 && random.next() % 5 == 0 {
            let inviter = Self.userID(Int(random.next() % UInt64(u)))
            traits.set("referred_by", to: .string(inviter))
            pendingReferral = (inviter, Self.userID(u))
        }
        return .identify(user: Self.userID(u), at: at, traits: traits, messageId: messageId)
    }

    private mutating func product() -> Value {
        let price = Double(5 + random.next() % 200)
        return [
            "sku": .string("SKU-\(random.next() % 10_000)"), "price": .number(price),
            "category": .string(Self.categories[Int(random.next() % 5)]), "qty": .number(Double(1 + random.next() % 3)),
        ]
    }

    private mutating func pickKind() -> String {
        var roll = Int(random.next() % UInt64(totalWeight))
        for (kind, weight) in configuration.mix where weight > 0 {
            if roll < weight { return kind }
            roll -= weight
        }
        return configuration.mix[0].kind
    }

    static func dateText(_ d: CivilDate) -> String {
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(d.year)-\(two(d.month))-\(two(d.day))"
    }
}


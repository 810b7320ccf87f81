/// The difference of two proportions (treatment minus holdout conversion) with its 95 % confidence
/// interval by **Newcombe's hybrid score method** (method 10 of R. G. Newcombe, "Interval estimation for
/// the difference between independent proportions: comparison of eleven methods", Statistics in
/// Medicine 17 (1998) 873–890): the Wilson score intervals of each proportion, combined. Unlike Wald's it
/// stays inside [-1, 1] and behaves for small counts and rates near 0 or 1.
public struct UpliftInterval: Sendable, Equatable {
    public var treatment: Proportion
    public var holdout: Proportion
    /// treatment.rate − holdout.rate
    public var uplift: Double
    public var lower: Double
    public var upper: Double

    /// Below this many users in either group the report says "too few users to tell".
    public static let minimumGroup = 30
    public static let method = "Newcombe hybrid score (Wilson), 95 %"
    /// The standard normal quantile for a two-sided 95 % interval.
    public static let z = 1.959963984540054

    public struct Proportion: Sendable, Equatable {
        public var successes: Int
        public var total: Int
        public init(_ successes: Int, of total: Int) {
            self.successes = successes
            self.total = total
        }
        public var rate: Double { total == 0 ? 0 : Double(successes) / Double(total) }

        /// The Wilson score interval (Wilson 1927) at z.
        public func wilson(z: Double = UpliftInterval.z) -> (lower: Double, upper: Double) {
            guard total > 0 else { return (0, 1) }
            let n = Double(total), p = rate, z2 = z * z
            let centre = 2 * n * p + z2
            let spread = z * (z2 + 4 * n * p * (1 - p)).squareRoot()
            let denominator = 2 * (n + z2)
            return (max(0, (centre - spread) / denominator), min(1, (centre + spread) / denominator))
        }
    }

    public init(treatment: Proportion, holdout: Proportion) {
        self.treatment = treatment
        self.holdout = holdout
        let (p1, p2) = (treatment.rate, holdout.rate)
        let (l1, u1) = treatment.wilson()
        let (l2, u2) = holdout.wilson()
        uplift = p1 - p2
        lower = uplift - ((p1 - l1) * (p1 - l1) + (u2 - p2) * (u2 - p2)).squareRoot()
        upper = uplift + ((u1 - p1) * (u1 - p1) + (p2 - l2) * (p2 - l2)).squareRoot()
    }

    /// Whether both groups reach ``minimumGroup`` users.
    public var isSizedToTell: Bool { treatment.total >= Self.minimumGroup && holdout.total >= Self.minimumGroup }

    /// In words: too few users, no clear difference (the interval holds 0), or better / worse.
    public var verdict: String {
        if !isSizedToTell { return "too few users to tell (fewer than \(Self.minimumGroup) in a group)" }
        if lower > 0 { return "the journey converts better than its holdout" }
        if upper < 0 { return "the journey converts worse than its holdout" }
        return "no clear difference: the interval includes 0"
    }
}

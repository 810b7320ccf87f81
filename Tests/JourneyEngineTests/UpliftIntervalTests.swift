import JourneyEngine
import Testing

/// The uplift interval against published two-proportion examples.
@Suite("Uplift interval")
struct UpliftIntervalTests {
    /// R. G. Newcombe, "Interval estimation for the difference between independent proportions: comparison of
    /// eleven methods", Statistics in Medicine 17 (1998) 873–890, Table II, method 10 (score, no continuity
    /// correction): 56/70 − 48/80 → 0.0524 to 0.3339; 9/10 − 3/10 → 0.1705 to 0.8090.
    @Test(arguments: [
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
    ])
    func newcombesHybridScoreIntervalMatchesThePublishedExamples(
        _ x1: Int, _ n1: Int, _ x2: Int, _ n2: Int, _ lower: Double, _ upper: Double
    ) {
        let u = UpliftInterval(treatment: .init(x1, of: n1), holdout: .init(x2, of: n2))
        #expect(abs(u.uplift - (Double(x1) / Double(n1) - Double(x2) / Double(n2))) < 1e-12)
        #expect(abs(u.lower - lower) < 0.00005, "lower \(u.lower)")
        #expect(abs(u.upper - upper) < 0.00005, "upper \(u.upper)")
    }

    /// Wilson's score interval for 81/263, as in Newcombe, "Two-sided confidence intervals for the single
    /// proportion: comparison of seven methods", Statistics in Medicine 17 (1998) 857–872, Table I: 0.2553 to 0.3662.
    @Test func wilsonsIntervalMatchesThePublishedExample() {
        let (lower, upper) = UpliftInterval.Proportion(81, of: 263).wilson()
        #expect(abs(lower - 0.2553) < 0.00005 && abs(upper - 0.3662) < 0.00005, "\(lower) \(upper)")
    }

    @Test func smallGroupsAreTooFewToTell() {
        let u = UpliftInterval(treatment: .init(20, of: 29), holdout: .init(1, of: 40))
        #expect(!u.isSizedToTell)
        #expect(u.verdict.hasPrefix("too few users to tell"))
        #expect(UpliftInterval(treatment: .init(56, of: 70), holdout: .init(48, of: 80)).verdict == "the journey converts better than its holdout")
    }
}

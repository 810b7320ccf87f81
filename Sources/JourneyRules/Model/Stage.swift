/// One lifecycle stage of `journeyd.yaml`'s `stages:` (visitor, customer, repeat, member, advocate…).
///
/// Stages are ordered: a user is in the **last** stage whose condition holds on their profile (a stage
/// without `when` always holds, so the first stage is usually the default). The engine computes the
/// stage after every change to the profile and records each transition as an outcome; journeys may
/// trigger on one (`trigger: {stage: {becomes: repeat, from: customer}}`).
public struct Stage: Sendable {
    public var name: String
    /// The condition on the profile (roots: `user`); nil holds always.
    public var condition: Expression?
    public init(name: String, condition: Expression? = nil) {
        self.name = name
        self.condition = condition
    }
}

import JourneyCore
import Testing

/// The control protocol's user requests (`explain USER`, `forget USER`) parse in ControlRequest's one
/// strict place: the user id is the rest of the line, blanks inside kept, blanks around dropped.
@Suite("Control requests")
struct ControlRequestTests {
    static func parse(_ line: String) -> Result<ControlRequest, ControlRequestError> { ControlRequest.parse(Array(line.utf8)) }

    @Test func explainAndForgetTakeTheRestOfTheLineAsTheUser() throws {
        #expect(try Self.parse("explain user-1").get() == .explain(user: "user-1"))
        #expect(try Self.parse("  forget \t ada lovelace \r").get() == .forget(user: "ada lovelace"))
        #expect(try Self.parse("explain 用户42").get() == .explain(user: "用户42"))
        // A blank followed by a combining mark is one character: split on scalars, the user id comes back
        // the same from its canonical form (found by the fuzz target).
        let user = try #require(try? Self.parse(" \t forget\t\u{0617}dlktf").get())
        #expect(user == .forget(user: "\u{0617}dlktf"))
        #expect(try Self.parse("forget \u{0617}dlktf").get() == user)
    }

    @Test func aMissingUserIsRefusedWithWhatToSend() {
        guard case .failure(let error) = Self.parse("forget   ") else { Issue.record("forget without a user accepted"); return }
        #expect(error.description == "forget needs a user id: forget USER")
        guard case .failure(let unknown) = Self.parse("erase bob") else { Issue.record("unknown verb accepted"); return }
        #expect(unknown.description.contains("explain USER or forget USER"))
    }
}

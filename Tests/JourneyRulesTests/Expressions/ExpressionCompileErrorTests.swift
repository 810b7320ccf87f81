import JourneyCore
import JourneyRules
import Testing

/// One expression that must not compile: where the error points (0-based UTF-8 column) and words the
/// message must contain.
struct Rejection: CustomTestStringConvertible, Sendable {
    var text: String
    var column: Int
    var message: String
    init(_ text: String, _ column: Int, _ message: String) {
        self.text = text
        self.column = column
        self.message = message
    }
    var testDescription: String { text }
}

private func check(_ rejection: Rejection, roots: Set<PathRoot> = allRoots) {
    let error = compileError(rejection.text, roots: roots)
    #expect(error != nil, "`\(rejection.text)` compiled")
    guard let error else { return }
    #expect(error.column == rejection.column, "`\(rejection.text)`: \(error.message)")
    #expect(error.message.contains(rejection.message), "`\(rejection.text)`: \(error.message)")
}

@Suite("Expression compile errors")
struct ExpressionCompileErrorTests {
    @Test(arguments: [
        Rejection("user.tier = \"gold\"", 10, "use `==` to compare"),
        Rejection("user.name == \"ada", 13, "unterminated string"),
        Rejection("user.name == 'a\nb'", 13, "unterminated string"),
        Rejection("count('a', within: 30x) > 1", 19, "`30x` is not a number or a duration"),
        Rejection("1.5d", 0, "durations are whole numbers"),
        Rejection(#""a\q""#, 2, "unknown escape `\\q`"),
        Rejection(#""\uD800""#, 1, "unpaired surrogate"),
        Rejection(#""\u12""#, 1, "four hex digits"),
        Rejection("user.a # 1", 7, "unexpected character `#`"),
        Rejection("user.a & user.b", 7, "use `and`"),
        Rejection("user.a | user.b", 7, "use `or`"),
        Rejection("user.a ≥ 1", 7, "unexpected character `≥`"),
    ])
    func lexicalErrors(_ rejection: Rejection) { check(rejection) }

    @Test(arguments: [
        Rejection("", 0, "empty expression"),
        Rejection("   ", 0, "empty expression"),
        Rejection("(user.a == 1", 12, "expected `)` to close the `(` at column 0"),
        Rejection("user.a == 1)", 11, "unmatched `)`"),
        Rejection("user.a user.b", 7, "unexpected `user`"),
        Rejection("1 < user.a < 3", 11, "comparisons cannot be chained"),
        Rejection("user.x == 1 == 2", 12, "comparisons cannot be chained"),
        Rejection("user.", 5, "expected a name after `.`"),
        Rejection("user.tags[user.a]", 10, "a path index must be a string or a whole number"),
        Rejection("user.tags[1.5]", 10, "a path index must be"),
        Rejection("user.tags[0", 11, "expected `]`"),
        Rejection("user == null", 0, "`user` needs a path, such as `user.tier`"),
        Rejection("user[0]", 4, "`user` is not a list"),
        Rejection("[1, 2", 5, "expected `,` or `]`"),
        Rejection("count('a' 'b')", 10, "expected `,` or `)` in the arguments of `count`"),
        Rejection("user.a not user.b", 7, "did you mean `not in`?"),
        Rejection("user.a ==", 9, "unexpected end of expression"),
        Rejection("user.a == )", 10, "expected a value, found `)`"),
        Rejection("* 2", 0, "expected a value, found `*`"),
    ])
    func syntaxErrors(_ rejection: Rejection) { check(rejection) }

    @Test(arguments: [
        Rejection("usr.tier == 'gold'", 0, "unknown name `usr`; did you mean `user`?"),
        Rejection("user.tier == 'gold' and evnt.name == 'x'", 24, "did you mean `event`?"),
        Rejection("enrolment.key == 'x'", 0, "did you mean `enrollment`?"),
        Rejection("user.vip == True", 12, "did you mean `true`?"),
        Rejection("user.a == nil", 10, "did you mean `null`?"),
        Rejection("user.tier == gold", 13, "unknown name `gold`; paths start with `event.`"),
        Rejection("properties.price > 1", 0, "did you mean `event.properties`?"),
        Rejection("hour >= 9", 0, "`hour` is a function; call it as `hour(…)`"),
        Rejection("cout('purchase') > 1", 0, "unknown function `cout`; did you mean `count`?"),
        Rejection("dayssince(user.a) > 1", 0, "did you mean `days_since`?"),
        Rejection("frobnicate(1)", 0, "unknown function `frobnicate`"),
        Rejection("user(1)", 0, "`user` is not a function"),
    ])
    func unknownNames(_ rejection: Rejection) { check(rejection) }

    @Test(arguments: [
        Rejection("days_since(user.a, user.b) > 1", 19, "`days_since` takes 1 argument, got 2"),
        Rejection("hour(1) > 1", 5, "`hour` takes no arguments, got 1"),
        Rejection("sum('purchase') > 1", 0, "`sum` takes 2 arguments, got 1"),
        Rejection("count() > 1", 0, "usage: count(\"event\") or count(\"event\", within: 30d)"),
        Rejection("coalesce(user.a)", 0, "`coalesce` takes at least 2 arguments, got 1"),
        Rejection("days_since(user.a, within: 3d) > 1", 19, "`days_since` takes no named arguments"),
        Rejection("count('a', withn: 3d) > 1", 11, "`count` has no argument `withn:`; did you mean `within:`?"),
        Rejection("count('a', over: 3d) > 1", 11, "`count` has no argument `over:`"),
        Rejection("count('a', within: 1d, within: 2d)", 23, "`within:` is given twice"),
        Rejection("count('a', within: 1d, 'b')", 23, "positional arguments come before `within:`"),
        Rejection("count('a', within: 30) > 1", 19, "`within:` must be a duration"),
        Rejection("count('a', within: '30d') > 1", 19, "`within:` must be a duration"),
        Rejection("count('a', within: 0d) > 1", 19, "`within:` must be longer than 0"),
        Rejection("count(user.fav) > 0", 6, "the event name must be a quoted string"),
        Rejection("last('') == null", 5, "the event name must be a quoted string"),
        Rejection("sum('p', user.k) > 0", 9, "the property name must be a quoted string"),
        Rejection("30d > 1", 0, "a duration such as `30d` can only be the `within:`"),
        Rejection("hours_since(user.a) > 1h", 22, "a duration such as `1h` can only be"),
    ])
    func argumentErrors(_ rejection: Rejection) { check(rejection) }

    @Test(arguments: [
        Rejection("\"a\" > 3", 4, "`>` between a string and a number is always false"),
        Rejection("true + 1", 0, "`+` needs numbers, but this is a boolean"),
        Rejection("user.a + 'x'", 9, "(strings cannot be joined)"),
        Rejection("-'a'", 1, "`-` needs numbers, but this is a string"),
        Rejection("[1] * 2", 0, "`*` needs numbers, but this is a list"),
        Rejection("null + 1", 0, "arithmetic with `null` is always null"),
        Rejection("user.a in 5", 10, "`in` needs a list, a string or an object on the right, not a number"),
        Rejection("user.a not in null", 14, "not null"),
        Rejection("5 in 'abc'", 0, "only a string can be in a string"),
        Rejection("1 == \"1\"", 2, "`==` between a number and a string is always false"),
        Rejection("count('a') != 'x'", 11, "is always true"),
        Rejection("count('a') == null", 11, "`==` between a number and null is always false"),
        Rejection("user.a > null", 7, "`>` with null is always false; use `== null`"),
        Rejection("true < false", 0, "`<` compares numbers or strings, not a boolean"),
        Rejection("user.a >= [1]", 10, "`>=` compares numbers or strings, not a list"),
        Rejection("count('a') in ['x', 'y']", 11, "a number is never in a list of a string"),
        Rejection("hour() == '9'", 7, "`==` between a number and a string is always false"),
        Rejection("len(user.a) > 'a'", 12, "between a number or null and a string"),
        Rejection("weekday() == 'Sat'", 13, "never \"Sat\"; did you mean \"sat\"?"),
        Rejection("weekday() in ['sat', 'saturday']", 21, "did you mean \"sat\"?"),
        Rejection("weekday() < 'wed'", 10, "weekdays do not order as text"),
        Rejection("local_time() > '25:00'", 15, "\"25:00\" is not a time of day"),
        Rejection("local_date() == '2025-13-01'", 16, "is not a date"),
        Rejection("now() > 'yesterday'", 8, "\"yesterday\" is not a timestamp"),
        Rejection("last('a') < 1e20", 12, "is not a timestamp"),
        Rejection("now() > true", 8, "`>` compares a time with a boolean"),
        Rejection("days_since('soon') > 1", 11, "\"soon\" is not a timestamp"),
        Rejection("days_since(true) > 1", 11, "`days_since` needs a number or a string, not a boolean"),
        Rejection("lower(3) == 'a'", 6, "`lower` needs a string, not a number"),
        Rejection("len(true) > 1", 4, "`len` needs a string or a list or an object, not a boolean"),
        Rejection("starts_with(user.a, 1)", 20, "`starts_with` needs a string, not a number"),
        Rejection("contains(5, 'a')", 9, "`contains` needs a list, a string or an object first, not a number"),
        Rejection("contains('abc', 1)", 16, "only a string can be in a string"),
    ])
    func typeErrors(_ rejection: Rejection) { check(rejection) }

    @Test func pathsUnderUnavailableRootsAreRefusedWithTheReason() throws {
        let timer: Set<PathRoot> = [.user, .enrollment, .journey]
        let error = compileError("user.tier == 'gold' and event.properties.price > 1", roots: timer)
        #expect(error?.column == 24)
        #expect(
            error?.message == "`event` is not available here: this condition is evaluated when a timer fires, not on an event")
        #expect(compileError("enrollment.key == 'x'", roots: [.event, .user])?.message.hasPrefix(
            "`enrollment` is not available here: ") == true)
        let custom = ExpressionCompiler.compile(
            "journey.id == 'x'", allowedRoots: [.user], unavailableReasons: [.journey: "segments belong to no journey"])
        #expect(throws: ExpressionError(column: 0, message: "`journey` is not available here: segments belong to no journey")) {
            try custom.get()
        }
        // Allowed roots compile.
        #expect(compileError("user.tier == 'gold' and enrollment.variant == 'a'", roots: timer) == nil)
        // The check is about paths: functions need no root.
        #expect(compileError("count('purchase') > 0 and hour() > 9", roots: []) == nil)
    }

    @Test func deeplyNestedExpressionsAreRefusedNotCrashing() {
        let parens = String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000)
        #expect(compileError(parens)?.message.contains("nested too deeply") == true)
        let chain = Array(repeating: "user.a", count: 5000).joined(separator: " + ")
        #expect(compileError(chain)?.message.contains("nested too deeply") == true)
        let nots = String(repeating: "not ", count: 5000) + "true"
        #expect(compileError(nots)?.message.contains("nested too deeply") == true)
        let lists = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
        #expect(compileError(lists)?.message.contains("nested too deeply") == true)
        // Long but flat conditions are fine.
        let clauses = (0..<150).map { "user.a\($0) == \($0)" }.joined(separator: " and ")
        #expect(compileError(clauses) == nil)
        #expect(compileError("user.a in [" + (0..<5000).map(String.init).joined(separator: ", ") + "]") == nil)
    }

    @Test func legalEdgeCasesCompile() {
        for text in [
            "user.a == null", "null == null", "user.a in []", "'a' in 'abc'", "user.a in user.b", "not not user.a",
            "(1 < 2) == (2 < 3)", "user.x == 1 and user.y < 2 or user.z", "count('x', within: 1w2d3h4m5s6ms) > 0",
            "[user.a, event.b] == [1, 2]",
            "exists(event.context.ip)", "days_since(1700000000) > 1", "date(user.a) == null", "user.a == 'x' || !user.b",
            "event.properties['$price'] > 1", "local_date() >= '2025-01-01'", "coalesce(user.a, user.b, 'c')",
        ] {
            #expect(compileError(text) == nil, "`\(text)`: \(compileError(text)?.message ?? "")")
        }
    }
}

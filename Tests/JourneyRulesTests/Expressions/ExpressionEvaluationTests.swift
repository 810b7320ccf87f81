import JourneyCore
import JourneyRules
import Testing

/// A user and a cart event, evaluated at 2025-06-15T12:00:00Z (UTC).
private let shopper: TestScope = {
    var scope = TestScope()
    scope.user = [
        "id": "u1", "country": "CN", "tier": "gold", "tags": ["vip", "beta"], "unsubscribed": false,
        "email": "ada@example.com", "age": 30, "first name": "Ada", "prefs": ["lang": "zh"], "empty": "",
        "signup_at": "2025-06-01T08:00:00Z", "nickname": nil,
    ]
    scope.event = [
        "name": "cart_add",
        "properties": [
            "price": 59.5, "qty": 2, "cart_id": "c-1", "items": [["sku": "A"], ["sku": "B"]],
        ],
    ]
    scope.enrollment = ["key": "c-1", "variant": "a"]
    scope.journey = ["id": "cart_abandonment", "version": "0123456789abcdef"]
    return scope
}()

@Suite("Expression evaluation")
struct ExpressionEvaluationTests {
    // MARK: Paths

    @Test func pathsReadNestedValuesKeysWithSpacesAndListPositions() throws {
        #expect(try value("event.properties.price", in: shopper) == 59.5)
        #expect(try value("user[\"first name\"]", in: shopper) == "Ada")
        #expect(try value("user.prefs.lang", in: shopper) == "zh")
        #expect(try value("user.tags[0]", in: shopper) == "vip")
        #expect(try value("user.tags[-1]", in: shopper) == "beta")
        #expect(try value("event.properties.items[1].sku", in: shopper) == "B")
        #expect(try value("event.properties.items[1][\"sku\"]", in: shopper) == "B")
        #expect(try value("enrollment.key", in: shopper) == "c-1")
        #expect(try value("journey.id", in: shopper) == "cart_abandonment")
    }

    @Test func missingPathsAndStepsIntoTheWrongKindAreNull() throws {
        #expect(try value("user.missing", in: shopper) == .null)
        #expect(try value("user.missing.deeper", in: shopper) == .null)
        #expect(try value("user.tags[2]", in: shopper) == .null)
        #expect(try value("user.tags[-3]", in: shopper) == .null)
        #expect(try value("user.country[0]", in: shopper) == .null)
        #expect(try value("user.tags[0].x", in: shopper) == .null)
        #expect(try value("event.properties.items[0].missing[1]", in: shopper) == .null)
    }

    @Test func keywordsCanBeKeysAfterADot() throws {
        var scope = TestScope()
        scope.event = ["properties": ["in": 1, "not": 2, "null": 3]]
        #expect(try value("event.properties.in + event.properties.not + event.properties.null", in: scope) == 6)
    }

    // MARK: Literals

    @Test func literalsOfEveryKind() throws {
        #expect(try value("42") == 42)
        #expect(try value("1.25") == 1.25)
        #expect(try value("2e3") == 2000)
        #expect(try value("1.5E-1") == 0.15)
        #expect(try value("\"double\"") == "double")
        #expect(try value("'single'") == "single")
        #expect(try value(#"'it\'s'"#) == "it's")
        #expect(try value(#""say \"hi\"\n\t\\ \/""#) == "say \"hi\"\n\t\\ /")
        #expect(try value(#""caf\u00e9 \uD83D\uDE00""#) == "café 😀")
        #expect(try value("'中文 ok'") == "中文 ok")
        #expect(try value("true") == true)
        #expect(try value("false") == false)
        #expect(try value("null") == .null)
        #expect(try value("[1, 'a', [true], null]") == [1, "a", [true], nil])
        #expect(try value("[]") == [])
        #expect(try value("[1, 2,]") == [1, 2])
        #expect(try value("[user.country, 1]", in: shopper) == ["CN", 1])
    }

    // MARK: Comparisons

    @Test func numbersCompareNumerically() throws {
        #expect(try holds("event.properties.price >= 50", in: shopper))
        #expect(try holds("event.properties.price > 59.5", in: shopper) == false)
        #expect(try holds("event.properties.price <= 59.5", in: shopper))
        #expect(try holds("event.properties.price < 60", in: shopper))
        #expect(try holds("event.properties.qty == 2", in: shopper))
        #expect(try holds("event.properties.qty != 2.0", in: shopper) == false)
        #expect(try holds("10 > 9"))
        // A constant on the left is the same comparison.
        #expect(try holds("50 <= event.properties.price", in: shopper))
        #expect(try holds("60 > event.properties.price", in: shopper))
        #expect(try holds("59.5 >= event.properties.price", in: shopper))
        #expect(try holds("2 != event.properties.qty", in: shopper) == false)
        #expect(try holds("0 < count('x') + 1", in: shopper))
        #expect(try holds("'CN' == user.country", in: shopper))
        #expect(try holds("len(user.tags) >= 2 and len(user.tags) != 3", in: shopper))
        #expect(try holds("len(user.age) != 2", in: shopper))  // null is not 2
    }

    @Test func stringsCompareByUTF8Bytes() throws {
        #expect(try holds("'B' < 'a'"))  // 0x42 < 0x61
        #expect(try holds("'apple' < 'apples'"))
        #expect(try holds("'z' < 'é'"))  // 0x7A < 0xC3
        #expect(try holds("'abc' >= 'abc'"))
        #expect(try holds("user.tier == 'gold'", in: shopper))
        // Equality is Swift's: the precomposed and the decomposed é are the same string, so neither
        // orders before the other.
        var scope = TestScope()
        scope.user = ["a": "\u{E9}", "b": "e\u{301}", "c": "f"]
        #expect(try holds("user.a == user.b", in: scope))
        #expect(try holds("user.a != user.b", in: scope) == false)
        #expect(try holds("user.a < user.b or user.a > user.b", in: scope) == false)
        #expect(try holds("user.a <= user.b and user.a >= user.b", in: scope))
        #expect(try holds("user.b < user.c", in: scope))  // "e…" < "f" by bytes
        #expect(try holds("user.a > user.c", in: scope))  // 0xC3 > "f"
        #expect(try holds("user.a in [user.b]", in: scope))
        #expect(try holds("'Gold' == 'gold'") == false)
    }

    @Test func mixedKindsAreNeverEqualNorOrdered() throws {
        // `user.age` is the number 30.
        #expect(try holds("user.age == '30'", in: shopper) == false)
        #expect(try holds("user.age != '30'", in: shopper))
        #expect(try holds("user.age < '40'", in: shopper) == false)
        #expect(try holds("user.age >= '4'", in: shopper) == false)
        #expect(try holds("user.unsubscribed == 0", in: shopper) == false)
        #expect(try holds("user.tags < user.tags", in: shopper) == false)
    }

    @Test func listsAndObjectsCompareStructurally() throws {
        #expect(try holds("user.tags == ['vip', 'beta']", in: shopper))
        #expect(try holds("user.tags == ['beta', 'vip']", in: shopper) == false)
        var scope = TestScope()
        scope.user = ["a": ["x": 1, "y": [2]], "b": ["y": [2], "x": 1], "c": ["x": 1]]
        #expect(try holds("user.a == user.b", in: scope))
        #expect(try holds("user.a == user.c", in: scope) == false)
    }

    // MARK: Null

    @Test func comparisonsWithNullAreFalseExceptEquality() throws {
        #expect(try holds("user.missing == null", in: shopper))
        #expect(try holds("user.nickname == null", in: shopper))
        #expect(try holds("user.missing != null", in: shopper) == false)
        #expect(try holds("user.tier != null", in: shopper))
        #expect(try holds("user.missing == 0", in: shopper) == false)
        #expect(try holds("user.missing > 0", in: shopper) == false)
        #expect(try holds("user.missing <= 0", in: shopper) == false)
        #expect(try holds("user.missing < 'a'", in: shopper) == false)
        #expect(try holds("user.missing >= user.missing", in: shopper) == false)
        #expect(try holds("user.missing == user.other_missing", in: shopper))
        // `!=` is exactly `not ==`.
        #expect(try holds("user.missing != 'gold'", in: shopper))
    }

    @Test func arithmeticWithNullOrNonNumbersIsNull() throws {
        #expect(try value("user.missing + 1", in: shopper) == .null)
        #expect(try value("1 - user.missing", in: shopper) == .null)
        #expect(try value("user.country * 2", in: shopper) == .null)
        #expect(try value("-user.missing", in: shopper) == .null)
        #expect(try value("-user.country", in: shopper) == .null)
        #expect(try holds("user.missing + 1 > 0", in: shopper) == false)
    }

    @Test func nullIsFalseInLogicAndNeverAMember() throws {
        #expect(try holds("not user.missing", in: shopper))
        #expect(try holds("user.missing in ['a', 'b']", in: shopper) == false)
        #expect(try holds("'a' in user.missing", in: shopper) == false)
        #expect(try holds("'a' not in user.missing", in: shopper))
        #expect(try holds("null in [1, null]"))
    }

    // MARK: Arithmetic

    @Test func arithmeticOperators() throws {
        #expect(try value("event.properties.price * event.properties.qty", in: shopper) == 119)
        #expect(try holds("event.properties.price * event.properties.qty > 100", in: shopper))
        #expect(try value("(event.properties.qty + 4) / 2", in: shopper) == 3)
        #expect(try value("7 % 3") == 1)
        #expect(try value("-7 % 3") == -1)  // like Swift's %
        #expect(try value("7.5 % 2") == 1.5)
        #expect(try value("1 / 4") == 0.25)
        #expect(try value("-event.properties.qty", in: shopper) == -2)
        #expect(try value("- -3") == 3)
    }

    @Test func divisionByZeroAndOverflowAreNull() throws {
        #expect(try value("1 / 0") == .null)
        #expect(try value("1 % 0") == .null)
        #expect(try value("event.properties.qty / (event.properties.qty - 2)", in: shopper) == .null)
        #expect(try value("1e308 * 10") == .null)
    }

    // MARK: Precedence

    @Test func precedenceAndAssociativity() throws {
        #expect(try value("2 + 3 * 4") == 14)
        #expect(try value("(2 + 3) * 4") == 20)
        #expect(try value("10 - 4 - 3") == 3)
        #expect(try value("100 / 10 / 5") == 2)
        #expect(try value("2 * 3 % 4") == 2)
        #expect(try value("-2 * 3") == -6)
        #expect(try value("-(2 + 3)") == -5)
        #expect(try value("1 + 2 == 3") == true)
        #expect(try value("true or false and false") == true)  // and binds tighter
        #expect(try value("(true or false) and false") == false)
        #expect(try value("not 1 == 2") == true)  // not (1 == 2)
        #expect(try value("not true and false") == false)  // (not true) and false
        #expect(try value("not false or true") == true)
        #expect(try value("(1 < 2) == (2 < 3)") == true)
    }

    // MARK: Logic

    @Test func andOrNotYieldBooleansByTruthiness() throws {
        #expect(try value("user.age and user.country", in: shopper) == true)
        #expect(try value("user.empty or 0", in: shopper) == false)
        #expect(try value("user.empty or user.tags", in: shopper) == true)
        #expect(try value("not user.tags", in: shopper) == false)
        #expect(try value("not []") == true)
        #expect(try value("!user.unsubscribed && user.tier == 'gold'", in: shopper) == true)
        #expect(try value("user.unsubscribed || user.tier == 'silver'", in: shopper) == false)
        #expect(try holds("user.tier == \"gold\" and not user.unsubscribed", in: shopper))
    }

    @Test func andOrShortCircuit() throws {
        let probe = ProbeScope()
        #expect(try compiled("false and count('x') > 0").isTrue(in: probe) == false)
        #expect(try compiled("true or user.a == 1").isTrue(in: probe))
        #expect(try compiled("user.a == null or user.b == 1").evaluate(in: probe) == true)
        #expect(probe.log.calls == ["lookup user.a"])
        #expect(try compiled("true and user.c").isTrue(in: probe) == false)
        #expect(probe.log.calls == ["lookup user.a", "lookup user.c"])
    }

    // MARK: Membership

    @Test func inAndNotIn() throws {
        #expect(try holds("user.country in [\"CN\", \"SG\"]", in: shopper))
        #expect(try holds("user.country not in ['CN', 'SG']", in: shopper) == false)
        #expect(try holds("'vip' in user.tags", in: shopper))
        #expect(try holds("'staff' in user.tags", in: shopper) == false)
        #expect(try holds("'staff' not in user.tags", in: shopper))
        #expect(try holds("'example' in user.email", in: shopper))  // substring
        #expect(try holds("'' in user.email", in: shopper))
        #expect(try holds("'lang' in user.prefs", in: shopper))  // object key
        #expect(try holds("'zh' in user.prefs", in: shopper) == false)
        #expect(try holds("user.country in [event.properties.cart_id, 'CN']", in: shopper))
        #expect(try holds("user.age in [30, 31]", in: shopper))
        #expect(try holds("user.age in ['30']", in: shopper) == false)
        #expect(try holds("2 in [1, 2]"))
        #expect(try holds("user.tags in [['vip', 'beta']]", in: shopper))
        #expect(try holds("1 in user.age", in: shopper) == false)  // not a container at run time
    }

    // MARK: Helpers

    @Test func stringAndCollectionHelpers() throws {
        #expect(try value("lower(user.tier) == 'gold' and upper(user.tier) == 'GOLD'", in: shopper) == true)
        #expect(try value("lower('ÀB')") == "àb")
        #expect(try value("upper(user.missing)", in: shopper) == .null)
        #expect(try value("len(user.tags)", in: shopper) == 2)
        #expect(try value("len('café')") == 4)  // characters, not bytes
        #expect(try value("len(user.prefs)", in: shopper) == 1)
        #expect(try value("len(user.age)", in: shopper) == .null)
        #expect(try holds("contains(user.tags, 'vip')", in: shopper))
        #expect(try holds("contains(user.email, '@example.')", in: shopper))
        #expect(try holds("contains(user.email, 'nope')", in: shopper) == false)
        #expect(try holds("contains(['a', 'b'], user.tier)", in: shopper) == false)
        #expect(try holds("starts_with(user.email, 'ada@')", in: shopper))
        #expect(try holds("starts_with(user.email, 'bob')", in: shopper) == false)
        #expect(try holds("starts_with(user.age, '3')", in: shopper) == false)
        #expect(try value("coalesce(user.nickname, user.missing, user['first name'], 'there')", in: shopper) == "Ada")
        #expect(try value("coalesce(user.nickname, 'there')", in: shopper) == "there")
        #expect(try value("coalesce(null, null)") == .null)
        #expect(try value("coalesce(user.empty, 'x')", in: shopper) == "")  // only null is skipped
        #expect(try value("coalesce(null, 3, user.age)", in: shopper) == 3)
    }

    @Test func existsTestsForNonNull() throws {
        #expect(try holds("exists(user.email)", in: shopper))
        #expect(try holds("exists(user.empty)", in: shopper))  // present but empty
        #expect(try holds("exists(user.unsubscribed)", in: shopper))  // present and false
        #expect(try holds("exists(user.nickname)", in: shopper) == false)  // JSON null
        #expect(try holds("exists(user.phone)", in: shopper) == false)
        #expect(try holds("not exists(user.phone)", in: shopper))
    }

    @Test func conditionsOfTheBundledRules() throws {
        var buyer = shopper
        buyer.history = [TestScope.Occurrence(event: "purchase", at: buyer.now - .days(3))]
        #expect(try holds("event.properties.price >= 100", in: shopper) == false)
        #expect(try holds("event.properties.price >= 50", in: shopper))
        #expect(try holds("user.tier == \"gold\"", in: shopper))
        #expect(try holds("count(\"purchase\") > 0", in: shopper) == false)
        #expect(try holds("count(\"purchase\") > 0", in: buyer))
        #expect(try holds("not (\"lapsed\" in user.tags)", in: shopper))
        #expect(try holds("not (user.unsubscribed == true)", in: shopper))
        #expect(try value("event.properties.cart_id", in: shopper) == "c-1")
    }

    // MARK: What an expression tells the engine

    @Test func historyNeedsRootsAndUserPaths() throws {
        let expression = try compiled(
            """
            count("purchase", within: 30d) >= 3 and sum("purchase", "price", within: 90d) > 500
            and count("purchase", within: 30d) < 10 and days_since(last("login")) > 7
            and user.tier == "gold" and "vip" in user.tags and user["first name"] != null
            and user.address.city == "Paris" and event.properties.price > 0
            """)
        #expect(
            expression.historyNeeds == [
                HistoryNeed(event: "purchase", within: .days(30)),
                HistoryNeed(event: "purchase", property: "price", within: .days(90)),
                HistoryNeed(event: "login"),
            ])
        #expect(expression.roots == [.user, .event])
        #expect(expression.userPaths == ["tier", "tags", "first name", "address"])
    }

    @Test func staticTypes() throws {
        #expect(try compiled("user.a == 1").staticType == .boolean)
        #expect(try compiled("user.a == 1").canBeNull == false)
        #expect(try compiled("count('x') + 1").staticType == .number)
        #expect(try compiled("count('x') + 1").canBeNull)
        #expect(try compiled("count('x')").canBeNull == false)
        #expect(try compiled("weekday()").staticType == .string)
        #expect(try compiled("user.a").staticType == nil)
        #expect(try compiled("[1]").staticType == .list)
        #expect(try compiled("null").staticType == .null)
        #expect(try compiled("coalesce(user.a, 'x')").staticType == nil)
        #expect(try compiled("coalesce(lower(user.a), 'x')").staticType == .string)
        #expect(try compiled("coalesce(lower(user.a), 'x')").canBeNull == false)
    }

    @Test func sourceIsKept() throws {
        let text = "user.tier == 'gold'"
        #expect(try compiled(text).source == text)
        #expect(try compiled(text).description == text)
    }

    @Test func inputsListEachPathAndCallOnceWithItsValue() throws {
        var scope = shopper
        scope.history = [TestScope.Occurrence(event: "purchase", at: scope.now - .days(1))]
        let inputs = try compiled(
            "user.country in ['CN'] and count('purchase', within: 30d) > 0 and lower(user.country) != user['tier']"
        ).inputs(in: scope)
        #expect(inputs.map(\.text) == ["user.country", "count(\"purchase\", within: 30d)", "user.tier"])
        #expect(inputs.map(\.value) == ["CN", 1, "gold"])
    }
}

/// Records which questions an expression asks (to observe short-circuiting).
final class CallLog: @unchecked Sendable {
    var calls: [String] = []
}

struct ProbeScope: ExpressionScope {
    let log = CallLog()
    func lookup(_ root: PathRoot, _ path: ArraySlice<String>) -> Value {
        log.calls.append("lookup \(root.rawValue).\(path.joined(separator: "."))")
        return .null
    }
    func count(event: String, within: TimeSpan?) -> Int {
        log.calls.append("count \(event)")
        return 0
    }
    func sum(event: String, property: String, within: TimeSpan?) -> Double { 0 }
    func lastTime(event: String) -> Timestamp? { nil }
    func firstTime(event: String) -> Timestamp? { nil }
    var now: Timestamp { Timestamp(milliseconds: 0) }
    var zone: Zone { .utc }
}

import JourneyCore
import JourneyEvents
import Testing

@Suite("JSONParser")
struct JSONParserTests {
    let parser = JSONParser()

    // MARK: What it accepts

    @Test func readsEveryKindOfValueKeepingMemberOrder() throws {
        let value = try parser.parse(#" {"z":1,"a":[true,false,null,"s",-2.5e3,{}],"m":{"k":[]}} "#)
        #expect(
            value
                == .object([
                    Value.Member("z", 1),
                    Value.Member("a", [true, false, nil, "s", .number(-2500), .emptyObject]),
                    Value.Member("m", .object([Value.Member("k", [])])),
                ])
        )
    }

    @Test func acceptsWhitespaceEverywhereJSONAllowsIt() throws {
        let value = try parser.parse(" \t\r\n{ \"a\" : [ 1 , 2 ] , \"b\" :\n\"c\" } \n")
        #expect(value == ["a": [1, 2], "b": "c"])
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let value = try parser.parse(#"["\"\\\/\b\f\n\r\t", "\u00e9\u4e2d", "\ud83d\ude00", "x\u0000y"]"#)
        #expect(value == ["\"\\/\u{8}\u{C}\n\r\t", "é中", "😀", "x\u{0}y"])
    }

    @Test func keepsMultiByteUTF8AsIs() throws {
        #expect(try parser.parse(#"{"名前":"José 😀 ünïcödé"}"#) == ["名前": "José 😀 ünïcödé"])
    }

    @Test func readsLongStringsWithAndWithoutEscapes() throws {
        let plain = String(repeating: "abcdefghij", count: 100)
        #expect(try parser.parse("\"\(plain)\"") == .string(plain))
        let escaped = String(repeating: "abc\\\"def\\\\", count: 50)
        #expect(try parser.parse("\"\(escaped)\"") == .string(String(repeating: "abc\"def\\", count: 50)))
    }

    @Test(arguments: [
        ("0", 0.0), ("-0", -0.0), ("1", 1), ("-1", -1), ("5401.4", 5401.4), ("0.1", 0.1), ("1e3", 1000),
        ("1E+3", 1000), ("2.5e-3", 0.0025), ("9007199254740993", 9_007_199_254_740_993), ("1e-400", 0),
        ("0e999999", 0), ("123456789012345678901234567890", 1.2345678901234568e29),
        ("1.7976931348623157e308", 1.7976931348623157e308), ("4.9e-324", 4.9e-324),
        ("0.000000000000000000000000000001", 1e-30),
    ])
    func convertsNumbersExactly(text: String, expected: Double) throws {
        #expect(try parser.parse(text) == .number(expected))
    }

    @Test func convertsNumbersLikeStrtod() throws {
        // The fast path (Clinger) must agree bit for bit with the correctly rounded conversion.
        var rng = SplitMix(seed: 42)
        for _ in 0..<20_000 {
            let digits = Int.random(in: 1...20, using: &rng)
            var mantissa = String(Int.random(in: 1...9, using: &rng))
            for _ in 1..<digits { mantissa += String(Int.random(in: 0...9, using: &rng)) }
            let point = Int.random(in: 1...digits, using: &rng)
            var text = mantissa
            if point < digits { text = String(mantissa.prefix(point)) + "." + String(mantissa.dropFirst(point)) }
            if Bool.random(using: &rng) { text += "e\(Int.random(in: -30...30, using: &rng))" }
            if Bool.random(using: &rng) { text = "-" + text }
            let expected = try #require(Double(text))
            #expect(try parser.parse(text) == .number(expected), "\(text)")
        }
    }

    @Test func roundTripsGeneratedValuesThroughTheirJSONText() throws {
        var rng = SplitMix(seed: 7)
        for _ in 0..<2_000 {
            let value = ValueGenerator.value(depth: 0, using: &rng)
            #expect(try parser.parse(value.jsonText) == value)
        }
    }

    @Test func acceptsNestingUpToTheLimit() throws {
        let deep = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        _ = try parser.parse(deep)
        let error = try syntaxError(String(repeating: "[", count: 65) + String(repeating: "]", count: 65))
        #expect(error.reason == "nesting deeper than 64 levels")
        #expect(error.byteOffset == 64)
        #expect(error.path == "$" + String(repeating: "[0]", count: 64))
    }

    @Test func honoursACustomDepthLimit() throws {
        let error = try syntaxError(#"{"a":{"b":{"c":1}}}"#, maxDepth: 2)
        #expect(error.reason == "nesting deeper than 2 levels")
        #expect(error.path == "$.a.b")
        #expect(error.byteOffset == 10)
    }

    // MARK: What it refuses, where and why

    @Test(arguments: [
        // (input, byte offset, path, reason)
        (#"{"a":1,}"#, 7, "$", #"expected a string key, found '}'"#),
        (#"{"a" 1}"#, 5, "$.a", #"expected ':' after the key, found '1'"#),
        (#"{"a":1 "b":2}"#, 7, "$", #"expected ',' or '}', found '"'"#),
        (#"[1 2]"#, 3, "$", #"expected ',' or ']', found '2'"#),
        (#"[1,]"#, 3, "$[1]", #"expected a value, found ']'"#),
        (#"{"a":[1,{"b":tru}]}"#, 13, "$.a[1].b", "invalid literal (expected true)"),
        (#"{"a":1} x"#, 8, "$", "unexpected 'x' after the JSON value"),
        (#"{"a":1}{}"#, 7, "$", "unexpected '{' after the JSON value"),
        (#"{"a":01}"#, 5, "$.a", "leading zeros are not allowed in numbers"),
        (#"[-01]"#, 1, "$[0]", "leading zeros are not allowed in numbers"),
        (#"[1.]"#, 3, "$[0]", "expected a digit after '.', found ']'"),
        (#"[.5]"#, 1, "$[0]", "expected a value, found '.'"),
        (#"[1e]"#, 3, "$[0]", "expected a digit in the exponent, found ']'"),
        (#"[+1]"#, 1, "$[0]", "expected a value, found '+'"),
        (#"[-]"#, 2, "$[0]", "expected a digit after '-', found ']'"),
        (#"[NaN]"#, 1, "$[0]", "NaN and Infinity are not allowed in JSON"),
        (#"[Infinity]"#, 1, "$[0]", "NaN and Infinity are not allowed in JSON"),
        (#"[-Infinity]"#, 2, "$[0]", "NaN and Infinity are not allowed in JSON"),
        (#"{"p":1e400}"#, 5, "$.p", "number out of range"),
        (#"{"p":-1e400}"#, 5, "$.p", "number out of range"),
        (#"{"p":123456789e301}"#, 5, "$.p", "number out of range"),
        (#"{"p":123456789e300}"#, -1, "", "accepted: 1.23456789e308 is finite"),
        (#"["\x"]"#, 2, "$[0]", #"invalid escape '\x'"#),
        (#"["\u12G4"]"#, 2, "$[0]", #"invalid \u escape (expected 4 hex digits)"#),
        (#"["\uD800"]"#, 2, "$[0]", #"lone surrogate \uD800 in a string"#),
        (#"["\uDC00"]"#, 2, "$[0]", #"lone surrogate \uDC00 in a string"#),
        (#"["\uD800\u0041"]"#, 2, "$[0]", #"lone surrogate \uD800 in a string"#),
        (#"["\uD800x"]"#, 2, "$[0]", #"lone surrogate \uD800 in a string"#),
        (#"{"a":"x","b":"y","a":"z"}"#, 17, "$", #"duplicate key "a""#),
        (#"{"a":1,"\u0061":2}"#, 7, "$", #"duplicate key "a""#),
        (#"{"x":{"k":1,"k":2}}"#, 12, "$.x", #"duplicate key "k""#),
        ("", 0, "$", "unexpected end of input"),
        ("   ", 3, "$", "unexpected end of input"),
        (#"{"a":[1,2"#, 9, "$.a", "unexpected end of input"),
        (#"{"a":"abc"#, 9, "$.a", "unexpected end of input"),
        (#"{"a"#, 3, "$", "unexpected end of input"),
        (#"["\u00"#, 6, "$[0]", "unexpected end of input"),
        (#"["\uD83D\u"#, 10, "$[0]", "unexpected end of input"),
        (#"{"a":1"#, 6, "$", "unexpected end of input"),
        ("nul", 3, "$", "unexpected end of input"),
    ] as [(String, Int, String, String)])
    func refusesMalformedJSONWithOffsetPathAndReason(input: String, offset: Int, path: String, reason: String) throws {
        if offset < 0 {
            _ = try parser.parse(input)
            return
        }
        let error = try syntaxError(input)
        #expect(error == JSONSyntaxError(byteOffset: offset, path: path, reason: reason))
    }

    @Test func reportsThePathOfTheFailingValueThroughArraysAndObjects() throws {
        let text = #"{"properties":{"items":[{"price":1},{"price":2},{"price":1e999}]}}"#
        let error = try syntaxError(text)
        #expect(error.path == "$.properties.items[2].price")
        #expect(error.byteOffset == offset(of: "1e999", in: text))
        #expect(error.reason == "number out of range")
        #expect(error.description == "byte \(error.byteOffset): $.properties.items[2].price: number out of range")
    }

    @Test func writesKeysThatAreNotIdentifiersInBrackets() throws {
        let error = try syntaxError(#"{"a b":{"c.d":{"":[01]}}}"#)
        #expect(error.path == #"$["a b"]["c.d"][""][0]"#)
    }

    @Test(arguments: [
        ([0xFF], "lone byte 0xFF"),
        ([0x80], "stray continuation byte"),
        ([0xC0, 0x80], "overlong NUL"),
        ([0xC1, 0xBF], "overlong 2-byte"),
        ([0xE0, 0x80, 0x80], "overlong 3-byte"),
        ([0xED, 0xA0, 0x80], "UTF-8 encoded surrogate"),
        ([0xF0, 0x80, 0x80, 0x80], "overlong 4-byte"),
        ([0xF4, 0x90, 0x80, 0x80], "above U+10FFFF"),
        ([0xF5, 0x80, 0x80, 0x80], "invalid lead byte"),
        ([0xE2, 0x82], "truncated sequence"),
        ([0xC3, 0x41], "missing continuation"),
    ] as [([UInt8], String)])
    func refusesInvalidUTF8InStrings(bytes: [UInt8], _ what: String) throws {
        let text = Array(#"{"k":"ab"#.utf8) + bytes + Array(#"cd"}"#.utf8)
        let error = try syntaxError(text)
        #expect(error.reason == "invalid UTF-8", "\(what)")
        #expect(error.byteOffset == 8, "\(what)")
        #expect(error.path == "$.k", "\(what)")
    }

    @Test func refusesInvalidUTF8InKeysAndOutsideStrings() throws {
        let inKey = try syntaxError(Array(#"{"a"#.utf8) + [0xFE] + Array(#"":1}"#.utf8))
        #expect(inKey == JSONSyntaxError(byteOffset: 3, path: "$", reason: "invalid UTF-8"))
        let outside = try syntaxError(Array("[1,".utf8) + [0xFF] + Array("]".utf8))
        #expect(outside == JSONSyntaxError(byteOffset: 3, path: "$[1]", reason: "invalid UTF-8"))
        let validButMisplaced = try syntaxError("[é]")
        #expect(validButMisplaced.reason == "expected a value, found 'é'")
    }

    @Test func refusesInvalidUTF8EvenWhenItFallsInAFastPathWord() throws {
        // The 8-byte scan must stop at a bad byte in any lane.
        for lane in 0..<8 {
            var bytes = Array(#"{"k":""#.utf8) + Array(repeating: UInt8(ascii: "a"), count: 16)
            bytes[6 + lane] = 0xFF
            bytes += Array(#""}"#.utf8)
            let error = try syntaxError(bytes)
            #expect(error.byteOffset == 6 + lane)
            #expect(error.reason == "invalid UTF-8")
        }
    }

    @Test func refusesRawControlCharactersAndNULBytes() throws {
        let tab = try syntaxError("[\"a\tb\"]")
        #expect(tab == JSONSyntaxError(byteOffset: 3, path: "$[0]", reason: "unescaped control character U+0009 in a string"))
        let newline = try syntaxError("{\"k\":\"line\nbreak\"}")
        #expect(newline.reason == "unescaped control character U+000A in a string")
        #expect(newline.byteOffset == 10)
        let nulInString = try syntaxError([UInt8(ascii: "\""), 0x61, 0x00, UInt8(ascii: "\"")])
        #expect(nulInString == JSONSyntaxError(byteOffset: 2, path: "$", reason: "NUL byte in a string"))
        let nulOutside = try syntaxError(Array("{}".utf8) + [0])
        #expect(nulOutside == JSONSyntaxError(byteOffset: 2, path: "$", reason: "unexpected NUL byte after the JSON value"))
        let nulAsValue = try syntaxError([UInt8(ascii: "["), 0, UInt8(ascii: "]")])
        #expect(nulAsValue.reason == "expected a value, found NUL byte")
    }

    @Test func findsDuplicatesInLargeObjects() throws {
        var members = (0..<200).map { "\"k\($0)\":\($0)" }
        #expect(try parser.parse("{" + members.joined(separator: ",") + "}").members?.count == 200)
        members.append(#""k150":0"#)
        let text = "{" + members.joined(separator: ",") + "}"
        let error = try syntaxError(text)
        #expect(error.reason == #"duplicate key "k150""#)
        #expect(error.byteOffset == offset(of: #""k150""#, in: text, occurrence: 2))
        // An escaped spelling of an earlier key is the same key, also past the small-object path.
        let escaped = "{" + (0..<40).map { "\"k\($0)\":0" }.joined(separator: ",") + #","\u006b7":1}"#
        #expect(try syntaxError(escaped).reason == #"duplicate key "k7""#)
    }

    @Test func quotesLongDuplicateKeysTruncatedOnOneLine() throws {
        let key = String(repeating: "x", count: 100) + "\\n"
        let error = try syntaxError("{\"\(key)\":1,\"\(key)\":2}")
        #expect(error.reason == "duplicate key \"" + String(repeating: "x", count: 40) + "…\"")
    }
}

/// Random JSON values whose text round-trips (unique keys, finite numbers).
enum ValueGenerator {
    static let alphabet: [String] = ["a", "b", "z", "é", "中", "😀", "\"", "\\", "\n", "\t", "\u{0}", "\u{1F}", " ", "/", "\u{7F}", "\u{2028}"]

    static func string(using rng: inout SplitMix, maxLength: Int = 24) -> String {
        let length = Int.random(in: 0...maxLength, using: &rng)
        return (0..<length).map { _ in alphabet.randomElement(using: &rng)! }.joined()
    }

    static func number(using rng: inout SplitMix) -> Double {
        switch Int.random(in: 0..<5, using: &rng) {
        case 0: return Double(Int.random(in: -1000...1000, using: &rng))
        case 1: return Double(Int.random(in: 0...999_999, using: &rng)) / 100
        case 2: return Double.random(in: -1e6...1e6, using: &rng)
        case 3: return Double(bitPattern: rng.next() & 0x7FEF_FFFF_FFFF_FFFF)  // any finite positive
        default: return -Double(bitPattern: rng.next() & 0x7FEF_FFFF_FFFF_FFFF)
        }
    }

    static func value(depth: Int, using rng: inout SplitMix) -> Value {
        switch Int.random(in: 0..<(depth >= 4 ? 5 : 7), using: &rng) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &rng))
        case 2: return .number(number(using: &rng))
        case 3, 4: return .string(string(using: &rng))
        case 5: return .array((0..<Int.random(in: 0...4, using: &rng)).map { _ in value(depth: depth + 1, using: &rng) })
        default: return object(depth: depth, using: &rng)
        }
    }

    static func object(depth: Int, using rng: inout SplitMix, avoiding reserved: Set<String> = []) -> Value {
        var seen = reserved
        var members: [Value.Member] = []
        for _ in 0..<Int.random(in: 0...5, using: &rng) {
            let key = string(using: &rng, maxLength: 8)
            guard seen.insert(key).inserted else { continue }
            members.append(Value.Member(key, value(depth: depth + 1, using: &rng)))
        }
        return .object(members)
    }
}

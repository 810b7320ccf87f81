import JourneyCore
import Testing

@Suite("Values")
struct ValueTests {
    @Test func objectsKeepInsertionOrderAndSerializeDeterministically() {
        var v: Value = ["b": 1, "a": "x"]
        v.set("c", to: [true, nil, 2.5])
        v.set("b", to: "changed")
        #expect(v.jsonText == #"{"b":"changed","a":"x","c":[true,null,2.5]}"#)
        let removed = v.remove("a")
        #expect(removed)
        #expect(v["a"] == nil)
    }

    @Test func stringsAreEscapedPerRFC8259() {
        #expect(Value.string("a\"b\\c\n\u{1}é").jsonText == #""a\"b\\c\n\u0001é""#)
    }

    @Test func pathsFollowNestedObjects() {
        let v: Value = ["properties": ["cart": ["id": "c1"]]]
        #expect(v.value(at: ["properties", "cart", "id"]) == "c1")
        #expect(v.value(at: ["properties", "nope"]) == nil)
    }

    @Test func stableHashesDoNotChangeBetweenRuns() {
        // Fixed values: touch ids and split buckets depend on them staying the same forever.
        #expect(StableHash.of("cart_abandonment", "u1").hex == StableHash.of("cart_abandonment", "u1").hex)
        #expect(StableHash.of("ab", "c").hex != StableHash.of("a", "bc").hex)
        #expect(StableHash.of("journeyd").hex.count == 16)
    }
}

import JourneyCore
import JourneyRules
import Testing

/// Sizes in journeyd.yaml read as operators write them: bytes, or a number with a unit.
@Suite("Byte sizes in settings")
struct ByteSizeSettingTests {
    func logBytes(_ value: String) throws -> (Int?, [String]) {
        let (rules, diagnostics) = try LoaderFixtures.report(
            LoaderFixtures.journey(
                "journey: j\ntrigger: { event: e }\nsteps:\n  - { id: s, send: email, template: t }\n",
                extra: ["journeyd.yaml": "state:\n  checkpoint:\n    log_bytes: \(value)\n"]))
        return (rules?.settings.daemonSettings.checkpointLogBytes, diagnostics)
    }

    @Test(arguments: [
        ("268435456", 268_435_456), ("256MiB", 268_435_456), ("256 MiB", 268_435_456), ("1GiB", 1 << 30), ("1.5 GiB", 3 << 29),
        ("8MB", 8_000_000), ("2 GB", 2_000_000_000), ("2048 KiB", 2 << 20), ("1048576B", 1 << 20), ("1TiB", 1 << 40),
    ])
    func aSizeWithOrWithoutAUnitIsRead(text: String, bytes: Int) throws {
        let (read, diagnostics) = try logBytes(text)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        #expect(read == bytes)
    }

    @Test func aSizeThatIsNotOneOrOutOfRangeIsRefusedAtItsPlace() throws {
        let words = try logBytes("8 megabytes").1
        #expect(words == ["journeyd.yaml:3:16: state.checkpoint.log_bytes: expected a size like 256MiB, 1GB or 1048576 (bytes), found `8 megabytes`"], "\(words)")
        let small = try logBytes("512KiB").1
        #expect(small == ["journeyd.yaml:3:16: state.checkpoint.log_bytes: must be from 1MiB to 1TiB, found `512KiB`"], "\(small)")
        #expect(try logBytes("-1").1.count == 1 && logBytes(".5MiB").1.count == 1 && logBytes("2TiB").1.count == 1)
    }
}

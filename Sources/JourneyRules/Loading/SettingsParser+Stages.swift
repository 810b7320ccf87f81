import JourneyCore
import Yams

extension SettingsParser {
    /// `stages: [{name: visitor}, {name: customer, when: count("purchase") >= 1}, …]`: ordered lifecycle
    /// stages, each a condition on the profile; names unique identifiers.
    static func stages(_ node: YAMLNode, reader: YAMLReader) -> [Stage] {
        guard let list = reader.sequence(node, "stages", what: "a list of stages like {name: customer, when: …}") else { return [] }
        var stages: [Stage] = []
        var seen: Set<String> = []
        for (i, item) in list.enumerated() {
            let path = "stages[\(i)]"
            guard let m = reader.mapping(item, path, allowed: ["name", "when"], what: "a stage like {name: customer, when: …}"),
                let nameNode = reader.required(m, "name", path),
                let name = reader.identifier(nameNode, "\(path).name", what: "stage name")
            else { continue }
            if !seen.insert(name).inserted {
                reader.error(at: nameNode, "\(path).name", "duplicate stage \"\(name)\"")
                continue
            }
            var condition: Expression?
            if let when = m["when"] {
                guard let text = reader.string(when, "\(path).when", expected: "a condition") else { continue }
                switch ExpressionCompiler.compile(
                    text, allowedRoots: [.user],
                    unavailableReasons: [.event: "a stage is a condition on the profile, evaluated after each change to it"])
                {
                case .success(let expression): condition = expression
                case .failure(let error):
                    let (line, column) = reader.position(ofUTF8Offset: error.column, in: when)
                    reader.record(line: line, column: column, "\(path).when", error.message)
                    continue
                }
            }
            stages.append(Stage(name: name, condition: condition))
        }
        return stages
    }
}

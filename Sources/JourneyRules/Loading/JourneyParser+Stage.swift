import JourneyCore
import Yams

extension JourneyParser {
    /// `trigger: {stage: {becomes: repeat, from: customer}}`: the stage names are checked against
    /// journeyd.yaml's `stages` once every file is read (``stageReferences``).
    mutating func parseStageTrigger(_ node: YAMLNode) -> Trigger? {
        guard let m = reader.mapping(node, "trigger.stage", allowed: ["becomes", "from"], what: "a mapping like {becomes: repeat}"),
            let becomesNode = reader.required(m, "becomes", "trigger.stage"),
            let becomes = reader.identifier(becomesNode, "trigger.stage.becomes", what: "stage name")
        else { return nil }
        stageReferences.append((becomes, becomesNode, "trigger.stage.becomes"))
        var from: String?
        if let fromNode = m["from"] {
            guard let name = reader.identifier(fromNode, "trigger.stage.from", what: "stage name") else { return nil }
            stageReferences.append((name, fromNode, "trigger.stage.from"))
            if name == becomes { reader.error(at: fromNode, "trigger.stage.from", "a stage cannot become itself: from and becomes are both \"\(name)\"") }
            from = name
        }
        return .stage(becomes: becomes, from: from)
    }
}

import JourneyCore

// `render`, `include` and `cycle`.
extension RenderState {
    /// `{% render %}`: the partial runs with variables of its own — its bindings from the context, then
    /// the arguments, evaluated here — and its own counters, cycles and loops; nothing it sets is seen
    /// after it. With `for`, once per item, each time afresh.
    mutating func renderPartial(_ call: RenderCall) {
        let arguments = call.arguments.map { (slot: $0.slot, value: evaluate($0.value)) }
        let partial = call.partial
        var items: Items?
        if let each = call.each {
            switch evaluate(each.items) {
            case .array(let values): items = .values(values)
            case let other: items = .values([other])
            }
        }
        let saved = (slots, loops, counters, cycles, loopStops, lastChanged)
        defer { (slots, loops, counters, cycles, loopStops, lastChanged) = saved }
        let count = items?.count ?? 1
        for k in 0..<count {
            if k > 0 {
                iterationsLeft -= 1
                if iterationsLeft < 0 { fail("more than the allowed loop iterations") }
                if failure != nil { return }
            }
            slots = Array(repeating: .null, count: partial.slotCount)
            counters = Array(repeating: 0, count: partial.counterCount)
            cycles = [:]
            loopStops = [:]
            lastChanged = nil
            bind(partial.bindings)
            for argument in arguments { slots[argument.slot] = argument.value }
            loops = []
            if let items, let each = call.each {
                slots[each.slot] = items.item(k)
                loops = [LoopState(index0: k, length: count)]
            }
            _ = render(partial.nodes)
        }
    }

    /// `{% include %}`: the partial, compiled into this template, sees its arguments in slots of its own;
    /// a list given `with` or `for` renders it once per item. `break` and `continue` in it reach the loop
    /// around the `include`.
    mutating func include(_ call: IncludeCall) -> Flow {
        for argument in call.arguments { slots[argument.slot] = evaluate(argument.value) }
        guard let binding = call.binding else { return render(call.body) }
        let value = evaluate(binding.value)
        guard case .array(let items) = value else {
            slots[binding.slot] = value
            return render(call.body)
        }
        for item in items {
            iterationsLeft -= 1
            if iterationsLeft < 0 { fail("more than the allowed loop iterations") }
            if failure != nil { return .breakLoop }
            slots[binding.slot] = item
            let flow = render(call.body)
            if flow != .normal { return flow }
        }
        return .normal
    }

    /// `{% cycle %}`: the group's next value; a group keeps one position even when its tags list
    /// different values (a position past a shorter list outputs nothing, as in Liquid).
    mutating func cycle(_ cycle: Cycle) {
        let key: CycleKey
        switch cycle.group {
        case .anonymous(let text): key = .anonymous(text)
        case .named(let name): key = .named(evaluate(name))
        }
        let position = cycles[key] ?? 0
        if position < cycle.values.count { write(evaluate(cycle.values[position]), cycle.escaper) }
        cycles[key] = position + 1 >= cycle.values.count ? 0 : position + 1
    }
}

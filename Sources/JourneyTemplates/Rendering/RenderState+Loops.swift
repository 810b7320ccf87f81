import JourneyCore

// `for` and `tablerow`.
extension RenderState {
    /// A loop's items, without building a list for a range.
    enum Items {
        case values([Value])
        case numbers(ClosedRange<Int>)

        var count: Int {
            switch self {
            case .values(let v): return v.count
            case .numbers(let r): return r.count
            }
        }

        func item(_ position: Int) -> Value {
            switch self {
            case .values(let values): return values[position]
            case .numbers(let range): return .number(Double(range.lowerBound + position))
            }
        }
    }

    /// What a `for` or `tablerow` iterates: a list's items, a range's numbers, an object's `[name, value]`
    /// pairs, a non-empty text once.
    mutating func items(of collection: Expr) -> Items {
        if case .range(let from, let to) = collection {
            let a = FilterCall.clampedInt(evaluate(from).liquidRangeBound)
            let b = FilterCall.clampedInt(evaluate(to).liquidRangeBound)
            return a <= b ? .numbers(a...b) : .values([])
        }
        switch evaluate(collection) {
        case .array(let values): return .values(values)
        case .object(let members): return .values(members.map { .array([.string($0.key), $0.value]) })
        case .string(let s): return .values(s.isEmpty ? [] : [.string(s)])
        default: return .values([])
        }
    }

    /// The part of `items` that `offset:` and `limit:` select.
    private mutating func segment(_ loop: ForLoop, count: Int) -> Range<Int> {
        var offset = loop.offset.map { max(whole($0, "offset", loop), 0) } ?? 0
        if loop.continues { offset = loopStops[loop.name] ?? 0 }
        let limit = loop.limit.map { max(whole($0, "limit", loop), 0) } ?? count
        let start = min(offset, count)
        return start..<(start + min(limit, count - start))
    }

    /// A `limit:`/`offset:`/`cols:` value: a number, or text that is one; anything else is an error.
    private mutating func whole(_ expr: Expr, _ option: String, _ loop: ForLoop) -> Int {
        let value = evaluate(expr)
        switch value {
        case .number(let d): return FilterCall.clampedInt(d)
        case .string(let s) where Double(s.trimmingSpaces) != nil: return FilterCall.clampedInt(Double(s.trimmingSpaces)!)
        default:
            fail("`\(option)` must be a number, not \(value.typeName) \(value.jsonText)", at: loop.at)
            return 0
        }
    }

    /// Counts one iteration against the limits; false when the render must stop.
    private mutating func iterate() -> Bool {
        iterationsLeft -= 1
        if iterationsLeft < 0 { fail("more than the allowed loop iterations") }
        if out.count > maxBytes { fail("the output grew past \(maxBytes) bytes") }
        return failure == nil
    }

    mutating func run(_ loop: ForLoop) -> Flow {
        let items = items(of: loop.collection)
        let range = segment(loop, count: items.count)
        guard failure == nil else { return .breakLoop }
        if loop.recordsStop { loopStops[loop.name] = range.upperBound }
        guard !range.isEmpty else { return render(loop.otherwise) }
        let length = range.count

        loops.append(LoopState(index0: 0, length: length, name: loop.name))
        defer { loops.removeLast() }
        for k in 0..<length {
            guard iterate() else { return .breakLoop }
            slots[loop.slot] = items.item(range.lowerBound + (loop.reversed ? length - 1 - k : k))
            loops[loops.count - 1].index0 = k
            if render(loop.body) == .breakLoop { break }
        }
        return failure != nil ? .breakLoop : .normal
    }

    /// `tablerow`: the body in `<td>` cells, `cols` to a `<tr>` row, as Shopify's Liquid writes them.
    mutating func tablerow(_ loop: ForLoop) -> Flow {
        let items = items(of: loop.collection)
        let range = segment(loop, count: items.count)
        let length = range.count
        var cols = length
        if let expr = loop.cols, !evaluate(expr).isNull { cols = whole(expr, "cols", loop) }
        if cols <= 0 { cols = max(length, 1) }

        out.append(contentsOf: "<tr class=\"row1\">\n".utf8)
        loops.append(LoopState(index0: 0, length: length, name: loop.name, cols: cols))
        defer { loops.removeLast() }
        for k in 0..<length {
            guard iterate() else { return .breakLoop }
            slots[loop.slot] = items.item(range.lowerBound + k)
            loops[loops.count - 1].index0 = k
            if k > 0 && k % cols == 0 {
                out.append(contentsOf: "</tr>\n<tr class=\"row".utf8)
                ValueFormatting.writeNumber(Double(k / cols + 1), into: &out)
                out.append(contentsOf: "\">".utf8)
            }
            out.append(contentsOf: "<td class=\"col".utf8)
            ValueFormatting.writeNumber(Double(k % cols + 1), into: &out)
            out.append(contentsOf: "\">".utf8)
            let flow = render(loop.body)
            out.append(contentsOf: "</td>".utf8)
            if flow == .breakLoop { break }
        }
        out.append(contentsOf: "</tr>\n".utf8)
        return failure != nil ? .breakLoop : .normal
    }
}

import JourneyCore

// The filters on lists, as Shopify's Liquid defines them: the input is a list (nested lists flattened),
// or a list of itself when it is anything else; an item's property is read by ``property(of:_:)``.
extension FilterCall {
    /// What reading a property of one item gave.
    enum Lookup {
        case value(Value)
        /// The item is nil: the filter's result is nil, as in Liquid.
        case nilItem
        /// The item cannot have properties (a number, true or false, asked by name).
        case notAnObject(Value)
    }

    /// `input` as Liquid's filters see a list: nested lists flattened; anything else a list of itself.
    static func sequence(_ input: Value) -> [Value] {
        guard case .array(let items) = input else { return [input] }
        guard items.contains(where: { $0.arrayValue != nil }) else { return items }
        var flat: [Value] = []
        func flatten(_ values: [Value]) {
            for value in values {
                if case .array(let inner) = value { flatten(inner) } else { flat.append(value) }
            }
        }
        flatten(items)
        return flat
    }

    /// `item[key]`: an object's member, a list's item, text's `key` when it holds it, a number's
    /// equality to a number key.
    static func property(of item: Value, _ key: Value) -> Lookup {
        switch (item, key) {
        case (.null, _): return .nilItem
        case (.object(let members), .string(let name)):
            return .value(members.first { $0.key == name }?.value ?? .null)
        case (.object, _): return .value(.null)
        case (.array(let items), .number(let d)):
            let i = Int(d)
            let index = i < 0 ? items.count + i : i
            return .value(index >= 0 && index < items.count ? items[index] : .null)
        case (.array, _): return .value(.null)
        case (.string(let text), .string(let needle)): return .value(text.contains(needle) ? key : .null)
        case (.string, _): return .value(.null)
        case (.number(let a), .number(let b)): return .value(.bool(a == b))
        default: return .notAnObject(item)
        }
    }

    func applyToList(_ input: Value, _ s: inout RenderState) -> Value {
        switch filter {
        case .join:
            let separator = args.isEmpty ? " " : arg(0, &s).liquidText
            guard case .array = input else { return .string(input.liquidText) }
            var total = 0
            var parts: [String] = []
            for item in Self.sequence(input) {
                let part = item.liquidText
                total += part.utf8.count + separator.utf8.count
                guard total <= s.maxBytes else { return fail("the result grew past \(s.maxBytes) bytes", &s) }
                parts.append(part)
            }
            return .string(parts.joined(separator: separator))
        case .first:
            switch input {
            case .array(let items): return items.first ?? .null
            case .object(let members): return members.first.map { .array([.string($0.key), $0.value]) } ?? .null
            case .string(let text): return text.first.map { .string(String($0)) } ?? .null
            default: return .null
            }
        case .last:
            switch input {
            case .array(let items): return items.last ?? .null
            case .string(let text): return text.last.map { .string(String($0)) } ?? .null
            default: return .null
            }
        case .size: return .number(Double(input.liquidSize ?? 0))
        case .reverse: return .array(Self.sequence(input).reversed())
        case .concat:
            let other = arg(0, &s)
            guard case .array(let tail) = other else {
                return fail("expected a list to add, found \(other.typeName) \(other.jsonText)", &s)
            }
            return .array((input.isNull ? [] : Self.sequence(input)) + tail)
        case .compact:
            let items = Self.sequence(input)
            guard let key = optionalKey(&s) else { return .array(items.filter { !$0.isNull }) }
            return .array(items.filter { !($0[key] ?? .null).isNull })
        case .uniq:
            let items = Self.sequence(input)
            let key = optionalKey(&s)
            var seen = Set<Value>()
            return .array(items.filter { item in seen.insert(key.map { item[$0] ?? .null } ?? item).inserted })
        case .map:
            var mapped: [Value] = []
            let key = Value.string(arg(0, &s).liquidText)
            for item in Self.sequence(input) {
                switch Self.property(of: item, key) {
                case .value(let v): mapped.append(v)
                case .nilItem: return .null
                case .notAnObject(let bad): return fail("cannot read `\(key.liquidText)` of \(bad.typeName) \(bad.jsonText)", &s)
                }
            }
            return .array(mapped)
        case .sort, .sortNatural: return sort(input, &s)
        case .slice: return slice(input, &s)
        case .sum:
            let key = optionalKey(&s).map(Value.string)
            var total = 0.0
            for item in Self.sequence(input) {
                var value = item
                if let key {
                    switch Self.property(of: item, key) {
                    case .value(let v): value = v
                    case .nilItem: value = .null
                    case .notAnObject(let bad):
                        return fail("cannot read \(key.jsonText) of \(bad.typeName) \(bad.jsonText)", &s)
                    }
                }
                switch value {
                case .number(let d): total += d
                case .string(let text): total += Double(text.trimmingSpaces) ?? 0
                default: break
                }
            }
            return .number(Self.tidy(total))
        case .where, .reject, .find, .findIndex, .has: return select(input, &s)
        default: return input
        }
    }

    /// Argument 0 as a property name, or nil when it is absent or nil.
    private func optionalKey(_ s: inout RenderState) -> String? {
        guard !args.isEmpty else { return nil }
        let key = arg(0, &s)
        return key.isNull ? nil : key.liquidText
    }

    /// `where`, `reject`, `find`, `find_index`, `has`: the items whose property (argument 0) equals
    /// argument 1 — or, without one (or with nil), is neither nil nor false.
    private func select(_ input: Value, _ s: inout RenderState) -> Value {
        let key = arg(0, &s)
        if filter == .reject && key.isNull { return .array([]) }
        let wanted = args.count > 1 ? arg(1, &s) : .null
        var kept: [Value] = []
        for (index, item) in Self.sequence(input).enumerated() {
            let holds: Bool
            switch Self.property(of: item, key) {
            case .value(let v): holds = wanted.isNull ? v.liquidTruthy : v == wanted
            case .nilItem: return .null
            case .notAnObject(let bad):
                return fail("cannot read \(key.jsonText) of \(bad.typeName) \(bad.jsonText)", &s)
            }
            switch filter {
            case .find where holds: return item
            case .findIndex where holds: return .number(Double(index))
            case .has where holds: return .bool(true)
            case .where where holds, .reject where !holds: kept.append(item)
            default: break
            }
        }
        switch filter {
        case .has: return .bool(false)
        case .find, .findIndex: return .null
        default: return .array(kept)
        }
    }

    /// `sort` (numbers, or text by its bytes; mixing them is an error) and `sort_natural` (as text,
    /// ignoring case); items without the property (or nil) go last.
    private func sort(_ input: Value, _ s: inout RenderState) -> Value {
        let items = Self.sequence(input)
        let key = optionalKey(&s)
        let natural = filter == .sortNatural
        var keyed: [(key: Value, item: Value)] = []
        var missing: [Value] = []
        for item in items {
            let k = key.map { item[$0] ?? .null } ?? item
            if k.isNull {
                missing.append(item)
            } else {
                keyed.append((natural ? .string(k.liquidText.lowercased()) : k, item))
            }
        }
        if !natural, let first = keyed.first {
            let comparable = keyed.allSatisfy { entry in
                switch (first.key, entry.key) {
                case (.number, .number), (.string, .string), (.bool, .bool): return true
                default: return false
                }
            }
            guard comparable else {
                let kinds = Set(keyed.map(\.key.typeName)).sorted().joined(separator: " and ")
                return fail("cannot sort \(kinds) together", &s)
            }
        }
        let sorted = keyed.enumerated().sorted { a, b in
            LiquidComparison.sortsBefore(a.element.key, b.element.key)
                || (!LiquidComparison.sortsBefore(b.element.key, a.element.key) && a.offset < b.offset)
        }
        return .array(sorted.map(\.element.item) + missing)
    }

    /// `slice: start, length`: part of a list, or of text (counting characters); start may count back
    /// from the end. Both must be whole numbers.
    private func slice(_ input: Value, _ s: inout RenderState) -> Value {
        guard let offset = wholeNumber(0, &s) else { return .null }
        var length = 1
        if args.count > 1, !arg(1, &s).isNull {
            guard let given = wholeNumber(1, &s) else { return .null }
            length = max(given, 0)
        }
        switch input {
        case .array(let items):
            guard let range = Strings.sliceRange(count: items.count, offset: offset, length: length) else { return .array([]) }
            return .array(Array(items[range]))
        default:
            let characters = Array(input.liquidText)
            guard let range = Strings.sliceRange(count: characters.count, offset: offset, length: length) else {
                return .string("")
            }
            return .string(String(characters[range]))
        }
    }
}

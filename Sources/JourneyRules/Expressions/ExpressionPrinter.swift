import JourneyCore

/// Prints a syntax tree back as expression text, with only the parentheses the grammar needs. Parsing the
/// output gives back an equal tree (`==` ignores positions); the tests check this on random trees.
enum ExpressionPrinter {
    static func print(_ syntax: Syntax) -> String {
        var out = ""
        write(syntax, into: &out)
        return out
    }

    static func write(_ syntax: Syntax, into out: inout String) {
        switch syntax.kind {
        case .number(let n): out += number(n)
        case .string(let s): out += string(s)
        case .boolean(let b): out += b ? "true" : "false"
        case .null: out += "null"
        case .duration(let span): out += span.description
        case .list(let elements):
            out += "["
            for (i, element) in elements.enumerated() {
                if i > 0 { out += ", " }
                write(element, into: &out)
            }
            out += "]"
        case .path(let root, let components):
            out += root.rawValue
            for component in components {
                switch component {
                case .key(let key) where isPlainKey(key): out += "." + key
                case .key(let key): out += "[" + string(key) + "]"
                case .index(let index): out += "[\(index)]"
                }
            }
        case .unary(.not, let operand):
            out += "not "
            writeOperand(operand, parenthesized: needsParentheses(operand, minimum: Precedence.not), into: &out)
        case .unary(.negate, let operand):
            out += "-"
            let parenthesized: Bool
            switch operand.kind {
            case .binary, .unary: parenthesized = true
            default: parenthesized = false
            }
            writeOperand(operand, parenthesized: parenthesized, into: &out)
        case .binary(let op, let left, let right):
            // Left-associative: a left child of equal precedence needs no parentheses, a right child does.
            // Comparisons do not chain, so a comparison under a comparison always gets them.
            let leftMinimum = op.isComparison ? op.precedence + 1 : op.precedence
            writeOperand(left, parenthesized: needsParentheses(left, minimum: leftMinimum, under: op), into: &out)
            out += " " + op.rawValue + " "
            writeOperand(
                right, parenthesized: needsParentheses(right, minimum: op.precedence + 1, under: op), into: &out)
        case .call(let name, let arguments):
            out += name + "("
            for (i, argument) in arguments.enumerated() {
                if i > 0 { out += ", " }
                if let label = argument.label { out += label + ": " }
                write(argument.value, into: &out)
            }
            out += ")"
        }
    }

    private static func writeOperand(_ syntax: Syntax, parenthesized: Bool, into out: inout String) {
        if parenthesized { out += "(" }
        write(syntax, into: &out)
        if parenthesized { out += ")" }
    }

    private static func needsParentheses(_ child: Syntax, minimum: Int, under parent: BinaryOperator? = nil) -> Bool {
        switch child.kind {
        case .binary(let op, _, _): return op.precedence < minimum
        // `not` reaches as far right as a comparison does, so under anything tighter than `and` it is
        // wrapped: `(not a) == b`, `a + (not b)`.
        case .unary(.not, _): return parent.map { $0.precedence > Precedence.and } ?? false
        default: return false
        }
    }

    /// Whether `key` can follow a `.` (an identifier or a keyword).
    static func isPlainKey(_ key: String) -> Bool {
        guard let first = key.utf8.first, !(first >= 48 && first <= 57) else { return false }
        return key.utf8.allSatisfy(ExpressionLexer.isIdentifierByte)
    }

    /// Numbers as the lexer reads them back: integers without a fraction, others in Swift's shortest form.
    static func number(_ n: Double) -> String {
        if n == n.rounded(.towardZero) && abs(n) < 1e15 { return String(Int64(n)) }
        return "\(n)"
    }

    /// A double-quoted string literal.
    static func string(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16, uppercase: true)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

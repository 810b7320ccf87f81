import Foundation

extension TemplatePartials {
    /// The partials of a folder: `render 'footer'` reads `_footer.liquid`, else `footer.liquid`; in an
    /// HTML part `_footer.html.liquid` and `footer.html.liquid` come first. Names may reach into
    /// subfolders (`'emails/footer'`), never out of the folder.
    ///
    /// - Parameters:
    ///   - path: the folder on disk.
    ///   - shownAs: how diagnostics name the folder (`templates`), so that errors read
    ///     `templates/_footer.liquid:3:7: …` like every other rule file.
    public static func directory(_ path: String, shownAs shown: String) -> TemplatePartials {
        let base = path.hasSuffix("/") ? String(path.dropLast()) : path
        let prefix = shown.isEmpty || shown == "." ? "" : (shown.hasSuffix("/") ? shown : shown + "/")
        return TemplatePartials(
            pattern: "\(prefix)_NAME.liquid or \(prefix)NAME.liquid",
            names: { partialNames(in: base) },
            find: { name, mode in
                guard isSafe(name) else { return nil }
                for file in candidates(name, mode) {
                    guard let data = FileManager.default.contents(atPath: base + "/" + file),
                        let text = String(validating: data, as: UTF8.self)
                    else { continue }
                    return TemplateSource(file: prefix + file, text: text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text)
                }
                return nil
            })
    }

    /// The files that may hold partial `name`, in the order they are tried.
    static func candidates(_ name: String, _ mode: TemplateMode) -> [String] {
        let (folder, stem) = split(name)
        var files = ["\(folder)_\(stem).liquid", "\(folder)\(stem).liquid"]
        if mode == .html { files = ["\(folder)_\(stem).html.liquid", "\(folder)\(stem).html.liquid"] + files }
        return files
    }

    private static func split(_ name: String) -> (folder: String, stem: String) {
        guard let slash = name.lastIndex(of: "/") else { return ("", name) }
        return (String(name[...slash]), String(name[name.index(after: slash)...]))
    }

    /// A name that stays inside the folder: no empty, `.` or `..` parts, no leading `/`.
    private static func isSafe(_ name: String) -> Bool {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        return !parts.isEmpty && parts.allSatisfy { !$0.isEmpty && !$0.hasPrefix(".") } && !name.contains("\0")
    }

    private static func partialNames(in base: String) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        var names = Set<String>()
        for file in files where file.hasSuffix(".liquid") && !file.hasPrefix(".") {
            var stem = String(file.dropLast(".liquid".count))
            if stem.hasSuffix(".html") { stem = String(stem.dropLast(".html".count)) }
            if stem.hasPrefix("_") { stem.removeFirst() }
            if !stem.isEmpty { names.insert(stem) }
        }
        return names.sorted()
    }
}

import ServiceLifecycle

extension ServiceGroup {
    /// Runs the group until it stops; a part's ``DaemonError`` comes out as it is, any other failure as
    /// a storage one (both modes' `run`).
    func runAsDaemon() async throws {
        do {
            try await run()
        } catch let error as DaemonError {
            throw error
        } catch {
            throw DaemonError("\(error)", storage: true)
        }
    }
}

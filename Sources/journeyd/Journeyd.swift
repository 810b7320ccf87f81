import ArgumentParser

@main
struct Journeyd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journeyd",
        abstract: "Customer-lifecycle journeys as code: check, test and back-test rule files; run the daemon.",
        discussion: """
            Rule directories have the layout journeyd.yaml, channels.yaml, journeys/*.yaml, templates/*, tests/*.yaml.
            Installs keep them in /etc/journeyd.
            """,
        version: "0.1.0",
        subcommands: [Check.self, Test.self, Render.self, Replay.self, Generate.self, Run.self, Reload.self, Status.self, Explain.self, Forget.self, ReportCommand.self]
    )
}

/// Exit codes shared by the commands (sysexits-style where one fits).
enum Exit {
    /// Rules or tests are invalid, or a test failed.
    static let failure = ExitCode(1)
    /// Bad input files (EX_DATAERR).
    static let dataError = ExitCode(65)
    /// Cannot read or write a file (EX_IOERR).
    static let ioError = ExitCode(74)
}

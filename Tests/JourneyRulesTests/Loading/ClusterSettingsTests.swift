import JourneyCore
import JourneyRules
import JourneyTesting
import Testing

@Suite("The cluster section of journeyd.yaml")
struct ClusterSettingsTests {
    @Test func aFullSectionIsRead() throws {
        let rules = try LoaderFixtures.load([
            "channels.yaml": RuleFixtures.defaultChannels,
            "journeyd.yaml": """
                cluster:
                  instance: web-1
                  partitions: 32
                  stream: JOURNEYD_TEST
                  nats: { url: "nats://127.0.0.1:4222", credentials_credential: nats-creds }
                  postgres: { dsn_file: /etc/journeyd/postgres.dsn }
                  lease: { ttl: 15s }
                  stall_after: 2m
                """,
        ])
        let cluster = try #require(rules.settings.daemonSettings.cluster)
        #expect(cluster.instance == "web-1" && cluster.partitions == 32 && cluster.stream == "JOURNEYD_TEST")
        #expect(cluster.natsURL == "nats://127.0.0.1:4222" && cluster.natsCredentials == .credential("nats-creds"))
        #expect(cluster.postgresDSN == .file("/etc/journeyd/postgres.dsn") && cluster.leaseTTL == .seconds(15))
        #expect(cluster.stallAfter == .minutes(2))
    }

    @Test func defaultsAndTheEmbeddedMode() throws {
        let rules = try LoaderFixtures.load([
            "channels.yaml": RuleFixtures.defaultChannels,
            "journeyd.yaml": "cluster:\n  nats: { url: \"nats://n:4222\" }\n  postgres: { dsn_credential: pg }\n",
        ])
        let cluster = try #require(rules.settings.daemonSettings.cluster)
        #expect(cluster.partitions == 64 && cluster.stream == "JOURNEYD" && cluster.leaseTTL == .seconds(5) && cluster.instance == nil)
        #expect(cluster.stallAfter == .seconds(60))
        #expect(cluster.natsCredentials == nil && cluster.postgresDSN == .credential("pg"))
        let embedded = try LoaderFixtures.load(["channels.yaml": RuleFixtures.defaultChannels, "journeyd.yaml": "# nothing\n"])
        #expect(embedded.settings.daemonSettings.cluster == nil)
    }

    @Test func mistakesAreReportedWithTheirPlace() throws {
        let (rules, lines) = try LoaderFixtures.report([
            "channels.yaml": RuleFixtures.defaultChannels,
            "journeyd.yaml": """
                cluster:
                  partition: 8
                  nats: { url: "http://x", credentials_file: a, credentials_credential: b }
                  postgres: { dsn: "postgresql://u:secret@h/db" }
                  lease: { ttl: 100ms }
                  stall_after: 500ms
                """,
        ])
        #expect(rules == nil)
        let text = lines.joined(separator: "\n")
        #expect(text.contains("cluster.partition: unknown key \"partition\"; did you mean \"partitions\"?"), "\(text)")
        #expect(text.contains("cluster.nats.url: expected a URL like nats://127.0.0.1:4222"), "\(text)")
        #expect(text.contains("give either credentials_file or credentials_credential, not both"), "\(text)")
        #expect(text.contains("cluster.postgres.dsn: unknown key \"dsn\""), "\(text)")
        #expect(!text.contains("secret"), "a DSN written inline is not echoed")
        #expect(text.contains("cluster.lease.ttl: must be from 1s to 10m"), "\(text)")
        #expect(text.contains("cluster.stall_after: must be from 1s to 1h"), "\(text)")
    }
}

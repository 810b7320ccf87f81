import JourneyCore

extension PartitionProcessor {
    /// What a stopping processor still waits for (on its thread): touches staged until a sync covers
    /// their `attempting` record, touches with the dispatcher, and the log's read and durable positions.
    var stopPending: String {
        let first = staged.first.map { " (the first under log record \($0.sequence))" } ?? ""
        return "\(staged.count) batches of touches staged\(first), \(inFlight.count) touches with the dispatcher, "
            + "log read up to \(log.lastSequence), durable up to \(log.durableSequence)"
    }
}

import JourneyCore
import Synchronization
import Testing

/// The connections the daemon's listeners hold together.
@Suite("Connection budget")
struct ConnectionBudgetTests {
    @Test func aSpentBudgetTellsItsListenersOnceWhenRoomIsMadeAgain() {
        let budget = ConnectionBudget(descriptorLimit: 8)  // half of a small limit: 4 connections
        #expect(budget.capacity == 4)
        let told = Atomic<Int>(0)
        budget.whenRoom { told.add(1, ordering: .relaxed) }
        for _ in 0..<5 { budget.opened() }  // one past the capacity (a listener may overshoot a little)
        #expect(!budget.hasRoom)
        budget.closed()
        #expect(!budget.hasRoom && told.load(ordering: .relaxed) == 0, "still full: nobody told")
        budget.closed()
        #expect(budget.hasRoom && budget.count == 3)
        #expect(told.load(ordering: .relaxed) == 1)
        budget.closed()
        #expect(told.load(ordering: .relaxed) == 1, "told when room is made, not at every close")
        budget.opened()
        budget.closed()
        #expect(told.load(ordering: .relaxed) == 1)
    }

    @Test func aListenerOfItsOwnKeepsItsCapacity() {
        let budget = ConnectionBudget(capacity: 16, descriptorLimit: 1024)
        #expect(budget.capacity == 16 && budget.descriptorLimit == 1024 && !budget.isFromDescriptorLimit)
        #expect(ConnectionBudget(descriptorLimit: 1024).isFromDescriptorLimit)
    }
}

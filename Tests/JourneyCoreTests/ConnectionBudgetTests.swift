import JourneyCore
import Synchronization
import Testing

/// The connections the daemon's listeners hold together.
@Suite("Connection budget")
struct ConnectionBudgetTests {
    @Test func aSpentBudgetTellsItsListenersOnceWhenRoomIsMadeAgain() {
        let budget = ConnectionBudget(descriptorLimit: 20, inUse: 0)  // 20 less the headroom (16): 4 connections
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

    /// A limit whose half is less than the daemon's own files leaves those and some headroom, not half:
    /// out of descriptors, libdispatch ends the process (it reads /proc to watch its threads).
    @Test func theReserveIsNeverLessThanTheDaemonsOwnFilesAndSomeHeadroom() {
        #expect(ConnectionBudget(descriptorLimit: 48, inUse: 0).capacity == 24)  // half
        #expect(ConnectionBudget(descriptorLimit: 48, inUse: 28).capacity == 48 - 28 - ConnectionBudget.headroom)
        #expect(ConnectionBudget(descriptorLimit: 48, inUse: 40).capacity == 1, "never none: one producer at a time")
        #expect(ConnectionBudget(descriptorLimit: 1024, inUse: 28).capacity == 768, "a large limit's reserve covers them")
        #expect(ConnectionBudget.descriptorsInUse() >= 3, "this process holds stdin, stdout and stderr at least")
    }

    @Test func aListenerOfItsOwnKeepsItsCapacity() {
        let budget = ConnectionBudget(capacity: 16, descriptorLimit: 1024)
        #expect(budget.capacity == 16 && budget.descriptorLimit == 1024 && !budget.isFromDescriptorLimit)
        #expect(ConnectionBudget(descriptorLimit: 1024).isFromDescriptorLimit)
    }
}

import Synchronization
import Testing
@testable import Spindle

/// A job reference that only carries a number: the value shifted left by two, so the tag bits
/// (1: heap job, 2: spawn record) stay 0. These references are never executed.
private func ref(_ value: Int) -> JobRef { JobRef(bits: UInt(value) << 2) }
private func value(_ job: JobRef) -> Int { Int(job.bits >> 2) }

@Suite("primitives")
struct PrimitivesTests {
    // MARK: JobRef

    @Test("JobRef tells its kinds apart by the two low bits")
    func jobRefTagging() {
        #expect(!ref(21).isHeap)
        #expect(!ref(21).isSpawnRecord)
        #expect(JobRef(bits: 0x41).isHeap)
        #expect(!JobRef(bits: 0x41).isSpawnRecord)
        #expect(JobRef(bits: 0x42).isSpawnRecord)
        #expect(!JobRef(bits: 0x42).isHeap)
        #expect(ref(21) == JobRef(bits: 84))
        #expect(value(ref(123_456)) == 123_456)
    }

    // MARK: WorkStealingDeque

    @Test("deque: the owner pops last-in first-out")
    func dequePopIsLIFO() {
        let deque = WorkStealingDeque<JobRef>()
        #expect(deque.pop() == nil)
        #expect(deque.isProbablyEmpty)
        for i in 1...5 { deque.push(ref(i)) }
        #expect(deque.approximateCount == 5)
        #expect(!deque.isProbablyEmpty)
        var popped: [Int] = []
        while let job = deque.pop() { popped.append(value(job)) }
        #expect(popped == [5, 4, 3, 2, 1])
        #expect(deque.pop() == nil)
        #expect(deque.steal() == nil)
        #expect(deque.isProbablyEmpty)
    }

    @Test("deque: thieves steal first-in first-out")
    func dequeStealIsFIFO() {
        let deque = WorkStealingDeque<JobRef>()
        #expect(deque.steal() == nil)
        for i in 1...5 { deque.push(ref(i)) }
        var stolen: [Int] = []
        while let job = deque.steal() { stolen.append(value(job)) }
        #expect(stolen == [1, 2, 3, 4, 5])
        #expect(deque.pop() == nil)
    }

    @Test("deque: pop and steal take from opposite ends")
    func dequeMixed() {
        let deque = WorkStealingDeque<JobRef>()
        for i in 0..<6 { deque.push(ref(i)) }
        #expect(deque.steal().map(value) == 0)
        #expect(deque.pop().map(value) == 5)
        #expect(deque.steal().map(value) == 1)
        #expect(deque.pop().map(value) == 4)
        deque.push(ref(9))
        #expect(deque.pop().map(value) == 9)
        #expect(deque.steal().map(value) == 2)
        #expect(deque.pop().map(value) == 3)
        #expect(deque.pop() == nil)
        #expect(deque.steal() == nil)
        // Usable again after running empty.
        deque.push(ref(7))
        #expect(deque.steal().map(value) == 7)
        #expect(deque.pop() == nil)
    }

    @Test("deque: grows past its initial capacity and keeps every item")
    func dequeGrowth() {
        let deque = WorkStealingDeque<JobRef>(capacity: 4)
        for i in 0..<10_000 { deque.push(ref(i)) }
        #expect(deque.approximateCount == 10_000)
        // A few from the top, the rest from the bottom.
        for i in 0..<100 { #expect(deque.steal().map(value) == i) }
        var expected = 9_999
        var mismatches = 0
        while let job = deque.pop() {
            if value(job) != expected { mismatches += 1 }
            expected -= 1
        }
        #expect(mismatches == 0)
        #expect(expected == 99)
    }

    @Test("deque: growth while the ring has wrapped around keeps FIFO order for thieves")
    func dequeGrowthAfterWrap() {
        let deque = WorkStealingDeque<JobRef>(capacity: 8)
        var next = 0
        var expectedSteal = 0
        // Advance top and bottom so that the live items wrap around the ring, then grow it.
        for _ in 0..<5 {
            for _ in 0..<6 { deque.push(ref(next)); next += 1 }
            for _ in 0..<5 {
                #expect(deque.steal().map(value) == expectedSteal)
                expectedSteal += 1
            }
        }
        for _ in 0..<40 { deque.push(ref(next)); next += 1 }
        var stolen: [Int] = []
        while let job = deque.steal() { stolen.append(value(job)) }
        #expect(stolen == Array(expectedSteal..<next))
    }

    @Test("deque: one owner pushing and popping against 4 thieves; every value is taken exactly once")
    func dequeConcurrent() {
        let total = 100_000
        let deque = WorkStealingDeque<JobRef>(capacity: 16)  // small, so it grows while thieves steal
        let taken = OnceTracker(count: total)
        let stolenCount = Counter()
        let ownerDone = Flag()
        let thieves = (0..<4).map { _ in
            TestThread.start {
                while true {
                    if let job = deque.steal() {
                        taken.mark(value(job))
                        stolenCount.add()
                    } else if ownerDone.isSet {
                        // The owner emptied the deque before setting the flag.
                        if let job = deque.steal() {
                            taken.mark(value(job))
                            stolenCount.add()
                            continue
                        }
                        break
                    } else {
                        yieldThread()
                    }
                }
            }
        }
        // The owner (this thread): push everything, popping every third time, then drain.
        for i in 0..<total {
            deque.push(ref(i))
            if i % 3 == 2, let job = deque.pop() { taken.mark(value(job)) }
        }
        while let job = deque.pop() { taken.mark(value(job)) }
        ownerDone.set()
        for thief in thieves { thief.join() }

        #expect(taken.total == total)
        #expect(taken.duplicates == 0)
        #expect(taken.invalid == 0)
        #expect(taken.missing == 0)
        #expect(deque.steal() == nil)
        #expect(deque.pop() == nil)
    }

    @Test("deque: thieves racing the owner for the last item; exactly one wins each round")
    func dequeLastItemRace() {
        let rounds = 5_000
        let deque = WorkStealingDeque<JobRef>()
        let taken = OnceTracker(count: rounds)
        let round = Counter(-1)
        let finishedRound = Counter()
        let thief = TestThread.start {
            var seen = -1
            while seen < rounds - 1 {
                let current = round.value
                if current == seen { yieldThread(); continue }
                seen = current
                if let job = deque.steal() { taken.mark(value(job)) }
                finishedRound.add()
            }
        }
        for r in 0..<rounds {
            deque.push(ref(r))
            round.store(r)
            if let job = deque.pop() { taken.mark(value(job)) }
            // Wait until the thief tried this round, so rounds do not mix.
            while finishedRound.value <= r { yieldThread() }
        }
        thief.join()
        #expect(taken.total == rounds)
        #expect(taken.duplicates == 0)
        #expect(taken.missing == 0)
    }

    // MARK: Injector

    @Test("injector: first in, first out")
    func injectorFIFO() {
        let injector = Injector<JobRef>()
        #expect(injector.isEmpty)
        #expect(injector.pop() == nil)
        for i in 0..<10 { injector.push(ref(i)) }
        #expect(injector.count == 10)
        #expect(!injector.isEmpty)
        var popped: [Int] = []
        while let job = injector.pop() { popped.append(value(job)) }
        #expect(popped == Array(0..<10))
        #expect(injector.isEmpty)
        #expect(injector.count == 0)
    }

    @Test("injector: stays FIFO across its internal compaction")
    func injectorCompaction() {
        let injector = Injector<JobRef>()
        for i in 0..<3_000 { injector.push(ref(i)) }
        for i in 0..<2_000 { #expect(injector.pop().map(value) == i) }
        for i in 3_000..<4_000 { injector.push(ref(i)) }
        #expect(injector.count == 2_000)
        var popped: [Int] = []
        while let job = injector.pop() { popped.append(value(job)) }
        #expect(popped == Array(2_000..<4_000))
    }

    @Test("injector: pop(where:) takes the oldest match and leaves the rest in order")
    func injectorPopWhere() {
        let injector = Injector<JobRef>()
        #expect(injector.pop(where: { _ in true }) == nil)
        for i in 0..<10 { injector.push(ref(i)) }
        _ = injector.pop()  // 0: the head has moved
        #expect(injector.pop(where: { value($0) % 3 == 2 }).map(value) == 2)
        #expect(injector.pop(where: { value($0) % 3 == 2 }).map(value) == 5)
        #expect(injector.pop(where: { value($0) > 100 }) == nil)
        #expect(injector.count == 7)
        var rest: [Int] = []
        while let job = injector.pop() { rest.append(value(job)) }
        #expect(rest == [1, 3, 4, 6, 7, 8, 9])
    }

    @Test("injector: concurrent producers and consumers; every item taken exactly once")
    func injectorConcurrent() {
        let perProducer = 10_000
        let producers = 3
        let injector = Injector<JobRef>()
        let taken = OnceTracker(count: perProducer * producers)
        let producersDone = Counter()
        runOnThreads(producers + 2) { t in
            if t < producers {
                for i in 0..<perProducer { injector.push(ref(t * perProducer + i)) }
                producersDone.add()
            } else {
                while true {
                    if let job = injector.pop() {
                        taken.mark(value(job))
                    } else if producersDone.value == producers {
                        if let job = injector.pop() { taken.mark(value(job)); continue }
                        break
                    } else {
                        yieldThread()
                    }
                }
            }
        }
        #expect(taken.total == perProducer * producers)
        #expect(taken.duplicates == 0)
        #expect(taken.missing == 0)
    }

    // MARK: CountLatch

    @Test("count latch: released only after the owner's token and every piece are done")
    func countLatchSequential() {
        let parker = Parker()
        defer { parker.deallocate() }
        let latch = CountLatch(ownerParker: parker)
        #expect(!latch.isReleased)
        for _ in 0..<3 { latch.increment() }
        latch.decrement()
        latch.decrement()
        #expect(!latch.isReleased)
        latch.decrement()  // the last piece
        #expect(!latch.isReleased)  // the owner's token is still held
        latch.decrement()  // the owner's token
        #expect(latch.isReleased)
    }

    @Test("count latch: concurrent decrements; the parked owner wakes once all are done")
    func countLatchConcurrent() {
        let pieces = 64
        let parker = Parker()
        defer { parker.deallocate() }
        let latch = CountLatch(ownerParker: parker)
        for _ in 0..<pieces { latch.increment() }
        let done = Counter()
        let go = TestSemaphore()
        let workers = (0..<4).map { _ in
            TestThread.start {
                go.wait()
                for _ in 0..<(pieces / 4) {
                    done.add()
                    latch.decrement()
                }
            }
        }
        latch.decrement()  // the owner's token: only the pieces hold the latch now
        #expect(!latch.isReleased)
        go.signal(4)
        while !latch.isReleased {
            latch.parkOwner(timeoutNanoseconds: 1_000_000_000)
        }
        // Released implies every piece has finished (and its effects are visible).
        #expect(done.value == pieces)
        for worker in workers { worker.join() }
        #expect(latch.isReleased)
    }

    // MARK: OneShotEvent

    @Test("one-shot event: wakes every waiter, and later waiters return at once")
    func oneShotEventWakesAll() {
        let event = OneShotEvent()
        #expect(!event.isSet)
        let arrived = Counter()
        let woken = Counter()
        let waiters = (0..<4).map { _ in
            TestThread.start {
                arrived.add()
                event.wait()
                woken.add()
            }
        }
        // Give the waiters the chance to go to sleep (correctness does not depend on it).
        _ = waitUntil { arrived.value == 4 }
        sleepMilliseconds(20)
        #expect(woken.value == 0)
        event.set()
        for waiter in waiters { waiter.join() }
        #expect(woken.value == 4)
        #expect(event.isSet)
        event.wait()  // already set: returns at once
        event.set()  // setting twice is harmless
        #expect(event.isSet)
    }

    @Test("one-shot event publishes what was written before set()")
    func oneShotEventPublishes() {
        final class Payload: @unchecked Sendable {  // written before `set()`, read after `wait()`
            var value = 0
        }
        for _ in 0..<200 {
            let event = OneShotEvent()
            let payload = Payload()
            let result = Counter()
            let reader = TestThread.start {
                event.wait()
                result.add(payload.value)
            }
            payload.value = 42
            event.set()
            reader.join()
            #expect(result.value == 42)
        }
    }

    // MARK: FutexLock

    @Test("futex lock: mutual exclusion under contention")
    func futexLockExcludes() {
        final class Box: @unchecked Sendable {  // `value` is only touched under `lock`
            let lock = FutexLock()
            var value = 0
        }
        let box = Box()
        let perThread = 20_000
        runOnThreads(4) { _ in
            for _ in 0..<perThread {
                box.lock.withLock { box.value += 1 }
            }
        }
        #expect(box.lock.withLock { box.value } == 4 * perThread)
    }

    // MARK: Parker

    @Test("parker: an unpark between prepare() and park() is not lost")
    func parkerNoLostWakeUp() {
        let parker = Parker()
        defer { parker.deallocate() }
        let ticket = parker.prepare()
        parker.unpark()
        parker.park(ticket: ticket)  // returns at once: the ticket is stale
        // An unpark from another thread, whether it lands before or during park().
        let next = parker.prepare()
        let other = TestThread.start { parker.unpark() }
        parker.park(ticket: next)
        other.join()
        #expect(parker.prepare() == ticket &+ 2)
    }
}

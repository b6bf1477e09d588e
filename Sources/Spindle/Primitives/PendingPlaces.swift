import Synchronization

/// The places of a bounded waiting room (`maxPending`: background jobs accepted but not yet
/// started) and the submitters waiting for one.
///
/// A place is held as a `PendingPlace` token, which gives it back exactly once: when the token's
/// life ends. Whoever decides that a job leaves the waiting room (the thread that starts it, or
/// the one that cancels it) ends the token; nobody counts by hand.
///
/// Protocol with the waiters (no lost wake-up, see `CapacityWaiters`): giving back decrements
/// `taken` *then* looks for waiters; a waiter registers *then* reads `taken` — both sequentially
/// consistent.
final class PendingPlaces: @unchecked Sendable {  // `taken` is atomic; `waiters` synchronises itself
    /// The bound, or nil for none (places are then still counted, for the metrics).
    let bound: Int?
    /// Places taken now.
    private let taken = Atomic<Int>(0)
    /// Async submitters waiting for a place.
    let waiters = CapacityWaiters()

    init(bound: Int?) { self.bound = bound }

    /// Places taken now (racy; for metrics and admission checks).
    var count: Int { taken.load(ordering: .sequentiallyConsistent) }  // pairs with `giveBack`

    /// Whether every place is taken (read after registering as a waiter).
    var isFull: Bool {
        guard let bound else { return false }
        return count >= bound
    }

    /// Takes a place if one is free: the check and the increment are one compare-and-swap, so
    /// concurrent takes never exceed the bound.
    func take() -> PendingPlace? {
        guard let bound else {
            taken.wrappingAdd(1, ordering: .relaxed)  // a count only, without a bound
            return PendingPlace(places: self)
        }
        var seen = taken.load(ordering: .relaxed)
        while true {
            if seen >= bound { return nil }
            // Relaxed: a count; the job itself is published by the queue's lock.
            let (exchanged, current) = taken.compareExchange(expected: seen, desired: seen + 1, ordering: .relaxed)
            if exchanged { return PendingPlace(places: self) }
            seen = current
        }
    }

    /// Gives back a place whose token was ended with `PendingPlace.keep()`: once per kept place.
    func giveBackKept() { giveBack() }

    /// Called by `PendingPlace.deinit` and `giveBackKept` only.
    fileprivate func giveBack() {
        taken.subtract(1, ordering: .sequentiallyConsistent)  // before `wakeOne`'s read (see above)
        waiters.wakeOne()
    }
}

/// One taken place of a `PendingPlaces`: ending its life (dropping it, setting an optional that
/// holds it to nil, or `giveBack()`) gives the place back, exactly once. Not copyable, so it
/// cannot be given back twice.
struct PendingPlace: ~Copyable, Sendable {
    private let places: PendingPlaces
    /// Set by `keep()` only: the place stays taken when the token ends.
    private var kept = false

    fileprivate init(places: PendingPlaces) { self.places = places }

    /// Gives the place back now (the same as dropping the token; says so at the call site).
    consuming func giveBack() {}

    /// Ends the token *without* giving the place back: the caller takes over that duty and
    /// calls `PendingPlaces.giveBackKept()` exactly once (an async scope task, as it ends,
    /// where a token would cost an allocation of its own to carry).
    consuming func keep() { kept = true }  // then the token's life ends here

    deinit { if !kept { places.giveBack() } }
}

import Synchronization

/// Cancellation that flows from Swift tasks into the work they start (Scheduler/README.md §7).
///
/// Every call tree on a pool has one *root*: the participant that made its family (an outside
/// caller's `join`/`scope`/loop, a background job, a Swift job of a task that prefers the pool).
/// The root knows where its cancellation comes from: the `run` call it serves
/// (`Participant.rootCancellation`, set by `RunJob`), or else the Swift task whose thread it is.
/// The first time the root makes work of its family stealable, it lists that source in
/// `Registry.sharedCancellation` under the family's number; a thief running a job of that family
/// looks it up there (once per family: the participant caches the answer). The root removes the
/// entry when the family ends, which is after every job of the family has finished.

/// What `beginRootFamily` replaced, restored by `endRootFamily`.
struct SavedRoot {
    let family: Int
    let familyRoot: Int
    let rootCancellation: CancellationSource?
    let checkedCancellationFamily: Int
    let sharedCancellationFamily: Int
}

extension Registry {
    /// Makes `me` the root of a new family (and returns what to restore when it ends).
    func beginRootFamily(on me: LivePointer<Participant>, cancellation: CancellationSource? = nil) -> SavedRoot {
        Participant.assertOwned(me)
        let saved = SavedRoot(
            family: me.pointee.family, familyRoot: me.pointee.familyRoot,
            rootCancellation: me.pointee.rootCancellation,
            checkedCancellationFamily: me.pointee.checkedCancellationFamily,
            sharedCancellationFamily: me.pointee.sharedCancellationFamily)
        let family = makeFamily()
        me.pointee.family = family
        me.pointee.familyRoot = family
        me.pointee.rootCancellation = cancellation
        return saved
    }

    /// Ends the family `me` is the root of: withdraws its shared cancellation source, if it
    /// shared one, and restores the enclosing family.
    func endRootFamily(on me: LivePointer<Participant>, restoring saved: SavedRoot) {
        Participant.assertOwned(me)
        let family = me.pointee.familyRoot
        if me.pointee.sharedCancellationFamily == family {
            _ = sharedCancellation.withLock { $0.removeValue(forKey: family) }
        }
        me.pointee.family = saved.family
        me.pointee.familyRoot = saved.familyRoot
        // Usually both are nil (an outside thread's join): skip the assignment, which the
        // compiler emits as a copy through the optional's metadata.
        if saved.rootCancellation != nil || me.pointee.rootCancellation != nil {
            me.pointee.rootCancellation = saved.rootCancellation
        }
        me.pointee.checkedCancellationFamily = saved.checkedCancellationFamily
        me.pointee.sharedCancellationFamily = saved.sharedCancellationFamily
    }

    /// Called before `me` makes work of its family stealable: a root lists its cancellation
    /// source (once per family) before any thief can run that work, so that thieves find it.
    /// Costs two comparisons after the first time.
    func shareCancellationSource(of me: LivePointer<Participant>) {
        Participant.assertOwned(me)
        let family = me.pointee.family
        guard family == me.pointee.familyRoot, me.pointee.checkedCancellationFamily != family else { return }
        me.pointee.checkedCancellationFamily = family
        guard let source = me.pointee.rootCancellation ?? CancellationSource.currentTask else { return }
        // The lock's release, then the publishing push of the job, order the entry before any
        // thief's lookup.
        sharedCancellation.withLock { $0[family] = source }
        me.pointee.sharedCancellationFamily = family
    }

    /// Whether the call tree that the code running on `me` belongs to was cancelled.
    func isCancelled(on me: LivePointer<Participant>) -> Bool {
        Participant.assertOwned(me)
        let family = me.pointee.family
        if family == me.pointee.familyRoot {
            // The root itself: its `run` call, or the task whose thread this is.
            if let source = me.pointee.rootCancellation { return source.isCancelled }
            return Task.isCancelled
        }
        if me.pointee.cachedCancellationFamily != family {
            // A job of another participant's family: the source its root shared, if any. The
            // entry outlives the job (the root removes it after every job of the family ran).
            me.pointee.cachedCancellation = sharedCancellation.withLock { $0[family] }
            me.pointee.cachedCancellationFamily = family
        }
        return me.pointee.cachedCancellation?.isCancelled ?? false
    }
}

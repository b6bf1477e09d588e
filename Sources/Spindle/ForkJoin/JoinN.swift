import Synchronization

/// N-way joins: 3 to 8 closures, each with its own result type.
///
/// Fast path, as for the binary join: one look at the heartbeat flag and the offer window, then
/// every closure runs in order on the calling thread (no allocation, no atomic read-modify-write,
/// one depth update for all of them). When the join is offered, every closure after the first
/// gets a `StackJob` in the pending list (one type-erased branch runner for all of them, so one
/// allocation per offered join, as for a binary one), and they are taken back newest first.
///
/// Why fixed arities rather than a parameter pack: in Swift 6.3 a closure passed as an element
/// of a parameter pack is formed as an escaping closure at the call site (its context is
/// heap-allocated on every call: `swift_allocObject` in the caller, checked with objdump), which
/// would put an allocation on the join fast path. Eight closures cover the usual fan-outs
/// (micropool's `join_all` stops at eight too).

extension ThreadPool {

    /// Runs 3 closures, potentially in parallel, and returns all results; as the binary `join`:
    /// the first runs on the calling thread, the others are offered to other threads.
    ///
    /// ```swift
    /// let (p0, p1, p2) = pool.join({ part(0) }, { part(1) }, { part(2) })
    /// ```
    /// - Throws: the first error in argument order, after every closure has finished.
    @inlinable
    @inline(__always)
    public func join<A, B: Sendable, C: Sendable, E: Error>(
        _ a: () throws(E) -> A,
        _ b: @Sendable () throws(E) -> B,
        _ c: @Sendable () throws(E) -> C
    ) throws(E) -> (A, B, C) {
        guard let me = Participant.current(in: registryID) else {
            return try _joinAsOutsider(a, b, c)
        }
        // Relaxed: the flag carries no data (set by the heartbeat thread).
        if _slowPath(me.pointee.heartbeat.load(ordering: .relaxed)) {
            ThreadPool._promotePendingJob(on: me)
        }
        let depth = me.pointee.joinDepth
        if _fastPath(depth > me.pointee.offerDepthLimit) {
            me.pointee.joinDepth = depth &+ 1
                let ra = Result(catching: a)
                let rb = Result(catching: b)
                let rc = Result(catching: c)
            me.pointee.joinDepth = depth
            return (try ra.get(), try rb.get(), try rc.get())
        }
        return try ThreadPool._joinOffering(on: me, depth: depth, a, b, c)
    }

    @inlinable
    @inline(never)
    func _joinAsOutsider<A, B: Sendable, C: Sendable, E: Error>(
        _ a: () throws(E) -> A,
        _ b: @Sendable () throws(E) -> B,
        _ c: @Sendable () throws(E) -> C
    ) throws(E) -> (A, B, C) {
        let entry = _enterAsOutsider()
        defer { _exitAsOutsider(entry) }
        return try join(a, b, c)
    }

    @inlinable
    @inline(never)
    static func _joinOffering<A, B: Sendable, C: Sendable, E: Error>(
        on me: UnsafeMutablePointer<Participant>, depth: Int,
        _ a: () throws(E) -> A,
        _ b: @Sendable () throws(E) -> B,
        _ c: @Sendable () throws(E) -> C
    ) throws(E) -> (A, B, C) {
        var slots: (Result<B, E>?, Result<C, E>?) = (nil, nil)
        // Each branch writes only its own slot (through a pointer, so nothing is boxed); a thief's
        // releasing exchange on its job's `done`
        // (read acquiring when the owner collects the job) publishes the write.
        let ra: Result<A, E> = withUnsafeMutablePointer(to: &slots) { results in
            withoutActuallyEscaping({ (k: Int) in
                switch k {
                case 0: results.pointee.0 = Result(catching: b)
                default: results.pointee.1 = Result(catching: c)
                }
            }, do: { runBranch in
                withUnsafePointer(to: runBranch) { run in
                    _offerBranches(on: me, depth: depth, count: 2, run: run, a)
                }
            })
        }
        return (try ra.get(), try slots.0.unsafelyUnwrapped.get(), try slots.1.unsafelyUnwrapped.get())
    }

    /// Runs 4 closures, potentially in parallel, and returns all results; as the binary `join`:
    /// the first runs on the calling thread, the others are offered to other threads.
    ///
    /// ```swift
    /// let (p0, p1, p2, p3) = pool.join({ part(0) }, { part(1) }, { part(2) }, { part(3) })
    /// ```
    /// - Throws: the first error in argument order, after every closure has finished.
    @inlinable
    @inline(__always)
    public func join<A, B: Sendable, C: Sendable, D: Sendable, E: Error>(
        _ a: () throws(E) -> A,
        _ b: @Sendable () throws(E) -> B,
        _ c: @Sendable () throws(E) -> C,
        _ d: @Sendable () throws(E) -> D
    ) throws(E) -> (A, B, C, D) {
        guard let me = Participant.current(in: registryID) else {
            return try _joinAsOutsider(a, b, c, d)
        }
        // Relaxed: the flag carries no data (set by the heartbeat thread).
        if _slowPath(me.pointee.heartbeat.load(ordering: .relaxed)) {
            ThreadPool._promotePendingJob(on: me)
        }
        let depth = me.pointee.joinDepth
        if _fastPath(depth > me.pointee.offerDepthLimit) {
            me.pointee.joinDepth = depth &+ 1
                let ra = Result(catching: a)
                let rb = Result(catching: b)
                let rc = Result(catching: c)
                let rd = Result(catching: d)
            me.pointee.joinDepth = depth
            return (try ra.get(), try rb.get(), try rc.get(), try rd.get())
        }
        return try ThreadPool._joinOffering(on: me, depth: depth, a, b, c, d)
    }

    @inlinable
    @inline(never)
    func _joinAsOutsider<A, B: Sendable, C: Sendable, D: Sendable, E: Error>(
        _ a: () throws(E) -> A,
        _ b: @Sendable () throws(E) -> B,
        _ c: @Sendable () throws(E) -> C,
        _ d: @Sendable () throws(E) -> D
    ) throws(E) -> (A, B, C, D) {
        let entry = _enterAsOutsider()
        defer { _exitAsOutsider(entry) }
        return try join(a, b, c, d)
    }

    @inlinable
    @inline(never)
    static func _joinOffering<A, B: Sendable, C: Sendable, D: Sendable, E: Error>(
        on me: UnsafeMutablePointer<Participant>, depth: Int,
        _ a: () throws(E) -> A,
        _ b: @Sendable () throws(E) -> B,
        _ c: @Sendable () throws(E) -> C,
        _ d: @Sendable () throws(E) -> D
    ) throws(E) -> (A, B, C, D) {
        var slots: (Result<B, E>?, Result<C, E>?, Result<D, E>?) = (nil, nil, nil)
        // Each branch writes only its own slot (through a pointer, so nothing is boxed); a thief's
        // releasing exchange on its job's `done`
        // (read acquiring when the owner collects the job) publishes the write.
        let ra: Result<A, E> = withUnsafeMutablePointer(to: &slots) { results in
            withoutActuallyEscaping({ (k: Int) in
                switch k {
                case 0: results.pointee.0 = Result(catching: b)
                case 1: results.pointee.1 = Result(catching: c)
                default: results.pointee.2 = Result(catching: d)
                }
            }, do: { runBranch in
                withUnsafePointer(to: runBranch) { run in
                    _offerBranches(on: me, depth: depth, count: 3, run: run, a)
                }
            })
        }
        return (try ra.get(), try slots.0.unsafelyUnwrapped.get(), try slots.1.unsafelyUnwrapped.get(), try slots.2.unsafelyUnwrapped.get())
    }

    /// Runs 5 closures, potentially in parallel, and returns all results; as the binary `join`:
    /// the first runs on the calling thread, the others are offered to other threads.
    ///
    /// ```swift
    /// let (p0, p1, p2, p3, p4) = pool.join({ part(0) }, { part(1) }, { part(2) }, { part(3) }, { part(4) })
    /// ```
    /// - Throws: the first error in argument order, after every closure has finished.
    @inlinable
    @inline(__always)
    public func join<A, B: Sendable, C: Sendable, D: Sendable, F: Sendable, E: Error>(
        _ a: () throws(E) -> A,
        _ b: @Sendable () throws(E) -> B,
        _ c: @Sendable () throws(E) -> C,
        _ d: @Sendable () throws(E) -> D,
        _ e: @Sendable () throws(E) -> F
    ) throws(E) -> (A, B, C, D, F) {
        guard let me = Participant.current(in: registryID) else {
            return try _joinAsOutsider(a, b, c, d, e)
        }
        // Relaxed: the flag carries no data (set by the heartbeat thread).
        if _slowPath(me.pointee.heartbeat.load(ordering: .relaxed)) {
            ThreadPool._promotePendingJob(on: me)
        }
        let depth = me.pointee.joinDepth
        if _fastPath(depth > me.pointee.offerDepthLimit) {
            me.pointee.joinDepth = depth &+ 1
                let ra = Result(catching: a)
                let rb = Result(catching: b)
                let rc = Result(catching: c)
                let rd = Result(catching: d)
                let re = Result(catching: e)
            me.pointee.joinDepth = depth
            return (try ra.get(), try rb.get(), try rc.get(), try rd.get(), try re.get())
        }
        return try ThreadPool._joinOffering(on: me, depth: depth, a, b, c, d, e)
    }

    @inlinable
    @inline(never)
    func _joinAsOutsider<A, B: Sendable, C: Sendable, D: Sendable, F: Sendable, E: Error>(
        _ a: () throws(E) -> A,
        _ b: @Sendable () throws(E) -> B,
        _ c: @Sendable () throws(E) -> C,
        _ d: @Sendable () throws(E) -> D,
        _ e: @Sendable () throws(E) -> F
    ) throws(E) -> (A, B, C, D, F) {
        let entry = _enterAsOutsider()
        defer { _exitAsOutsider(entry) }
        return try join(a, b, c, d, e)
    }

    @inlinable
    @inline(never)
    static func _joinOffering<A, B: Sendable, C: Sendable, D: Sendable, F: Sendable, E: Error>(
        on me: UnsafeMutablePointer<Participant>, depth: Int,
        _ a: () throws(E) -> A,
        _ b: @Sendable () throws(E) -> B,
        _ c: @Sendable () throws(E) -> C,
        _ d: @Sendable () throws(E) -> D,
        _ e: @Sendable () throws(E) -> F
    ) throws(E) -> (A, B, C, D, F) {
        var slots: (Result<B, E>?, Result<C, E>?, Result<D, E>?, Result<F, E>?) = (nil, nil, nil, nil)
        // Each branch writes only its own slot (through a pointer, so nothing is boxed); a thief's
        // releasing exchange on its job's `done`
        // (read acquiring when the owner collects the job) publishes the write.
        let ra: Result<A, E> = withUnsafeMutablePointer(to: &slots) { results in
            withoutActuallyEscaping({ (k: Int) in
                switch k {
                case 0: results.pointee.0 = Result(catching: b)
                case 1: results.pointee.1 = Result(catching: c)
                case 2: results.pointee.2 = Result(catching: d)
                default: results.pointee.3 = Result(catching: e)
                }
            }, do: { runBranch in
                withUnsafePointer(to: runBranch) { run in
                    _offerBranches(on: me, depth: depth, count: 4, run: run, a)
                }
            })
        }
        return (try ra.get(), try slots.0.unsafelyUnwrapped.get(), try slots.1.unsafelyUnwrapped.get(), try slots.2.unsafelyUnwrapped.get(), try slots.3.unsafelyUnwrapped.get())
    }

    /// Runs 6 closures, potentially in parallel, and returns all results; as the binary `join`:
    /// the first runs on the calling thread, the others are offered to other threads.
    ///
    /// ```swift
    /// let (p0, p1, p2, p3, p4, p5) = pool.join({ part(0) }, { part(1) }, { part(2) }, { part(3) }, { part(4) }, { part(5) })
    /// ```
    /// - Throws: the first error in argument order, after every closure has finished.
    @inlinable
    @inline(__always)
    public func join<A, B: Sendable, C: Sendable, D: Sendable, F: Sendable, G: Sendable, E: Error>(
        _ a: () throws(E) -> A,
        _ b: @Sendable () throws(E) -> B,
        _ c: @Sendable () throws(E) -> C,
        _ d: @Sendable () throws(E) -> D,
        _ e: @Sendable () throws(E) -> F,
        _ f: @Sendable () throws(E) -> G
    ) throws(E) -> (A, B, C, D, F, G) {
        guard let me = Participant.current(in: registryID) else {
            return try _joinAsOutsider(a, b, c, d, e, f)
        }
        // Relaxed: the flag carries no data (set by the heartbeat thread).
        if _slowPath(me.pointee.heartbeat.load(ordering: .relaxed)) {
            ThreadPool._promotePendingJob(on: me)
        }
        let depth = me.pointee.joinDepth
        if _fastPath(depth > me.pointee.offerDepthLimit) {
            me.pointee.joinDepth = depth &+ 1
                let ra = Result(catching: a)
                let rb = Result(catching: b)
                let rc = Result(catching: c)
                let rd = Result(catching: d)
                let re = Result(catching: e)
                let rf = Result(catching: f)
            me.pointee.joinDepth = depth
            return (try ra.get(), try rb.get(), try rc.get(), try rd.get(), try re.get(), try rf.get())
        }
        return try ThreadPool._joinOffering(on: me, depth: depth, a, b, c, d, e, f)
    }

    @inlinable
    @inline(never)
    func _joinAsOutsider<A, B: Sendable, C: Sendable, D: Sendable, F: Sendable, G: Sendable, E: Error>(
        _ a: () throws(E) -> A,
        _ b: @Sendable () throws(E) -> B,
        _ c: @Sendable () throws(E) -> C,
        _ d: @Sendable () throws(E) -> D,
        _ e: @Sendable () throws(E) -> F,
        _ f: @Sendable () throws(E) -> G
    ) throws(E) -> (A, B, C, D, F, G) {
        let entry = _enterAsOutsider()
        defer { _exitAsOutsider(entry) }
        return try join(a, b, c, d, e, f)
    }

    @inlinable
    @inline(never)
    static func _joinOffering<A, B: Sendable, C: Sendable, D: Sendable, F: Sendable, G: Sendable, E: Error>(
        on me: UnsafeMutablePointer<Participant>, depth: Int,
        _ a: () throws(E) -> A,
        _ b: @Sendable () throws(E) -> B,
        _ c: @Sendable () throws(E) -> C,
        _ d: @Sendable () throws(E) -> D,
        _ e: @Sendable () throws(E) -> F,
        _ f: @Sendable () throws(E) -> G
    ) throws(E) -> (A, B, C, D, F, G) {
        var slots: (Result<B, E>?, Result<C, E>?, Result<D, E>?, Result<F, E>?, Result<G, E>?) = (nil, nil, nil, nil, nil)
        // Each branch writes only its own slot (through a pointer, so nothing is boxed); a thief's
        // releasing exchange on its job's `done`
        // (read acquiring when the owner collects the job) publishes the write.
        let ra: Result<A, E> = withUnsafeMutablePointer(to: &slots) { results in
            withoutActuallyEscaping({ (k: Int) in
                switch k {
                case 0: results.pointee.0 = Result(catching: b)
                case 1: results.pointee.1 = Result(catching: c)
                case 2: results.pointee.2 = Result(catching: d)
                case 3: results.pointee.3 = Result(catching: e)
                default: results.pointee.4 = Result(catching: f)
                }
            }, do: { runBranch in
                withUnsafePointer(to: runBranch) { run in
                    _offerBranches(on: me, depth: depth, count: 5, run: run, a)
                }
            })
        }
        return (try ra.get(), try slots.0.unsafelyUnwrapped.get(), try slots.1.unsafelyUnwrapped.get(), try slots.2.unsafelyUnwrapped.get(), try slots.3.unsafelyUnwrapped.get(), try slots.4.unsafelyUnwrapped.get())
    }

    /// Runs 7 closures, potentially in parallel, and returns all results; as the binary `join`:
    /// the first runs on the calling thread, the others are offered to other threads.
    ///
    /// ```swift
    /// let (p0, p1, p2, p3, p4, p5, p6) = pool.join({ part(0) }, { part(1) }, { part(2) }, { part(3) }, { part(4) }, { part(5) }, { part(6) })
    /// ```
    /// - Throws: the first error in argument order, after every closure has finished.
    @inlinable
    @inline(__always)
    public func join<A, B: Sendable, C: Sendable, D: Sendable, F: Sendable, G: Sendable, H: Sendable, E: Error>(
        _ a: () throws(E) -> A,
        _ b: @Sendable () throws(E) -> B,
        _ c: @Sendable () throws(E) -> C,
        _ d: @Sendable () throws(E) -> D,
        _ e: @Sendable () throws(E) -> F,
        _ f: @Sendable () throws(E) -> G,
        _ g: @Sendable () throws(E) -> H
    ) throws(E) -> (A, B, C, D, F, G, H) {
        guard let me = Participant.current(in: registryID) else {
            return try _joinAsOutsider(a, b, c, d, e, f, g)
        }
        // Relaxed: the flag carries no data (set by the heartbeat thread).
        if _slowPath(me.pointee.heartbeat.load(ordering: .relaxed)) {
            ThreadPool._promotePendingJob(on: me)
        }
        let depth = me.pointee.joinDepth
        if _fastPath(depth > me.pointee.offerDepthLimit) {
            me.pointee.joinDepth = depth &+ 1
                let ra = Result(catching: a)
                let rb = Result(catching: b)
                let rc = Result(catching: c)
                let rd = Result(catching: d)
                let re = Result(catching: e)
                let rf = Result(catching: f)
                let rg = Result(catching: g)
            me.pointee.joinDepth = depth
            return (try ra.get(), try rb.get(), try rc.get(), try rd.get(), try re.get(), try rf.get(), try rg.get())
        }
        return try ThreadPool._joinOffering(on: me, depth: depth, a, b, c, d, e, f, g)
    }

    @inlinable
    @inline(never)
    func _joinAsOutsider<A, B: Sendable, C: Sendable, D: Sendable, F: Sendable, G: Sendable, H: Sendable, E: Error>(
        _ a: () throws(E) -> A,
        _ b: @Sendable () throws(E) -> B,
        _ c: @Sendable () throws(E) -> C,
        _ d: @Sendable () throws(E) -> D,
        _ e: @Sendable () throws(E) -> F,
        _ f: @Sendable () throws(E) -> G,
        _ g: @Sendable () throws(E) -> H
    ) throws(E) -> (A, B, C, D, F, G, H) {
        let entry = _enterAsOutsider()
        defer { _exitAsOutsider(entry) }
        return try join(a, b, c, d, e, f, g)
    }

    @inlinable
    @inline(never)
    static func _joinOffering<A, B: Sendable, C: Sendable, D: Sendable, F: Sendable, G: Sendable, H: Sendable, E: Error>(
        on me: UnsafeMutablePointer<Participant>, depth: Int,
        _ a: () throws(E) -> A,
        _ b: @Sendable () throws(E) -> B,
        _ c: @Sendable () throws(E) -> C,
        _ d: @Sendable () throws(E) -> D,
        _ e: @Sendable () throws(E) -> F,
        _ f: @Sendable () throws(E) -> G,
        _ g: @Sendable () throws(E) -> H
    ) throws(E) -> (A, B, C, D, F, G, H) {
        var slots: (Result<B, E>?, Result<C, E>?, Result<D, E>?, Result<F, E>?, Result<G, E>?, Result<H, E>?) = (nil, nil, nil, nil, nil, nil)
        // Each branch writes only its own slot (through a pointer, so nothing is boxed); a thief's
        // releasing exchange on its job's `done`
        // (read acquiring when the owner collects the job) publishes the write.
        let ra: Result<A, E> = withUnsafeMutablePointer(to: &slots) { results in
            withoutActuallyEscaping({ (k: Int) in
                switch k {
                case 0: results.pointee.0 = Result(catching: b)
                case 1: results.pointee.1 = Result(catching: c)
                case 2: results.pointee.2 = Result(catching: d)
                case 3: results.pointee.3 = Result(catching: e)
                case 4: results.pointee.4 = Result(catching: f)
                default: results.pointee.5 = Result(catching: g)
                }
            }, do: { runBranch in
                withUnsafePointer(to: runBranch) { run in
                    _offerBranches(on: me, depth: depth, count: 6, run: run, a)
                }
            })
        }
        return (try ra.get(), try slots.0.unsafelyUnwrapped.get(), try slots.1.unsafelyUnwrapped.get(), try slots.2.unsafelyUnwrapped.get(), try slots.3.unsafelyUnwrapped.get(), try slots.4.unsafelyUnwrapped.get(), try slots.5.unsafelyUnwrapped.get())
    }

    /// Runs 8 closures, potentially in parallel, and returns all results; as the binary `join`:
    /// the first runs on the calling thread, the others are offered to other threads.
    ///
    /// ```swift
    /// let (p0, p1, p2, p3, p4, p5, p6, p7) = pool.join({ part(0) }, { part(1) }, { part(2) }, { part(3) }, { part(4) }, { part(5) }, { part(6) }, { part(7) })
    /// ```
    /// - Throws: the first error in argument order, after every closure has finished.
    @inlinable
    @inline(__always)
    public func join<A, B: Sendable, C: Sendable, D: Sendable, F: Sendable, G: Sendable, H: Sendable, I: Sendable, E: Error>(
        _ a: () throws(E) -> A,
        _ b: @Sendable () throws(E) -> B,
        _ c: @Sendable () throws(E) -> C,
        _ d: @Sendable () throws(E) -> D,
        _ e: @Sendable () throws(E) -> F,
        _ f: @Sendable () throws(E) -> G,
        _ g: @Sendable () throws(E) -> H,
        _ h: @Sendable () throws(E) -> I
    ) throws(E) -> (A, B, C, D, F, G, H, I) {
        guard let me = Participant.current(in: registryID) else {
            return try _joinAsOutsider(a, b, c, d, e, f, g, h)
        }
        // Relaxed: the flag carries no data (set by the heartbeat thread).
        if _slowPath(me.pointee.heartbeat.load(ordering: .relaxed)) {
            ThreadPool._promotePendingJob(on: me)
        }
        let depth = me.pointee.joinDepth
        if _fastPath(depth > me.pointee.offerDepthLimit) {
            me.pointee.joinDepth = depth &+ 1
                let ra = Result(catching: a)
                let rb = Result(catching: b)
                let rc = Result(catching: c)
                let rd = Result(catching: d)
                let re = Result(catching: e)
                let rf = Result(catching: f)
                let rg = Result(catching: g)
                let rh = Result(catching: h)
            me.pointee.joinDepth = depth
            return (try ra.get(), try rb.get(), try rc.get(), try rd.get(), try re.get(), try rf.get(), try rg.get(), try rh.get())
        }
        return try ThreadPool._joinOffering(on: me, depth: depth, a, b, c, d, e, f, g, h)
    }

    @inlinable
    @inline(never)
    func _joinAsOutsider<A, B: Sendable, C: Sendable, D: Sendable, F: Sendable, G: Sendable, H: Sendable, I: Sendable, E: Error>(
        _ a: () throws(E) -> A,
        _ b: @Sendable () throws(E) -> B,
        _ c: @Sendable () throws(E) -> C,
        _ d: @Sendable () throws(E) -> D,
        _ e: @Sendable () throws(E) -> F,
        _ f: @Sendable () throws(E) -> G,
        _ g: @Sendable () throws(E) -> H,
        _ h: @Sendable () throws(E) -> I
    ) throws(E) -> (A, B, C, D, F, G, H, I) {
        let entry = _enterAsOutsider()
        defer { _exitAsOutsider(entry) }
        return try join(a, b, c, d, e, f, g, h)
    }

    @inlinable
    @inline(never)
    static func _joinOffering<A, B: Sendable, C: Sendable, D: Sendable, F: Sendable, G: Sendable, H: Sendable, I: Sendable, E: Error>(
        on me: UnsafeMutablePointer<Participant>, depth: Int,
        _ a: () throws(E) -> A,
        _ b: @Sendable () throws(E) -> B,
        _ c: @Sendable () throws(E) -> C,
        _ d: @Sendable () throws(E) -> D,
        _ e: @Sendable () throws(E) -> F,
        _ f: @Sendable () throws(E) -> G,
        _ g: @Sendable () throws(E) -> H,
        _ h: @Sendable () throws(E) -> I
    ) throws(E) -> (A, B, C, D, F, G, H, I) {
        var slots: (Result<B, E>?, Result<C, E>?, Result<D, E>?, Result<F, E>?, Result<G, E>?, Result<H, E>?, Result<I, E>?) = (nil, nil, nil, nil, nil, nil, nil)
        // Each branch writes only its own slot (through a pointer, so nothing is boxed); a thief's
        // releasing exchange on its job's `done`
        // (read acquiring when the owner collects the job) publishes the write.
        let ra: Result<A, E> = withUnsafeMutablePointer(to: &slots) { results in
            withoutActuallyEscaping({ (k: Int) in
                switch k {
                case 0: results.pointee.0 = Result(catching: b)
                case 1: results.pointee.1 = Result(catching: c)
                case 2: results.pointee.2 = Result(catching: d)
                case 3: results.pointee.3 = Result(catching: e)
                case 4: results.pointee.4 = Result(catching: f)
                case 5: results.pointee.5 = Result(catching: g)
                default: results.pointee.6 = Result(catching: h)
                }
            }, do: { runBranch in
                withUnsafePointer(to: runBranch) { run in
                    _offerBranches(on: me, depth: depth, count: 7, run: run, a)
                }
            })
        }
        return (try ra.get(), try slots.0.unsafelyUnwrapped.get(), try slots.1.unsafelyUnwrapped.get(), try slots.2.unsafelyUnwrapped.get(), try slots.3.unsafelyUnwrapped.get(), try slots.4.unsafelyUnwrapped.get(), try slots.5.unsafelyUnwrapped.get(), try slots.6.unsafelyUnwrapped.get())
    }

    /// Offers branches `0..<count` as stack jobs, runs `a`, then runs or collects every branch.
    @inlinable
    @inline(__always)  // so that `count` is a constant and the temporary allocations live on the stack
    static func _offerBranches<A, E: Error>(
        on me: UnsafeMutablePointer<Participant>, depth: Int, count: Int,
        run: UnsafePointer<(Int) -> Void>, _ a: () throws(E) -> A
    ) -> Result<A, E> {
        withUnsafeTemporaryAllocation(of: _JoinBranchContext.self, capacity: count) { contexts in
            withUnsafeTemporaryAllocation(of: StackJob.self, capacity: count) { jobs in
                let contextBase = contexts.baseAddress.unsafelyUnwrapped
                let jobBase = jobs.baseAddress.unsafelyUnwrapped
                for k in 0..<count {
                    (contextBase + k).initialize(to: _JoinBranchContext(run: run, index: k))
                    (jobBase + k).initialize(to: StackJob(context: UnsafeMutableRawPointer(contextBase + k),
                                                          runner: _JoinBranchContext.self,
                                                          family: me.pointee.family, owner: me, depth: depth))
                    me.pointee.pushPending(jobBase + k)
                }
                me.pointee.joinDepth = depth &+ 1
                let resultA = Result(catching: a)
                var k = count
                while k > 0 {
                    k -= 1
                    let job = jobBase + k
                    if me.pointee.popPending(job) || _reclaimPromotedJob(job, on: me) {
                        run.pointee(k)
                    }
                    // Otherwise a thief ran branch k; its releasing exchange on `done`, read
                    // acquiring in `_reclaimPromotedJob`, published the result slot.
                }
                me.pointee.joinDepth = depth
                jobBase.deinitialize(count: count)
                contextBase.deinitialize(count: count)
                return resultA
            }
        }
    }

}

/// What a thief needs to run one branch of an N-way join: the type-erased branch runner in the
/// joining frame and the branch's index.
@frozen
public struct _JoinBranchContext: _StackJobRunner {
    @usableFromInline let run: UnsafePointer<(Int) -> Void>
    @usableFromInline let index: Int

    @inlinable
    init(run: UnsafePointer<(Int) -> Void>, index: Int) {
        self.run = run
        self.index = index
    }

    @inlinable
    public static func run(_ context: UnsafeMutableRawPointer) {
        let me = context.assumingMemoryBound(to: Self.self)
        me.pointee.run.pointee(me.pointee.index)
    }
}

/// A first-in, first-out array with an advancing head: O(1) amortised `append` and `removeFirst`,
/// compacted once the consumed prefix is most of the storage. Not synchronised: its owner guards
/// it (`Injector` and `CapacityWaiters` hold it under their locks).
struct FIFOQueue<Element> {
    private var items: [Element] = []
    private var head = 0

    /// How many elements are queued.
    var count: Int { items.count - head }

    mutating func append(_ element: Element) { items.append(element) }

    /// Removes and returns the oldest element, or nil when empty.
    mutating func removeFirst() -> Element? {
        guard head < items.count else { return nil }
        let element = items[head]
        head += 1
        compactIfNeeded()
        return element
    }

    /// Removes and returns the oldest element for which `matches` is true.
    mutating func removeFirst(where matches: (Element) -> Bool) -> Element? {
        guard let index = items[head...].firstIndex(where: matches) else { return nil }
        return items.remove(at: index)
    }

    mutating func removeAll() {
        items.removeAll()
        head = 0
    }

    private mutating func compactIfNeeded() {
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
    }
}
